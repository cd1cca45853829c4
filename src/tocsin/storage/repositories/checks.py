"""Check rows, their results and rollups, and how schedulers claim the slots that are due.

A scheduler claims a check's next slot by setting `claimed_until` (a lease past
the slot and its timeout) where it is unset or has passed. On PostgreSQL the
due rows are read `FOR UPDATE SKIP LOCKED`, so a second scheduler passes over
them instead of waiting; on SQLite writers take turns anyway (`BEGIN
IMMEDIATE`). Recording a result locks the check rows of the batch, in id order
so two writers cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, joinedload

from tocsin.storage.models import Check, CheckResult, CheckRollup


def _postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def by_name(session: Session, name: str) -> Check | None:
    return session.scalars(select(Check).options(joinedload(Check.service)).where(Check.name == name)).one_or_none()


def list_checks(session: Session, service_id: int | None = None) -> Sequence[Check]:
    query = select(Check).options(joinedload(Check.service)).order_by(Check.name)
    if service_id is not None:
        query = query.where(Check.service_id == service_id)
    return session.scalars(query).all()


def recent_results(session: Session, check_id: int, limit: int) -> Sequence[CheckResult]:
    return session.scalars(
        select(CheckResult)
        .where(CheckResult.check_id == check_id)
        .order_by(CheckResult.at.desc(), CheckResult.id.desc())
        .limit(limit)
    ).all()


def delete_check(session: Session, check: Check) -> None:
    session.execute(delete(CheckResult).where(CheckResult.check_id == check.id))
    session.execute(delete(CheckRollup).where(CheckRollup.check_id == check.id))
    session.delete(check)


def claim_due(
    session: Session, now: datetime, until: datetime, holder: str, lease_for_s: float, limit: int
) -> Sequence[Check]:
    """Claim the unclaimed (or lapsed) slots due up to `until`: each row comes back with
    `claimed_until` set to its slot plus its timeout plus `lease_for_s`."""
    query = (
        select(Check)
        .where(
            Check.next_run_at <= until,
            (Check.claimed_until.is_(None)) | (Check.claimed_until <= now),
        )
        .order_by(Check.next_run_at, Check.id)
        .limit(limit)
    )
    if _postgresql(session):
        query = query.with_for_update(skip_locked=True)
    rows = session.scalars(query).all()
    for row in rows:
        assert row.next_run_at is not None
        row.claimed_until = max(row.next_run_at, now) + timedelta(seconds=row.timeout_s + lease_for_s)
        row.claimed_by = holder
    session.flush()
    return rows


def earliest_due(session: Session, now: datetime) -> datetime | None:
    """The earliest slot no one holds: when a scheduler next has something to claim."""
    return session.scalar(
        select(func.min(Check.next_run_at)).where((Check.claimed_until.is_(None)) | (Check.claimed_until <= now))
    )


def lock_for_results(session: Session, ids: Iterable[int]) -> dict[int, Check]:
    query = select(Check).options(joinedload(Check.service)).where(Check.id.in_(sorted(set(ids)))).order_by(Check.id)
    if _postgresql(session):
        query = query.with_for_update(of=Check)
    return {row.id: row for row in session.scalars(query).unique()}


def add_results(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(CheckResult), rows)


def rollups_for_update(session: Session, keys: set[tuple[int, datetime]]) -> dict[tuple[int, datetime], CheckRollup]:
    """The rollup rows of these (check, hour) pairs, made empty where missing, locked.
    Missing ones are inserted with ON CONFLICT DO NOTHING: two writers of one hour
    (two processes running the same check's slots) both end up adding to one row."""
    if not keys:
        return {}
    dialect = postgresql if _postgresql(session) else sqlite
    values = [
        {"check_id": c, "hour": h, "count": 0, "up": 0, "held": 0, "max_ms": 0, "histogram": []}
        for c, h in sorted(keys)
    ]
    session.execute(dialect.insert(CheckRollup).values(values).on_conflict_do_nothing())
    check_ids = {c for c, _ in keys}
    hours = {h for _, h in keys}
    query = (
        select(CheckRollup)
        .where(CheckRollup.check_id.in_(check_ids), CheckRollup.hour.in_(hours))
        .order_by(CheckRollup.check_id, CheckRollup.hour)
        .execution_options(populate_existing=True)
    )
    if _postgresql(session):
        query = query.with_for_update()
    return {(r.check_id, r.hour): r for r in session.scalars(query) if (r.check_id, r.hour) in keys}


def rollups_since(session: Session, check_id: int, since: datetime) -> Sequence[CheckRollup]:
    return session.scalars(
        select(CheckRollup)
        .where(CheckRollup.check_id == check_id, CheckRollup.hour >= since)
        .order_by(CheckRollup.hour)
    ).all()


def prune_results(session: Session, before: datetime, limit: int) -> int:
    """Delete up to `limit` results older than `before`; how many went."""
    oldest = select(CheckResult.id).where(CheckResult.at < before).order_by(CheckResult.id).limit(limit)
    result = session.execute(
        delete(CheckResult).where(CheckResult.id.in_(oldest)).execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def prune_rollups(session: Session, before: datetime) -> int:
    result = session.execute(
        delete(CheckRollup).where(CheckRollup.hour < before).execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def release_claim(session: Session, check_id: int) -> None:
    session.execute(
        update(Check)
        .where(Check.id == check_id)
        .values(claimed_until=None, claimed_by=None)
        .execution_options(synchronize_session=False)
    )
