"""Changes: any CD system reports its deploys (`POST /api/v1/changes`), and every incident lists
the changes to its services in the hours before it (`GET /api/v1/incidents/{ref}/changes`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy.orm import Session

from tocsin.api.deps import CurrentClock, DbSession, Reader, Writer
from tocsin.api.schemas import Body
from tocsin.services import changes, incidents
from tocsin.storage import models

router = APIRouter(prefix="/api/v1", tags=["changes"])

_MAX_HOURS = changes.MAX_WINDOW.total_seconds() / 3600


class RecordChange(Body):
    service: str = Field(min_length=1, max_length=100, description="Key of the service that changed")
    version: str = Field(default="", max_length=200, description="What was deployed: a version, tag or ref")
    environment: str = Field(default="", max_length=100, description="e.g. production")
    status: str | None = Field(default=None, description="started, success, failure or canceled")
    duration_s: int | None = Field(default=None, ge=0, le=7 * 86400, description="How long the deploy took")
    commit: str = Field(default="", max_length=64, pattern=r"^([0-9a-fA-F]{7,64})?$", description="The commit SHA")
    author: str = Field(default="", max_length=200, description="Who deployed")
    url: str | None = Field(
        default=None, max_length=2000, pattern=r"^https?://\S+$", description="Where the deploy's details are"
    )
    summary: str = Field(default="", max_length=2000, description="One line; made from the rest when left out")
    occurred_at: AwareDatetime | None = Field(default=None, description="When it happened; now when left out")
    source: str = Field(default="", max_length=255, description="The system reporting it; the token's user otherwise")


class ChangeOut(BaseModel):
    id: int
    service: str | None
    summary: str
    version: str
    environment: str
    status: str
    duration_s: int | None
    commit: str
    author: str
    url: str | None
    source: str
    event: str | None
    occurred_at: datetime
    received_at: datetime
    links: list[dict[str, Any]]

    @classmethod
    def of(cls, change: models.Change, service: str | None) -> ChangeOut:
        links = [link for link in change.links or [] if isinstance(link, dict)]
        url = next((str(link["href"]) for link in links if isinstance(link.get("href"), str)), None)
        event = (change.details or {}).get("event")
        return cls(
            id=change.id, service=service, summary=change.summary, version=change.version,
            environment=change.environment, status=change.status, duration_s=change.duration_s,
            commit=change.commit_sha, author=change.author, url=url, source=change.source,
            event=event if isinstance(event, str) else None, occurred_at=change.occurred_at,
            received_at=change.received_at, links=links,
        )  # fmt: skip


class IncidentChangesOut(BaseModel):
    incident: str
    since: datetime
    until: datetime
    items: list[ChangeOut]


def _out(session: Session, rows: Any) -> list[ChangeOut]:
    rows = list(rows)
    keys = changes.service_keys(session, rows)
    return [ChangeOut.of(row, keys.get(row.service_id) if row.service_id is not None else None) for row in rows]


@router.post("/changes", status_code=201, response_model=ChangeOut)
def record_change(body: RecordChange, actor: Writer, session: DbSession, clock: CurrentClock) -> ChangeOut:
    """Record a deploy or config change of a service, e.g. from the last step of a CD pipeline."""
    change = changes.record_reported(
        session, actor, clock.now(), service_key=body.service, summary=body.summary, version=body.version,
        environment=body.environment, status=body.status, duration_s=body.duration_s, commit_sha=body.commit.lower(),
        author=body.author, url=body.url, occurred_at=body.occurred_at, source=body.source,
    )  # fmt: skip
    session.commit()
    return ChangeOut.of(change, body.service)


@router.get("/changes", response_model=list[ChangeOut])
def list_changes(
    _actor: Reader,
    session: DbSession,
    service: str | None = None,
    since: Annotated[AwareDatetime | None, Query(description="Only changes at or after this time")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Only changes at or before this time")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[ChangeOut]:
    """Changes, newest first."""
    rows = changes.list_changes(session, service_key=service, since=since, until=until, limit=limit)
    return _out(session, rows)


@router.get("/incidents/{ref}/changes", response_model=IncidentChangesOut)
def incident_changes(
    ref: str,
    _actor: Reader,
    session: DbSession,
    hours: Annotated[float, Query(gt=0, le=_MAX_HOURS, description="How far before the incident to look")] = 6,
) -> IncidentChangesOut:
    """The changes to the incident's services in the hours before it was declared, newest first."""
    incident = incidents.get(session, ref)
    window = timedelta(hours=hours)
    rows = changes.before_incident(session, incident, window)
    return IncidentChangesOut(
        incident=incident.human_id,
        since=incident.declared_at - window,
        until=incident.declared_at,
        items=_out(session, rows),
    )
