"""Crash groups, their events, session rollups and skipped-item counters.

A group's row is made on its first event (`INSERT … ON CONFLICT DO NOTHING`) and
locked (`FOR UPDATE` on PostgreSQL; SQLite writers take turns) while an event is
counted, so two processes counting one group never lose a count. An event is
claimed by inserting its id under the unique (project, event id): the insert that
adds no row is an SDK's retry.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, null, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tocsin.storage.models import CrashEvent, CrashGroup, CrashSession, CrashSkippedItem, DevEvent, Integration


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def locked_groups(
    session: Session, integration_id: int, service_id: int, wanted: dict[str, dict[str, Any]]
) -> dict[str, CrashGroup]:
    """The project's groups with these fingerprints, locked until the transaction ends (in
    fingerprint order), the new ones made from `wanted`'s defaults first."""

    def locked(fingerprints: list[str]) -> dict[str, CrashGroup]:
        query = (
            select(CrashGroup)
            .where(CrashGroup.integration_id == integration_id, CrashGroup.fingerprint.in_(fingerprints))
            .order_by(CrashGroup.fingerprint)
            .execution_options(populate_existing=True)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        return {row.fingerprint: row for row in session.scalars(query)}

    found = locked(sorted(wanted))
    missing = sorted(set(wanted) - set(found))
    if missing:
        session.execute(
            _insert(session)(CrashGroup)
            .values(
                [
                    {"integration_id": integration_id, "service_id": service_id, "fingerprint": f, **wanted[f]}
                    for f in missing
                ]
            )
            .on_conflict_do_nothing(index_elements=[CrashGroup.integration_id, CrashGroup.fingerprint])
        )
        found.update(locked(missing))
    return found


# Rows an INSERT carries: 11 columns each, well under SQLite's 32,766 bound parameters.
_CLAIM_CHUNK = 200


def claim_events(session: Session, rows: list[dict[str, Any]]) -> dict[tuple[int, str], int]:
    """Insert events (one row per project and event id); the new ones' ids by (project,
    event id). An event id the project has already is left out of the answer: an SDK's retry."""
    claimed: dict[tuple[int, str], int] = {}
    for start in range(0, len(rows), _CLAIM_CHUNK):
        inserted = session.execute(
            _insert(session)(CrashEvent)
            .values(rows[start : start + _CLAIM_CHUNK])
            .on_conflict_do_nothing(index_elements=[CrashEvent.integration_id, CrashEvent.event_id])
            .returning(CrashEvent.id, CrashEvent.integration_id, CrashEvent.event_id)
        ).all()
        claimed.update({(int(project), str(event)): int(new_id) for new_id, project, event in inserted})
    return claimed


def events_since(session: Session, group_id: int, since: datetime) -> int:
    return int(
        session.scalar(select(func.count()).where(CrashEvent.group_id == group_id, CrashEvent.received_at >= since))
        or 0
    )


def empty_payloads(session: Session, event_ids: list[int]) -> None:
    """Drop the stack traces a group no longer keeps as samples."""
    if event_ids:
        # null(): a JSON column writes None as the JSON text 'null', which IS NOT NULL.
        session.execute(update(CrashEvent).where(CrashEvent.id.in_(event_ids)).values(payload=null()))


def prune_events(session: Session, group: CrashGroup, before: datetime) -> None:
    query = delete(CrashEvent).where(CrashEvent.group_id == group.id, CrashEvent.received_at < before)
    if group.first_event_id is not None:
        query = query.where(CrashEvent.id != group.first_event_id)
    session.execute(query)


def add_sessions(
    session: Session, integration_id: int, release: str, environment: str, hour: datetime, counts: dict[str, int]
) -> None:
    insert = _insert(session)
    statement = insert(CrashSession).values(
        integration_id=integration_id, release=release, environment=environment, hour=hour, **counts
    )
    table = CrashSession.__table__.c
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[table.integration_id, table.release, table.environment, table.hour],
            set_={name: getattr(table, name) + statement.excluded[name] for name in counts},
        )
    )


