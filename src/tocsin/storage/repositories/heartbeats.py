"""Heartbeat rows, their pings, and how the engine claims the ones that went down.

The engine's claim is a conditional `UPDATE … WHERE next_due_at = <what it read>`
whose row count says whether this process won. On PostgreSQL the due rows are
read `FOR UPDATE SKIP LOCKED`, so a second engine passes over them and a ping
waits for the claim's commit (the ping path locks its row too); on SQLite
writers take turns anyway (`BEGIN IMMEDIATE`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, joinedload

from tocsin.storage.models import Heartbeat, HeartbeatPing, Integration


def _postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def by_uuid(session: Session, uuid: str, *, lock: bool = False) -> Heartbeat | None:
    """`lock`: hold the row until the transaction ends (PostgreSQL), as the ping path does."""
    query = select(Heartbeat).where(Heartbeat.uuid == uuid)
    if lock and _postgresql(session):
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


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


def heartbeat_integration(session: Session, service_id: int) -> Integration | None:
    """The service's internal integration its heartbeats raise alerts through."""
    return session.scalars(
        select(Integration)
        .options(joinedload(Integration.service))
        .where(Integration.service_id == service_id, Integration.kind == "heartbeat")
        .order_by(Integration.id)
        .limit(1)
    ).one_or_none()
