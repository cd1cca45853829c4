"""Read queries for the service pages: a page of services with their counts in two
aggregate queries, and what one service has, each list bounded."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from tocsin.storage.models import Check, Heartbeat, Incident, IncidentService, Integration, Service


def list_services(session: Session, *, limit: int, offset: int) -> tuple[Sequence[Service], int]:
    query = select(Service).where(Service.archived_at.is_(None))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.options(joinedload(Service.team), joinedload(Service.escalation_policy))
        .order_by(Service.key)
        .limit(limit)
        .offset(offset)
    ).all()
    return rows, total


def open_incident_counts(
    session: Session, service_ids: Collection[int], open_statuses: Collection[str]
) -> dict[int, int]:
    if not service_ids:
        return {}
    rows = session.execute(
        select(IncidentService.service_id, func.count())
        .join(Incident, Incident.id == IncidentService.incident_id)
        .where(IncidentService.service_id.in_(service_ids), Incident.status.in_(open_statuses))
        .group_by(IncidentService.service_id)
    )
    return {service_id: count for service_id, count in rows}


def integration_counts(session: Session, service_ids: Collection[int]) -> dict[int, int]:
    if not service_ids:
        return {}
    rows = session.execute(
        select(Integration.service_id, func.count())
        .where(Integration.service_id.in_(service_ids), Integration.disabled_at.is_(None))
        .group_by(Integration.service_id)
    )
    return {service_id: count for service_id, count in rows}


def service_by_key(session: Session, key: str) -> Service | None:
    return session.scalar(
        select(Service)
        .options(joinedload(Service.team), joinedload(Service.escalation_policy))
        .where(Service.key == key)
    )


def checks_of(session: Session, service_id: int, limit: int) -> Sequence[Check]:
    return session.scalars(select(Check).where(Check.service_id == service_id).order_by(Check.name).limit(limit)).all()


def heartbeats_of(session: Session, service_id: int, limit: int) -> Sequence[Heartbeat]:
    return session.scalars(
        select(Heartbeat).where(Heartbeat.service_id == service_id).order_by(Heartbeat.name).limit(limit)
    ).all()


def integrations_of(session: Session, service_id: int) -> Sequence[Integration]:
    return session.scalars(
        select(Integration).where(Integration.service_id == service_id).order_by(Integration.name, Integration.id)
    ).all()
