"""Recording who changed what outside an incident."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from tocsin.services.actor import Actor
from tocsin.storage.models import AuditEvent


def record(
    session: Session,
    actor: Actor,
    now: datetime,
    action: str,
    object_type: str,
    object_key: str,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEvent(
            at=now,
            actor_id=actor.user_id,
            actor_name=actor.name,
            action=action,
            object_type=object_type,
            object_key=object_key,
            detail=detail or {},
        )
    )
