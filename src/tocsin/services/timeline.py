"""Writing timeline entries: every incident change goes through here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.orm import Session

from tocsin.domain.timeline import EntryKind
from tocsin.services.actor import Actor
from tocsin.storage import models


def add(
    session: Session,
    incident: models.Incident,
    actor: Actor,
    now: datetime,
    kind: EntryKind,
    summary: str,
    data: dict[str, Any] | None = None,
) -> models.TimelineEntry:
    entry = models.TimelineEntry(
        incident_id=incident.id,
        kind=kind.value,
        at=now,
        actor_id=actor.user_id,
        actor_name=actor.name,
        summary=summary,
        data=data or {},
    )
    session.add(entry)
    incident.updated_at = now
    return entry


def add_many(
    session: Session,
    incident_id: int,
    actor: Actor,
    now: datetime,
    kind: EntryKind,
    entries: Sequence[tuple[str, dict[str, Any]]],
    touched: dict[int, datetime] | None = None,
) -> None:
    """Several entries of one kind at once, as one executemany: ingestion attaches
    alerts in bulk and must not build (or flush) an ORM object per line, nor load
    the incident to mark it changed.

    `touched` (incident id → when this caller last marked it changed, kept by a caller
    that writes batch after batch) skips the marking while it could change nothing:
    within a second of a mark, `updated_at` is that mark or later. On PostgreSQL each
    statement is a round trip, and the writer's time is mostly round trips."""
    if not entries:
        return
    rows = [
        {
            "incident_id": incident_id,
            "kind": kind.value,
            "at": now,
            "actor_id": actor.user_id,
            "actor_name": actor.name,
            "summary": summary,
            "data": data,
        }
        for summary, data in entries
    ]
    connection = session.connection()
    connection.execute(_INSERT_ENTRIES, rows)
    last = touched.get(incident_id) if touched is not None else None
    if last is not None and last <= now < last + _TOUCH_EVERY:
        return
    marked = connection.execute(_TOUCH_INCIDENT, {"incident_id": incident_id, "now": now, "before": now - _TOUCH_EVERY})
    if touched is not None and marked.rowcount == 1:
        touched[incident_id] = now


_INSERT_ENTRIES = insert(cast(Table, models.TimelineEntry.__table__))
_INCIDENTS = cast(Table, models.Incident.__table__)
# An incident a storm attaches alerts to is marked changed at most once a second.
# Marking it per batch made the writers of two processes take turns: each batch's
# UPDATE waited for the other's commit on the incident's row lock (up to 64 ms).
# An UPDATE whose condition the row no longer meets takes no lock.
_TOUCH_EVERY = timedelta(seconds=1)
_TOUCH_INCIDENT = (
    update(_INCIDENTS)
    .where(
        _INCIDENTS.c.id == bindparam("incident_id"),
        _INCIDENTS.c.updated_at < bindparam("before", type_=_INCIDENTS.c.updated_at.type),
    )
    .values(updated_at=bindparam("now", type_=_INCIDENTS.c.updated_at.type))
)
