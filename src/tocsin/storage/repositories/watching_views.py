"""Read queries of the watching pages (web/watching.py, web/changes.py): checks, heartbeats,
crash groups and changes a page at a time, and the aggregates their charts draw.

Uptime is summed in SQL (per check over a day, or over the last 24 hours) from the hourly
rollups, so a 90-day bar chart reads 90 rows and a page of 50 checks one grouped query.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, joinedload

from tocsin.storage.models import (
    Change,
    Check,
    CheckResult,
    CheckRollup,
    CrashEvent,
    CrashGroup,
    CrashSession,
    Heartbeat,
    HeartbeatPing,
    Integration,
    Service,
)


def _utc_day(session: Session, column: Any) -> ColumnElement[str]:
    """A UTC timestamp column's day as 'YYYY-MM-DD'."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    # SQLite keeps UTC as text, 'YYYY-MM-DD HH:MM:SS…' (storage.types.UTCDateTime).
    return func.substr(column, 1, 10)


def service_keys(session: Session) -> list[tuple[str, str]]:
    """(key, name) of the services that are not archived, for the filters."""
    query = select(Service.key, Service.name).where(Service.archived_at.is_(None)).order_by(Service.key)
    return [(key, name) for key, name in session.execute(query).all()]


def service_id(session: Session, key: str) -> int | None:
    return session.scalar(select(Service.id).where(Service.key == key))


# ---- checks ----------------------------------------------------------------------------------


def checks(
    session: Session,
    *,
    status: str | None,
    service_id: int | None,
    kind: str | None,
    limit: int,
    offset: int,
) -> Sequence[Check]:
    query = select(Check).options(joinedload(Check.service)).order_by(Check.name)
    if status:
        query = query.where(Check.status == status)
    if service_id is not None:
        query = query.where(Check.service_id == service_id)
    if kind:
        query = query.where(Check.kind == kind)
    return session.scalars(query.limit(limit).offset(offset)).all()


def uptime_since(session: Session, check_ids: Iterable[int], since: datetime) -> dict[int, tuple[int, int]]:
    """(up, counted) per check over the rollups of the hours from `since` on."""
    ids = list(check_ids)
    if not ids:
        return {}
    query = (
        select(CheckRollup.check_id, func.sum(CheckRollup.up), func.sum(CheckRollup.count))
        .where(CheckRollup.check_id.in_(ids), CheckRollup.hour >= since)
        .group_by(CheckRollup.check_id)
    )
    return {check_id: (int(up or 0), int(count or 0)) for check_id, up, count in session.execute(query).all()}


def uptime_by_day(session: Session, check_id: int, since: datetime) -> dict[date, tuple[int, int]]:
    """(up, counted) per UTC day, from the rollups of the hours from `since` on."""
    day = _utc_day(session, CheckRollup.hour)
    query = (
        select(day, func.sum(CheckRollup.up), func.sum(CheckRollup.count))
        .where(CheckRollup.check_id == check_id, CheckRollup.hour >= since)
        .group_by(day)
    )
    return {date.fromisoformat(d): (int(up or 0), int(count or 0)) for d, up, count in session.execute(query).all()}


def rollups_between(session: Session, check_id: int, since: datetime, until: datetime) -> Sequence[Any]:
    """(hour, count, histogram, max_ms) of one check's hours, oldest first: at most 2,160 small rows."""
    query = (
        select(CheckRollup.hour, CheckRollup.count, CheckRollup.histogram, CheckRollup.max_ms)
        .where(CheckRollup.check_id == check_id, CheckRollup.hour >= since, CheckRollup.hour < until)
        .order_by(CheckRollup.hour)
    )
    return session.execute(query).all()


def results_between(session: Session, check_id: int, since: datetime, until: datetime, limit: int) -> Sequence[Any]:
    """(at, up, response_ms) of one check's raw results, oldest first."""
    query = (
        select(CheckResult.at, CheckResult.up, CheckResult.response_ms)
        .where(CheckResult.check_id == check_id, CheckResult.at >= since, CheckResult.at < until)
        .order_by(CheckResult.at)
        .limit(limit)
    )
    return session.execute(query).all()


def results(session: Session, check_id: int, limit: int, offset: int) -> Sequence[CheckResult]:
    query = (
        select(CheckResult)
        .where(CheckResult.check_id == check_id)
        .order_by(CheckResult.at.desc(), CheckResult.id.desc())
    )
    return session.scalars(query.limit(limit).offset(offset)).all()


# ---- heartbeats ------------------------------------------------------------------------------


