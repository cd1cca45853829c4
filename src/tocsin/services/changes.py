"""Changes: deploys and config changes, kept so an incident can show what changed before it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from tocsin.storage import models


def record(
    session: Session,
    now: datetime,
    *,
    service_id: int | None,
    integration_id: int | None,
    summary: str,
    source: str = "",
    occurred_at: datetime | None = None,
    details: dict[str, Any] | None = None,
    links: list[dict[str, str]] | None = None,
) -> models.Change:
    change = models.Change(
        service_id=service_id,
        integration_id=integration_id,
        summary=summary,
        source=source[:255],
        occurred_at=occurred_at or now,
        received_at=now,
        details=details or {},
        links=links or [],
    )
    session.add(change)
    session.flush()
    return change
