"""Alerts, integrations, routing rules and maintenance windows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Connection, Integer, Table, bindparam, func, literal_column, select, text, update
from sqlalchemy.orm import Session, joinedload

from tocsin.storage.bulk import BulkInsert
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


# The table itself, for bulk statements that skip the ORM's per-object work.
_ALERTS = cast(Table, Alert.__table__)

# Written as a literal, not a bound parameter, so SQLite can use the partial
# unique index `WHERE status = 'firing'`.
FIRING: ColumnElement[str] = literal_column("'firing'")


@dataclass(frozen=True)
class FiringRow:
    """What ingestion needs of a firing alert: plain values, not an ORM object,
    because a storm of repeats must cost a tuple each, not a tracked instance."""

    id: int
    integration_id: int
    dedup_key: str
    incident_id: int | None
    incident_human_id: str | None
    summary: str
    labels: dict[str, str]
    suppressed_by: str | None


def firing_alerts(session: Session, keys: Iterable[tuple[int, str]]) -> list[FiringRow]:
    """The firing alerts for a batch of (integration id, dedup key) pairs.

    Asked per integration as `integration_id = ? AND dedup_key IN (…)`: SQLite
    seeks the partial unique index that way, while a row-value
    `(integration_id, dedup_key) IN (…)` made it scan every firing alert."""
    by_integration: dict[int, list[str]] = {}
    for integration_id, dedup_key in keys:
        by_integration.setdefault(integration_id, []).append(dedup_key)
    found: list[FiringRow] = []
    connection = session.connection()  # Core statements: the ORM's execute path costs more than the query
    for integration_id, dedup_keys in by_integration.items():
        for start in range(0, len(dedup_keys), 500):
            rows = connection.execute(
                _FIRING, {"integration_id": integration_id, "keys": dedup_keys[start : start + 500]}
            )
            found.extend(FiringRow(*row) for row in rows)
    return found


# Built once: under a storm, building the statement per batch cost more than running it.
_FIRING = (
    select(
        Alert.id,
        Alert.integration_id,
        Alert.dedup_key,
        Alert.incident_id,
        Incident.human_id,
        Alert.summary,
        Alert.labels,
        Alert.suppressed_by,
    )
    .outerjoin(Incident, Incident.id == Alert.incident_id)
    .where(
        Alert.integration_id == bindparam("integration_id"),
        Alert.dedup_key.in_(bindparam("keys", expanding=True)),
        Alert.status == FIRING,
    )
)


def insert_alerts(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert new alerts (rows without an id); their ids, in the rows' order.

    The writer is one thread whose time is the limit: half of it went to
    SQLAlchemy's per-row parameter work (storage.bulk), and on PostgreSQL the
    rest mostly to round trips, so the ids come back with the insert itself."""
    if not rows:
        return []
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        return [int(ident) for ident in _bulk(connection, rows[0], returning="id").execute_returning(connection, rows)]
    # SQLite: every write transaction starts with BEGIN IMMEDIATE (storage.db), so
    # this transaction holds the database's only write lock and nobody else can
    # take these ids; SQLite itself would allocate max(rowid) + 1 the same way.
    top = connection.execute(_MAX_ID).scalar() or 0
    ids = list(range(top + 1, top + 1 + len(rows)))
    for row, ident in zip(rows, ids, strict=True):
        row["id"] = ident  # the caller's rows, numbered in place: a storm's rows are not copied
    _bulk(connection, rows[0]).execute(connection, rows)
    return ids


def _bulk(connection: Connection, row: dict[str, Any], returning: str | None = None) -> BulkInsert:
    shape = (connection.dialect.name, tuple(row), returning)
    bulk = _BULK.get(shape)
    if bulk is None:
        bulk = _BULK[shape] = BulkInsert(_ALERTS, shape[1], connection, returning=returning)
    return bulk


_MAX_ID = select(func.coalesce(func.max(Alert.id), 0))
_BULK: dict[tuple[str, tuple[str, ...], str | None], BulkInsert] = {}


def refresh_statistics(session: Session) -> None:
    """PostgreSQL: gather the planner's statistics of the tables a storm fills.

    A new install's statistics say those tables are empty, and plans made from
    them (prepared statements keep theirs) scan where they should seek: the
    lookup of a batch's firing alerts went over every firing alert, 10 ms a batch
    after 16,000 and growing, until autovacuum's first ANALYZE a minute or more
    later. ANALYZE samples at most 30,000 rows a table, so it costs the same
    whatever their size, and takes no lock that writers wait for."""
    if session.connection().dialect.name == "postgresql":
        session.execute(text("ANALYZE alerts, timeline_entries"))


@dataclass(frozen=True)
class IncidentState:
    id: int
    human_id: str
    status: str


def incident_state(session: Session, incident_id: int) -> IncidentState | None:
    """An incident's id, human id and status: what ingestion checks of the incident an
    earlier batch joined, without loading (and later flushing) the ORM object."""
    row = session.connection().execute(_INCIDENT_STATE, {"incident_id": incident_id}).first()
    return IncidentState(incident_id, row[0], row[1]) if row is not None else None


