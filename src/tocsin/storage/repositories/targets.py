"""Response-target rows and how the engine claims the due ones.

A claim is the conditional `UPDATE … WHERE status = 'pending'` whose row count
says whether this process won: on PostgreSQL a second process blocks on the
row lock, re-checks the condition after the first commits and updates nothing;
on SQLite writers are serialized anyway. `FOR UPDATE SKIP LOCKED` on
PostgreSQL keeps two processes from queueing behind each other's rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tocsin.storage.models import ResponseTarget


def targets_for(session: Session, incident_id: int) -> Sequence[ResponseTarget]:
    return session.scalars(
        select(ResponseTarget).where(ResponseTarget.incident_id == incident_id).order_by(ResponseTarget.id)
    ).all()


def targets_by_incident(session: Session, incident_ids: Sequence[int]) -> dict[int, list[ResponseTarget]]:
    """One query for a page of incidents, instead of one per incident."""
    found: dict[int, list[ResponseTarget]] = {incident_id: [] for incident_id in incident_ids}
    if not incident_ids:
        return found
    rows = session.scalars(
        select(ResponseTarget).where(ResponseTarget.incident_id.in_(incident_ids)).order_by(ResponseTarget.id)
    )
    for row in rows:
        found[row.incident_id].append(row)
    return found


def due_target_ids(session: Session, now: datetime, limit: int) -> list[int]:
    query = (
        select(ResponseTarget.id)
        .where(ResponseTarget.status == "pending", ResponseTarget.due_at <= now)
        .order_by(ResponseTarget.due_at, ResponseTarget.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


@dataclass(frozen=True)
class ClaimedTarget:
    incident_id: int
    kind: str
    due_at: datetime


def claim_target(session: Session, target_id: int, status: str, now: datetime) -> ClaimedTarget | None:
    """Settle a pending target; None when another process already did."""
    row = session.execute(
        update(ResponseTarget)
        .where(ResponseTarget.id == target_id, ResponseTarget.status == "pending")
        .values(status=status, settled_at=now)
        .returning(ResponseTarget.incident_id, ResponseTarget.kind, ResponseTarget.due_at)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if row is None:
        return None
    return ClaimedTarget(incident_id=row.incident_id, kind=row.kind, due_at=row.due_at)
