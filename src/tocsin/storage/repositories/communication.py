"""Communication reminders and message-template edits: queries, and the engine's claim.

A claim is the conditional `UPDATE … WHERE status = 'pending' AND stage = :seen` whose row count
says whether this process won (see `repositories.targets` for why that is enough on both
databases); `FOR UPDATE SKIP LOCKED` on PostgreSQL keeps two processes off each other's rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tocsin.storage.models import CommunicationReminder, MessageTemplate, TimelineEntry

PENDING = "pending"


def reminders_for(session: Session, incident_id: int) -> Sequence[CommunicationReminder]:
    return session.scalars(
        select(CommunicationReminder)
        .where(CommunicationReminder.incident_id == incident_id)
        .order_by(CommunicationReminder.id)
    ).all()


def pending_for(session: Session, incident_id: int, kinds: Sequence[str]) -> Sequence[CommunicationReminder]:
    return session.scalars(
        select(CommunicationReminder)
        .where(
            CommunicationReminder.incident_id == incident_id,
            CommunicationReminder.status == PENDING,
            CommunicationReminder.kind.in_(kinds),
        )
        .order_by(CommunicationReminder.id)
    ).all()


def reminders_by_incident(session: Session, incident_ids: Sequence[int]) -> dict[int, list[CommunicationReminder]]:
    """One query for a page of incidents."""
    found: dict[int, list[CommunicationReminder]] = {incident_id: [] for incident_id in incident_ids}
    if not incident_ids:
        return found
    rows = session.scalars(
        select(CommunicationReminder)
        .where(CommunicationReminder.incident_id.in_(incident_ids))
        .order_by(CommunicationReminder.id)
    )
    for row in rows:
        found[row.incident_id].append(row)
    return found


def due_ids(session: Session, now: datetime, limit: int) -> list[tuple[int, int]]:
    """(id, stage) of pending reminders due at `now`, oldest first."""
    query = (
        select(CommunicationReminder.id, CommunicationReminder.stage)
        .where(CommunicationReminder.status == PENDING, CommunicationReminder.due_at <= now)
        .order_by(CommunicationReminder.due_at, CommunicationReminder.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return [(row.id, row.stage) for row in session.execute(query)]


def claim(
    session: Session,
    reminder_id: int,
    seen_stage: int,
    now: datetime,
    *,
    next_due: datetime | None,
    final: str,
    reminded_user_id: int | None,
) -> bool:
    """Move a due reminder one rung up: to `next_due`, or to `final` when there is no next rung.
    False when another process (or a posted update) got there first."""
    values: dict[str, object] = {"stage": seen_stage + 1}
    if next_due is None:
        values.update(status=final, settled_at=now)
    else:
        values["due_at"] = next_due
    if reminded_user_id is not None:
        values["reminded_user_id"] = reminded_user_id
    result = session.execute(
        update(CommunicationReminder)
        .where(
            CommunicationReminder.id == reminder_id,
            CommunicationReminder.status == PENDING,
            CommunicationReminder.stage == seen_stage,
            CommunicationReminder.due_at <= now,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


def snooze(session: Session, reminder_id: int, seen_stage: int, now: datetime, until: datetime) -> bool:
    """Put a due reminder off to `until` on the same rung; False when another process got there first."""
    result = session.execute(
        update(CommunicationReminder)
        .where(
            CommunicationReminder.id == reminder_id,
            CommunicationReminder.status == PENDING,
            CommunicationReminder.stage == seen_stage,
            CommunicationReminder.due_at <= now,
        )
        .values(due_at=until)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


def latest_identified_note(session: Session, incident_id: int) -> str:
    """The note of the incident's latest move to `identified`: what the responders said the cause is."""
    entries = session.scalars(
        select(TimelineEntry)
        .where(TimelineEntry.incident_id == incident_id, TimelineEntry.kind == "status")
        .order_by(TimelineEntry.at.desc(), TimelineEntry.id.desc())
    )
    for entry in entries:
        if entry.data.get("to") == "identified":
            return str(entry.data.get("note") or "")
    return ""


def template_edits(session: Session) -> dict[str, MessageTemplate]:
    return {row.key: row for row in session.scalars(select(MessageTemplate))}


def template_edit(session: Session, key: str) -> MessageTemplate | None:
    return session.scalar(select(MessageTemplate).where(MessageTemplate.key == key))