_INCIDENTS = cast(Table, Incident.__table__)
_INCIDENT_STATE = select(_INCIDENTS.c.human_id, _INCIDENTS.c.status).where(_INCIDENTS.c.id == bindparam("incident_id"))


_COUNT_REPEATS = (
    update(_ALERTS)
    .where(_ALERTS.c.id == bindparam("alert_id"))
    .values(
        count=_ALERTS.c.count + bindparam("times", type_=Integer()),
        last_seen=bindparam("seen", type_=_ALERTS.c.last_seen.type),
    )
)


@dataclass(frozen=True)
class Repeat:
    id: int
    times: int
    last_seen: datetime
    summary: str | None  # a changed summary, else None
    labels: dict[str, str] | None  # changed labels, else None


def record_repeats(session: Session, repeats: Sequence[Repeat]) -> None:
    """Count repeats of firing alerts: one executemany per shape of change."""
    plain = [
        {"alert_id": r.id, "times": r.times, "seen": r.last_seen}
        for r in repeats
        if r.summary is None and r.labels is None
    ]
    if plain:
        session.connection().execute(_COUNT_REPEATS, plain)
    for r in repeats:
        if r.summary is None and r.labels is None:
            continue
        changes: dict[str, Any] = {"count": Alert.count + r.times, "last_seen": r.last_seen}
        if r.summary is not None:
            changes["summary"] = r.summary
        if r.labels is not None:
            changes["labels"] = r.labels
        session.execute(
            update(Alert).where(Alert.id == r.id).values(**changes).execution_options(synchronize_session=False)
        )


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


def open_incident_for_group(
    session: Session, service_id: int, group_key: str, open_statuses: frozenset[str], *, drill: bool = False
) -> int | None:
    """The open incident that alerts of this service and group key already joined; a drill's
    alerts join only drill incidents, and real alerts only real ones."""
    return session.scalar(
        select(Alert.incident_id)
        .join(Incident, Incident.id == Alert.incident_id)
        .where(
            Alert.service_id == service_id,
            Alert.group_key == group_key,
            Incident.status.in_(open_statuses),
            Incident.drill.is_(drill),
        )
        .order_by(Alert.last_seen.desc())
        .limit(1)
    )


def recent_open_incident(
    session: Session, service_id: int, since: datetime, open_statuses: frozenset[str], *, drill: bool = False
) -> int | None:
    """An open incident of this service whose alerts were active since `since` (a drill
    incident for a drill's alerts, a real one for real alerts).

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
        .where(Incident.status.in_(open_statuses), Incident.drill.is_(drill), recent)
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


@dataclass(frozen=True)
class RuleRow:
    service_id: int
    matchers: list[str]
    severity: str | None
    route_to: str | None  # the target service's key
    drop: bool
    urgency: str | None
    continue_: bool


def all_rules(session: Session) -> list[RuleRow]:
    """Every routing rule, each service's in evaluation order: ingestion reads them all at once."""
    target = Service.__table__.alias("route_to")
    rows = session.execute(
        select(
            RoutingRule.service_id,
            RoutingRule.matchers,
            RoutingRule.severity,
            target.c.key,
            RoutingRule.drop,
            RoutingRule.urgency,
            RoutingRule.continue_,
        )
        .outerjoin(target, target.c.id == RoutingRule.route_to_id)
        .order_by(RoutingRule.service_id, RoutingRule.position, RoutingRule.id)
    )
    return [RuleRow(*row) for row in rows]


def live_services(session: Session) -> list[tuple[int, str]]:
    """(id, key) of every service that is not archived."""
    return [
        (row[0], row[1])
        for row in session.execute(select(Service.id, Service.key).where(Service.archived_at.is_(None)))
    ]


def windows_between(session: Session, start: datetime, end: datetime) -> list[ActiveWindow]:
    """Maintenance windows active at some moment of [start, end)."""
    rows = session.execute(
        select(
            MaintenanceWindow.name,
            MaintenanceWindow.starts_at,
            MaintenanceWindow.ends_at,
            MaintenanceWindow.matchers,
            Service.key,
        )
        .outerjoin(Service, Service.id == MaintenanceWindow.service_id)
        .where(MaintenanceWindow.starts_at < end, MaintenanceWindow.ends_at > start)
        .order_by(MaintenanceWindow.id)
    )
    return [ActiveWindow(*row) for row in rows]


def internal_integration(session: Session, service_id: int, kind: str) -> Integration | None:
    """The service's internal integration of this kind (its heartbeats', its checks')."""
    return session.scalars(
        select(Integration)
        .options(joinedload(Integration.service))
        .where(Integration.service_id == service_id, Integration.kind == kind)
        .order_by(Integration.id)
        .limit(1)
    ).one_or_none()
