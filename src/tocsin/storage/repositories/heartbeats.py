"""Heartbeat rows, their pings, and how the engine claims the ones that went down.

The engine's claim is a conditional `UPDATE … WHERE next_due_at = <what it read>`
whose row count says whether this process won. On PostgreSQL the due rows are
read `FOR UPDATE SKIP LOCKED`, so a second engine passes over them and a ping
waits for the claim's commit (the ping path locks its row too); on SQLite
writers take turns anyway (`BEGIN IMMEDIATE`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session, joinedload

from tocsin.storage.models import Heartbeat, HeartbeatPing

_PINGS = cast(Table, HeartbeatPing.__table__)
_HEARTBEATS = cast(Table, Heartbeat.__table__)


def _postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def by_uuid(session: Session, uuid: str, *, lock: bool = False) -> Heartbeat | None:
    """`lock`: hold the row until the transaction ends (PostgreSQL), as the ping path does."""
    query = select(Heartbeat).where(Heartbeat.uuid == uuid)
    if lock and _postgresql(session):
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


_PING_STATE = (
    "id", "uuid", "name", "service_id", "period_s", "cron", "time_zone", "grace_s", "min_run_s", "max_run_s",
    "status", "alerting", "last_ping_at", "started_at", "start_rid", "last_duration_ms", "next_due_at", "n_pings",
)  # fmt: skip


def ping_states(session: Session, uuids: Collection[str]) -> Sequence[Row[Any]]:
    """What a ping needs of each heartbeat, as plain rows, locked as `by_uuids` locks them."""
    if not uuids:
        return []
    query = (
        select(*(_HEARTBEATS.c[name] for name in _PING_STATE))
        .where(_HEARTBEATS.c.uuid.in_(uuids))
        .order_by(_HEARTBEATS.c.id)
    )
    if _postgresql(session):
        query = query.with_for_update()
    return session.execute(query).all()


def store_ping_states(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Write back what pings changed, one executemany: `hid` and the columns `columns()` of
    services.heartbeats._Hot gives."""
    if not rows:
        return
    names = [name for name in rows[0] if name != "hid"]
    statement = (
        update(_HEARTBEATS)
        .where(_HEARTBEATS.c.id == bindparam("hid"))
        .values({name: bindparam(name) for name in names})
    )
    session.execute(statement, list(rows))


def expire_loaded(session: Session, ids: Collection[int]) -> None:
    """Heartbeats this session holds as objects, written by statements: read again on next use."""
    if not ids:
        return
    for item in list(session.identity_map.values()):
        if isinstance(item, Heartbeat) and item.id in ids:
            session.expire(item)


def lock(session: Session, heartbeat: Heartbeat) -> None:
    """Hold the row until the transaction ends (PostgreSQL), with its values read again under the lock."""
    if _postgresql(session):
        # The row alone: a refresh FOR UPDATE would lock through the service's outer join, which
        # PostgreSQL refuses.
        session.execute(select(_HEARTBEATS.c.id).where(_HEARTBEATS.c.id == heartbeat.id).with_for_update())
        session.refresh(heartbeat)


def by_name(session: Session, name: str) -> Heartbeat | None:
    return session.scalars(select(Heartbeat).where(Heartbeat.name == name)).one_or_none()


def list_heartbeats(session: Session, service_id: int | None = None) -> Sequence[Heartbeat]:
    query = select(Heartbeat).options(joinedload(Heartbeat.service)).order_by(Heartbeat.name)
    if service_id is not None:
        query = query.where(Heartbeat.service_id == service_id)
    return session.scalars(query).all()


def recent_pings(session: Session, heartbeat_id: int, limit: int) -> Sequence[HeartbeatPing]:
    return session.scalars(
        select(HeartbeatPing)
        .where(HeartbeatPing.heartbeat_id == heartbeat_id)
        .order_by(HeartbeatPing.n.desc())
        .limit(limit)
    ).all()


def last_start(session: Session, heartbeat_id: int, rid: str) -> HeartbeatPing | None:
    """The newest kept start ping with this run id."""
    return session.scalars(
        select(HeartbeatPing)
        .where(HeartbeatPing.heartbeat_id == heartbeat_id, HeartbeatPing.kind == "start", HeartbeatPing.rid == rid)
        .order_by(HeartbeatPing.n.desc())
        .limit(1)
    ).one_or_none()


def add_ping(session: Session, **columns: Any) -> None:
    session.add(HeartbeatPing(**columns))


def add_pings(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Many pings in one INSERT (an executemany), bypassing the unit of work: nothing reads them back."""
    if rows:
        session.execute(insert(_PINGS), list(rows))


def prune_many(session: Session, below: Mapping[int, int]) -> None:
    """For each heartbeat id, delete its pings numbered below the value, in one executemany."""
    if not below:
        return
    statement = delete(_PINGS).where(_PINGS.c.heartbeat_id == bindparam("hid"), _PINGS.c.n < bindparam("below"))
    session.execute(statement, [{"hid": hid, "below": n} for hid, n in sorted(below.items())])


def prune_pings(session: Session, heartbeat_id: int, below_n: int) -> None:
    session.execute(
        delete(HeartbeatPing)
        .where(HeartbeatPing.heartbeat_id == heartbeat_id, HeartbeatPing.n < below_n)
        .execution_options(synchronize_session=False)
    )


def delete_heartbeat(session: Session, heartbeat: Heartbeat) -> None:
    session.execute(delete(HeartbeatPing).where(HeartbeatPing.heartbeat_id == heartbeat.id))
    session.delete(heartbeat)


def due(session: Session, now: datetime, limit: int) -> Sequence[Heartbeat]:
    query = (
        select(Heartbeat)
        .options(joinedload(Heartbeat.service))
        .where(Heartbeat.next_due_at <= now)
        .order_by(Heartbeat.next_due_at, Heartbeat.id)
        .limit(limit)
    )
    if _postgresql(session):
        query = query.with_for_update(skip_locked=True, of=Heartbeat)
    return session.scalars(query).unique().all()


def claim_down(session: Session, heartbeat_id: int, due_at: datetime) -> bool:
    """Mark a due heartbeat down and alerting; False when another process (or a ping) got there first."""
    result = session.execute(
        update(Heartbeat)
        .where(Heartbeat.id == heartbeat_id, Heartbeat.next_due_at == due_at)
        .values(status="down", alerting=True, next_due_at=None)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)