def heartbeats(
    session: Session, *, status: str | None, service_id: int | None, limit: int, offset: int
) -> Sequence[Heartbeat]:
    query = select(Heartbeat).options(joinedload(Heartbeat.service)).order_by(Heartbeat.name)
    if status:
        query = query.where(Heartbeat.status == status)
    if service_id is not None:
        query = query.where(Heartbeat.service_id == service_id)
    return session.scalars(query.limit(limit).offset(offset)).all()


def pings(session: Session, heartbeat_id: int, limit: int, offset: int) -> Sequence[HeartbeatPing]:
    query = select(HeartbeatPing).where(HeartbeatPing.heartbeat_id == heartbeat_id).order_by(HeartbeatPing.n.desc())
    return session.scalars(query.limit(limit).offset(offset)).all()


def run_times(session: Session, heartbeat_id: int, limit: int) -> list[tuple[datetime, int]]:
    """(finished at, duration ms) of the newest paired runs, oldest first."""
    query = (
        select(HeartbeatPing.at, HeartbeatPing.duration_ms)
        .where(HeartbeatPing.heartbeat_id == heartbeat_id, HeartbeatPing.duration_ms.is_not(None))
        .order_by(HeartbeatPing.n.desc())
        .limit(limit)
    )
    return [(at, int(ms or 0)) for at, ms in reversed(session.execute(query).all())]


# ---- crash groups ----------------------------------------------------------------------------


def crash_projects(session: Session) -> list[tuple[int, str, str]]:
    """(id, name, service key) of the Sentry projects, for the filter."""
    query = (
        select(Integration.id, Integration.name, Service.key)
        .join(Service, Service.id == Integration.service_id)
        .where(Integration.kind == "sentry")
        .order_by(Service.key, Integration.name)
    )
    return [(int(i), str(n), str(k)) for i, n, k in session.execute(query).all()]


def crash_groups(
    session: Session,
    *,
    status: str | None,
    project: int | None,
    service_id: int | None,
    limit: int,
    offset: int,
) -> Sequence[Any]:
    """(group, service key) newest seen first."""
    query = (
        select(CrashGroup, Service.key)
        .join(Service, Service.id == CrashGroup.service_id)
        .order_by(CrashGroup.last_seen.desc(), CrashGroup.id.desc())
    )
    if status:
        query = query.where(CrashGroup.status == status)
    if project is not None:
        query = query.where(CrashGroup.integration_id == project)
    if service_id is not None:
        query = query.where(CrashGroup.service_id == service_id)
    return session.execute(query.limit(limit).offset(offset)).all()


def sample_event(session: Session, group: CrashGroup) -> CrashEvent | None:
    """The newest event of the group that kept its payload (the stack trace)."""
    query = (
        select(CrashEvent)
        .where(CrashEvent.group_id == group.id, CrashEvent.payload.is_not(None))
        .order_by(CrashEvent.id.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def release_health(session: Session, since: datetime, project: int | None, limit: int, offset: int) -> Sequence[Any]:
    """Per (project, release, environment): sessions, crashed, errored, last hour seen; newest first."""
    table = CrashSession
    query = (
        select(
            table.integration_id,
            Service.key,
            table.release,
            table.environment,
            func.sum(table.total),
            func.sum(table.errored),
            func.sum(table.crashed),
            func.sum(table.abnormal),
            func.max(table.hour),
        )
        .join(Integration, Integration.id == table.integration_id)
        .join(Service, Service.id == Integration.service_id)
        .where(table.hour >= since)
        .group_by(table.integration_id, Service.key, table.release, table.environment)
        .order_by(func.max(table.hour).desc(), table.release)
    )
    if project is not None:
        query = query.where(table.integration_id == project)
    return session.execute(query.limit(limit).offset(offset)).all()


# ---- changes ---------------------------------------------------------------------------------


def changes(
    session: Session,
    *,
    service_id: int | None,
    environment: str | None,
    status: str | None,
    since: datetime | None,
    limit: int,
    offset: int,
) -> Sequence[Any]:
    """(change, service key or None) newest first."""
    query = (
        select(Change, Service.key)
        .outerjoin(Service, Service.id == Change.service_id)
        .order_by(Change.occurred_at.desc(), Change.id.desc())
    )
    if service_id is not None:
        query = query.where(Change.service_id == service_id)
    if environment:
        query = query.where(Change.environment == environment)
    if status:
        query = query.where(Change.status == status)
    if since is not None:
        query = query.where(Change.occurred_at >= since)
    return session.execute(query.limit(limit).offset(offset)).all()
