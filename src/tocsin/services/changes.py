"""Changes: deploys, releases and config changes, kept so an incident can show what changed before it.

They come from PagerDuty change events, from GitHub (deployment statuses and
releases) and from any CD system through `POST /api/v1/changes`. A deploy's
status says which channel event it is (`deploy.started`, `deploy.succeeded`,
`deploy.failed`): `details.event`, which the channel posts read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.domain.channel_routing import EventType
from tocsin.errors import ValidationFailed
from tocsin.services import audit, directory
from tocsin.services.actor import Actor
from tocsin.storage import models

# How far back an incident looks for the changes to its services.
BEFORE_INCIDENT = timedelta(hours=6)
MAX_WINDOW = timedelta(days=7)


class Status(StrEnum):
    STARTED = "started"
    SUCCESS = "success"
    FAILURE = "failure"
    CANCELED = "canceled"


_DEPLOY_EVENTS = {
    Status.STARTED: EventType.DEPLOY_STARTED,
    Status.SUCCESS: EventType.DEPLOY_SUCCEEDED,
    Status.FAILURE: EventType.DEPLOY_FAILED,
}
_STATUSES = frozenset(s.value for s in Status)


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
    version: str = "",
    environment: str = "",
    status: str = "",
    duration_s: int | None = None,
    commit_sha: str = "",
    author: str = "",
    event: EventType | None = None,
) -> models.Change:
    """`event` is the channel event the change is; by default a deploy's, from its status."""
    details = dict(details or {})
    chosen = event
    if chosen is None and status in _STATUSES:
        chosen = _DEPLOY_EVENTS.get(Status(status))
    if chosen is not None:
        details["event"] = chosen.value
    change = models.Change(
        service_id=service_id,
        integration_id=integration_id,
        summary=summary,
        source=source[:255],
        occurred_at=occurred_at or now,
        received_at=now,
        details=details,
        links=links or [],
        version=version[:200],
        environment=environment[:100],
        status=status[:20],
        duration_s=duration_s,
        commit_sha=commit_sha[:64],
        author=author[:200],
    )
    session.add(change)
    session.flush()
    return change


def record_reported(
    session: Session,
    actor: Actor,
    now: datetime,
    *,
    service_key: str,
    summary: str = "",
    version: str = "",
    environment: str = "",
    status: str | None = None,
    duration_s: int | None = None,
    commit_sha: str = "",
    author: str = "",
    url: str | None = None,
    occurred_at: datetime | None = None,
    source: str = "",
) -> models.Change:
    """A change a CD system (or a person) reports through the API."""
    service = directory.get_service(session, service_key)
    if status is not None and status not in _STATUSES:
        allowed = ", ".join(s.value for s in Status)
        raise ValidationFailed(f"status must be one of {allowed}; got {status[:30]!r}", field="status")
    if occurred_at is not None and occurred_at > now + timedelta(minutes=5):
        raise ValidationFailed("occurred_at is in the future", field="occurred_at")
    if not summary.strip():
        summary = _summary(service.key, version, environment, status)
    change = record(
        session,
        now,
        service_id=service.id,
        integration_id=None,
        summary=summary.strip(),
        source=source or actor.name,
        occurred_at=occurred_at,
        links=[{"href": url, "text": "details"}] if url else [],
        version=version,
        environment=environment,
        status=status or "",
        duration_s=duration_s,
        commit_sha=commit_sha,
        author=author,
    )
    audit.record(session, actor, now, "create", "change", str(change.id), {"service": service.key})
    return change


def _summary(service: str, version: str, environment: str, status: str | None) -> str:
    text = f"Deploy of {service}" + (f" {version}" if version else "") + (f" to {environment}" if environment else "")
    return text + (f": {status}" if status else "")


def list_changes(
    session: Session,
    *,
    service_key: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
) -> Sequence[models.Change]:
    """Newest first."""
    query = select(models.Change).order_by(models.Change.occurred_at.desc(), models.Change.id.desc()).limit(limit)
    if service_key is not None:
        query = query.where(models.Change.service_id == directory.get_service(session, service_key).id)
    if since is not None:
        query = query.where(models.Change.occurred_at >= since)
    if until is not None:
        query = query.where(models.Change.occurred_at <= until)
    return session.scalars(query).all()


def before_incident(
    session: Session, incident: models.Incident, window: timedelta = BEFORE_INCIDENT, limit: int = 100
) -> Sequence[models.Change]:
    """The changes to the incident's services in the `window` before it was declared, both ends
    included, newest first: "what changed?" in one look."""
    service_ids = [service.id for service in incident.services]
    if not service_ids:
        return []
    start = incident.declared_at - window
    return session.scalars(
        select(models.Change)
        .where(
            models.Change.service_id.in_(service_ids),
            models.Change.occurred_at >= start,
            models.Change.occurred_at <= incident.declared_at,
        )
        .order_by(models.Change.occurred_at.desc(), models.Change.id.desc())
        .limit(limit)
    ).all()


def service_keys(session: Session, changes: Sequence[models.Change]) -> dict[int, str]:
    ids = {change.service_id for change in changes if change.service_id is not None}
    if not ids:
        return {}
    rows = session.execute(select(models.Service.id, models.Service.key).where(models.Service.id.in_(ids)))
    return {row.id: row.key for row in rows}
