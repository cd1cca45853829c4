"""Read queries for the responders' incident pages and dashboard.

Each one is bounded (a limit, or an aggregate) and seeks on an index: the pages must
stay fast with ten thousand incidents and a storm's worth of alerts on one of them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, Date, and_, cast, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session, joinedload, selectinload

from tocsin.storage.models import Alert, Incident, RoleAssignment, Service, TimelineEntry

# Every status a row can hold: `status IN (all of them)` lets a query on declared_at alone
# seek on ix_incidents_status_declared, whose first column is the status.
ALL_STATUSES = (
    "triggered",
    "acknowledged",
    "investigating",
    "identified",
    "mitigating",
    "monitoring",
    "resolved",
    "canceled",
)


def open_incidents(session: Session, open_statuses: Collection[str], limit: int) -> Sequence[Incident]:
    """Newest first; the caller orders them by severity."""
    return session.scalars(
        select(Incident)
        .options(selectinload(Incident.services))
        .where(Incident.status.in_(open_statuses))
        .order_by(Incident.declared_at.desc(), Incident.id.desc())
        .limit(limit)
    ).all()


def count_in(session: Session, statuses: Collection[str]) -> int:
    return session.scalar(select(func.count()).select_from(Incident).where(Incident.status.in_(statuses))) or 0


def last_updates(session: Session, incident_ids: Collection[int]) -> dict[int, datetime]:
    """When each incident last had an update posted (one aggregate query for a page)."""
    if not incident_ids:
        return {}
    rows = session.execute(
        select(TimelineEntry.incident_id, func.max(TimelineEntry.at))
        .where(TimelineEntry.incident_id.in_(incident_ids), TimelineEntry.kind == "update")
        .group_by(TimelineEntry.incident_id)
    ).all()
    return {incident_id: at for incident_id, at in rows if at is not None}


def role_history(session: Session, incident_id: int) -> Sequence[RoleAssignment]:
    """Every assignment, current and handed over, oldest first."""
    return session.scalars(
        select(RoleAssignment)
        .options(joinedload(RoleAssignment.user))
        .where(RoleAssignment.incident_id == incident_id)
        .order_by(RoleAssignment.assigned_at, RoleAssignment.id)
    ).all()


def timeline_page(
    session: Session, incident_id: int, *, limit: int, before_id: int | None = None
) -> tuple[Sequence[TimelineEntry], bool]:
    """Newest first, `limit` entries older than `before_id` (or the newest); and whether
    older ones remain. A keyset on (at, id), the order of ix_timeline_incident_at."""
    query = select(TimelineEntry).where(TimelineEntry.incident_id == incident_id)
    if before_id is not None:
        anchor = session.execute(
            select(TimelineEntry.at, TimelineEntry.id).where(
                TimelineEntry.id == before_id, TimelineEntry.incident_id == incident_id
            )
        ).one_or_none()
        if anchor is not None:
            query = query.where(
                or_(
                    TimelineEntry.at < anchor.at,
                    and_(TimelineEntry.at == anchor.at, TimelineEntry.id < anchor.id),
                )
            )
    rows = session.scalars(query.order_by(TimelineEntry.at.desc(), TimelineEntry.id.desc()).limit(limit + 1)).all()
    return rows[:limit], len(rows) > limit


def incident_alerts(session: Session, incident_id: int, limit: int) -> tuple[Sequence[Alert], int]:
    """The incident's most recently seen alerts, and how many it has in all (ix_alerts_incident)."""
    total = session.scalar(select(func.count()).select_from(Alert).where(Alert.incident_id == incident_id)) or 0
    rows = session.scalars(
        select(Alert)
        .options(joinedload(Alert.integration))
        .where(Alert.incident_id == incident_id)
        .order_by(Alert.last_seen.desc(), Alert.id.desc())
        .limit(limit)
    ).all()
    return rows, total


@dataclass(frozen=True)
class DayCount:
    day: date
    severity: str
    count: int


def _utc_day(session: Session, column: InstrumentedAttribute[datetime]) -> ColumnElement[date]:
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    # SQLite keeps UTC as text, "YYYY-MM-DD HH:MM:SS…": the day is its first ten characters.
    return func.substr(column, 1, 10)


def declared_per_day(
    session: Session, since: datetime, *, drill: bool | None = False, service_id: int | None = None
) -> list[DayCount]:
    """How many incidents were declared each UTC day since `since`, by severity: at most a row
    per day and level, counted in the database."""
    day = _utc_day(session, Incident.declared_at).label("day")
    query = (
        select(day, Incident.severity, func.count())
        .where(Incident.status.in_(ALL_STATUSES), Incident.declared_at >= since)
        .group_by(day, Incident.severity)
    )
    if drill is not None:
        query = query.where(Incident.drill.is_(drill))
    if service_id is not None:
        query = query.where(Incident.services.any(Service.id == service_id))
    found: list[DayCount] = []
    for value, severity, count in session.execute(query).all():
        parsed = value if isinstance(value, date) else date.fromisoformat(str(value))
        found.append(DayCount(parsed, severity, int(count)))
    return found
