"""Incidents, their timelines and the per-day id sequence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from tocsin.storage.models import Incident, IncidentSequence, RoleAssignment, Service, TimelineEntry


def next_sequence(session: Session, day: date) -> int:
    """Atomically bump and return the day's counter (an upsert, so two writers never share a number)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(IncidentSequence)
        .values(day=day.isoformat(), last_value=1)
        .on_conflict_do_update(
            index_elements=[IncidentSequence.day],
            set_={"last_value": IncidentSequence.last_value + 1},
        )
        .returning(IncidentSequence.last_value)
    )
    value = session.execute(statement).scalar_one()
    return int(value)


def _with_details(query: Select[Incident]) -> Select[Incident]:
    return query.options(
        selectinload(Incident.services),
        selectinload(Incident.roles).selectinload(RoleAssignment.user),
    )


def incident_by_id(session: Session, incident_id: int) -> Incident | None:
    return session.scalar(_with_details(select(Incident).where(Incident.id == incident_id)))


def incident_by_human_id(session: Session, human_id: str) -> Incident | None:
    return session.scalar(_with_details(select(Incident).where(Incident.human_id == human_id)))


@dataclass(frozen=True)
class IncidentFilter:
    statuses: frozenset[str] | None = None
    severity: str | None = None
    service_key: str | None = None
    drill: bool | None = None
    # The web list's filters: words in the title (case-insensitive), declared on or after.
    title_contains: str | None = None
    declared_since: datetime | None = None


def list_incidents(
    session: Session, filters: IncidentFilter, *, limit: int, offset: int
) -> tuple[Sequence[Incident], int]:
    query = select(Incident)
    if filters.statuses:
        query = query.where(Incident.status.in_(filters.statuses))
    if filters.severity:
        query = query.where(Incident.severity == filters.severity)
    if filters.drill is not None:
        query = query.where(Incident.drill.is_(filters.drill))
    if filters.service_key:
        query = query.where(Incident.services.any(Service.key == filters.service_key))
    if filters.title_contains:
        pattern = filters.title_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Incident.title.ilike(f"%{pattern}%", escape="\\"))
    if filters.declared_since is not None:
        query = query.where(Incident.declared_at >= filters.declared_since)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        _with_details(query.order_by(Incident.declared_at.desc(), Incident.id.desc()).limit(limit).offset(offset))
    ).all()
    return rows, total


def timeline(session: Session, incident_id: int) -> Sequence[TimelineEntry]:
    return session.scalars(
        select(TimelineEntry)
        .where(TimelineEntry.incident_id == incident_id)
        .order_by(TimelineEntry.at, TimelineEntry.id)
    ).all()


def current_role_holder(session: Session, incident_id: int, role_key: str) -> RoleAssignment | None:
    return session.scalar(
        select(RoleAssignment).where(
            RoleAssignment.incident_id == incident_id,
            RoleAssignment.role_key == role_key,
            RoleAssignment.released_at.is_(None),
        )
    )
