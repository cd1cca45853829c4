"""Alerts, integrations, routing rules and maintenance windows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, literal_column, select, tuple_
from sqlalchemy.orm import Session, joinedload

from tocsin.storage.models import Alert, Incident, Integration, MaintenanceWindow, RoutingRule, Service


def integration_by_key_hash(session: Session, key_hash: str) -> Integration | None:
    return session.scalar(
        select(Integration).options(joinedload(Integration.service)).where(Integration.key_hash == key_hash)
    )


def list_integrations(session: Session, service_id: int | None = None) -> Sequence[Integration]:
    query = select(Integration).options(joinedload(Integration.service)).order_by(Integration.id)
    if service_id is not None:
        query = query.where(Integration.service_id == service_id)
    return session.scalars(query).all()


# Written as a literal, not a bound parameter, so SQLite can use the partial
# unique index `WHERE status = 'firing'`.
FIRING: ColumnElement[str] = literal_column("'firing'")


def firing_alerts(session: Session, keys: Iterable[tuple[int, str]]) -> list[Alert]:
    """The firing alerts for a batch of (integration id, dedup key) pairs, in chunks."""
    pairs = list(keys)
    found: list[Alert] = []
    for start in range(0, len(pairs), 500):
        chunk = pairs[start : start + 500]
        found.extend(
            session.scalars(
                select(Alert).where(tuple_(Alert.integration_id, Alert.dedup_key).in_(chunk), Alert.status == FIRING)
            )
        )
    return found


def rules_for(session: Session, service_id: int) -> Sequence[RoutingRule]:
    return session.scalars(
        select(RoutingRule)
        .options(joinedload(RoutingRule.route_to))
        .where(RoutingRule.service_id == service_id)
        .order_by(RoutingRule.position, RoutingRule.id)
    ).all()


@dataclass(frozen=True)
class ActiveWindow:
    name: str
    starts_at: datetime
    ends_at: datetime
    matchers: list[str]
    service_key: str | None


def active_windows(session: Session, now: datetime) -> list[ActiveWindow]:
    """Plain rows, not ORM objects: asked once per ingest batch, and usually empty."""
    rows = session.execute(
        select(
            MaintenanceWindow.name,
            MaintenanceWindow.starts_at,
            MaintenanceWindow.ends_at,
            MaintenanceWindow.matchers,
            Service.key,
        )
        .outerjoin(Service, Service.id == MaintenanceWindow.service_id)
        .where(MaintenanceWindow.starts_at <= now, MaintenanceWindow.ends_at > now)
        .order_by(MaintenanceWindow.id)
    )
    return [ActiveWindow(*row) for row in rows]


def open_incident_for_group(
    session: Session, service_id: int, group_key: str, open_statuses: frozenset[str]
) -> int | None:
    """The open incident that alerts of this service and group key already joined."""
    return session.scalar(
        select(Alert.incident_id)
        .join(Incident, Incident.id == Alert.incident_id)
        .where(Alert.service_id == service_id, Alert.group_key == group_key, Incident.status.in_(open_statuses))
        .order_by(Alert.last_seen.desc())
        .limit(1)
    )


def recent_open_incident(
    session: Session, service_id: int, since: datetime, open_statuses: frozenset[str]
) -> int | None:
    """An open incident of this service whose alerts were active since `since`.

    Asked per open incident (there are few) with an index seek on
    (incident_id, last_seen), not by scanning the service's alerts, which in a
    storm are many."""
    recent = (
        select(Alert.id)
        .where(Alert.incident_id == Incident.id, Alert.service_id == service_id, Alert.last_seen >= since)
        .exists()
    )
    return session.scalar(
        select(Incident.id)
        .where(Incident.status.in_(open_statuses), recent)
        .order_by(Incident.declared_at.desc(), Incident.id.desc())
        .limit(1)
    )


def firing_count_for_incident(session: Session, incident_id: int) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(Alert).where(Alert.incident_id == incident_id, Alert.status == FIRING)
        )
        or 0
    )


def alerts_for_incident(session: Session, incident_id: int) -> Sequence[Alert]:
    return session.scalars(select(Alert).where(Alert.incident_id == incident_id).order_by(Alert.id)).all()


def list_alerts(
    session: Session, *, status: str | None, service_id: int | None, limit: int, offset: int
) -> tuple[Sequence[Alert], int]:
    query = select(Alert)
    if status:
        query = query.where(Alert.status == status)
    if service_id is not None:
        query = query.where(Alert.service_id == service_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.options(joinedload(Alert.service), joinedload(Alert.integration))
        .order_by(Alert.last_seen.desc(), Alert.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return rows, total


def alert_by_id(session: Session, alert_id: int) -> Alert | None:
    return session.scalar(
        select(Alert).options(joinedload(Alert.service), joinedload(Alert.integration)).where(Alert.id == alert_id)
    )


def service_by_id(session: Session, service_id: int) -> Service | None:
    return session.get(Service, service_id)


def list_windows(session: Session, *, current_at: datetime | None = None) -> Sequence[MaintenanceWindow]:
    query = (
        select(MaintenanceWindow)
        .options(joinedload(MaintenanceWindow.service))
        .order_by(MaintenanceWindow.starts_at.desc(), MaintenanceWindow.id.desc())
    )
    if current_at is not None:
        query = query.where(MaintenanceWindow.ends_at > current_at)
    return session.scalars(query).all()


def managed_rules(session: Session) -> Sequence[RoutingRule]:
    """The rules `tocsin apply` owns, of every service, each service's in evaluation order."""
    return session.scalars(
        select(RoutingRule)
        .options(joinedload(RoutingRule.route_to))
        .where(RoutingRule.managed.is_(True))
        .order_by(RoutingRule.service_id, RoutingRule.position, RoutingRule.id)
    ).all()