def add_skipped(session: Session, integration_id: int, item_type: str, count: int, now: datetime) -> None:
    statement = _insert(session)(CrashSkippedItem).values(
        integration_id=integration_id, type=item_type, count=count, last_at=now
    )
    table = CrashSkippedItem.__table__.c
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[table.integration_id, table.type],
            set_={"count": table.count + statement.excluded.count, "last_at": statement.excluded.last_at},
        )
    )


def add_dev_event(session: Session, **values: Any) -> None:
    session.add(DevEvent(**values))


# ---- reading --------------------------------------------------------------------------------


def list_groups(
    session: Session,
    *,
    service_id: int | None = None,
    integration_id: int | None = None,
    status: str | None = None,
    level: str | None = None,
    limit: int = 100,
) -> Sequence[CrashGroup]:
    query = select(CrashGroup).order_by(CrashGroup.last_seen.desc(), CrashGroup.id.desc()).limit(limit)
    if service_id is not None:
        query = query.where(CrashGroup.service_id == service_id)
    if integration_id is not None:
        query = query.where(CrashGroup.integration_id == integration_id)
    if status is not None:
        query = query.where(CrashGroup.status == status)
    if level is not None:
        query = query.where(CrashGroup.level == level)
    return session.scalars(query).all()


def get_group(session: Session, group_id: int, lock: bool = False) -> CrashGroup | None:
    query = select(CrashGroup).where(CrashGroup.id == group_id).execution_options(populate_existing=True)
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalars(query).first()


def sample_events(session: Session, group_id: int, limit: int) -> Sequence[CrashEvent]:
    return session.scalars(
        select(CrashEvent)
        .where(CrashEvent.group_id == group_id, CrashEvent.payload.is_not(None))
        .order_by(CrashEvent.id.desc())
        .limit(limit)
    ).all()


def event_by_id(session: Session, event_id: int) -> CrashEvent | None:
    return session.get(CrashEvent, event_id)


def counts_by_release(session: Session, group_id: int) -> list[tuple[str, int, datetime]]:
    rows = session.execute(
        select(CrashEvent.release, func.count(), func.max(CrashEvent.received_at))
        .where(CrashEvent.group_id == group_id)
        .group_by(CrashEvent.release)
        .order_by(func.max(CrashEvent.received_at).desc())
    ).all()
    return [(str(release), int(count), last) for release, count, last in rows]


def session_totals(
    session: Session, integration_ids: Sequence[int], since: datetime, environment: str | None = None
) -> list[tuple[str, str, int, int, int, int, datetime]]:
    """Per (release, environment): total, errored, crashed, abnormal, and the last hour seen."""
    table = CrashSession
    query = (
        select(
            table.release,
            table.environment,
            func.sum(table.total),
            func.sum(table.errored),
            func.sum(table.crashed),
            func.sum(table.abnormal),
            func.max(table.hour),
        )
        .where(table.integration_id.in_(integration_ids), table.hour >= since)
        .group_by(table.release, table.environment)
        .order_by(func.max(table.hour).desc(), table.release)
    )
    if environment is not None:
        query = query.where(table.environment == environment)
    return [
        (str(r), str(e), int(t or 0), int(er or 0), int(c or 0), int(a or 0), last)
        for r, e, t, er, c, a, last in session.execute(query).all()
    ]


def skipped_items(session: Session, integration_id: int) -> dict[str, int]:
    rows = session.execute(
        select(CrashSkippedItem.type, CrashSkippedItem.count).where(CrashSkippedItem.integration_id == integration_id)
    ).all()
    return {str(item_type): int(count) for item_type, count in rows}


def sentry_integrations(session: Session, service_id: int | None = None) -> Sequence[Integration]:
    query = select(Integration).where(Integration.kind == "sentry").order_by(Integration.id)
    if service_id is not None:
        query = query.where(Integration.service_id == service_id)
    return session.scalars(query).all()
