"""Writing timeline entries: every incident change goes through here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert
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
    incident: models.Incident,
    actor: Actor,
    now: datetime,
    kind: EntryKind,
    entries: Sequence[tuple[str, dict[str, Any]]],
) -> None:
    """Several entries of one kind at once, as one executemany: ingestion attaches
    alerts in bulk and must not build an ORM object per line."""
    if not entries:
        return
    rows = [
        {
            "incident_id": incident.id,
            "kind": kind.value,
            "at": now,
            "actor_id": actor.user_id,
            "actor_name": actor.name,
            "summary": summary,
            "data": data,
        }
        for summary, data in entries
    ]
    session.execute(insert(cast(Table, models.TimelineEntry.__table__)), rows)
    incident.updated_at = now
