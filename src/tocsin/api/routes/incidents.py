"""Incidents: declare, list, show, and every move of the response."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from tocsin.api.deps import CurrentClock, DbSession, Reader, State, Writer
from tocsin.api.schemas import (
    AddNote,
    AssignRole,
    ChangeSeverity,
    ChangeStatus,
    DeclareIncident,
    EditIncident,
    IncidentOut,
    OptionalNote,
    Page,
    PostUpdate,
    TimelineEntryOut,
)
from tocsin.domain.briefings import Briefing
from tocsin.domain.incidents import CLOSED_STATUSES, OPEN_STATUSES, IncidentStatus
from tocsin.errors import ValidationFailed
from tocsin.observability import INCIDENTS_DECLARED
from tocsin.services import incidents, message_templates
from tocsin.storage.repositories import communication as communication_repo
from tocsin.storage.repositories import incidents as repo
from tocsin.storage.repositories import targets as targets_repo

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])


def _out(session: Session, incident_id: int) -> IncidentOut:
    # Read back what was committed, not what this session remembers.
    session.expire_all()
    incident = repo.incident_by_id(session, incident_id)
    assert incident is not None
    reminders = list(communication_repo.reminders_for(session, incident_id))
    return IncidentOut.of(incident, list(targets_repo.targets_for(session, incident_id)), reminders)


def _statuses(value: str | None) -> frozenset[str] | None:
    if value is None or value == "all":
        return None
    if value == "open":
        return frozenset(s.value for s in OPEN_STATUSES)
    if value == "closed":
        return frozenset(s.value for s in CLOSED_STATUSES)
    chosen = frozenset(part.strip() for part in value.split(",") if part.strip())
    unknown = chosen - {s.value for s in IncidentStatus}
    if unknown:
        raise ValidationFailed(
            f"unknown status {sorted(unknown)[0]!r}; use open, closed, all or statuses separated by commas",
            field="status",
        )
    return chosen


def _page_now(state: State) -> None:
    """After a commit that may have made a page due now (a declaration, a new severity, a
    reopening): the engine pages it at once instead of at its next interval."""
    if state.wake_engine is not None:
        state.wake_engine()


@router.post("", status_code=201, response_model=IncidentOut)
def declare(body: DeclareIncident, actor: Writer, session: DbSession, clock: CurrentClock, state: State) -> IncidentOut:
    incident = incidents.declare(
        session,
        actor,
        clock.now(),
        title=body.title,
        severity=body.severity,
        services=body.services,
        impact=body.impact,
        drill=body.drill,
        commander=body.commander,
    )
    session.commit()
    _page_now(state)
    INCIDENTS_DECLARED.labels(severity=incident.severity).inc()
    return _out(session, incident.id)


@router.get("", response_model=Page[IncidentOut])
def list_incidents(
    _actor: Reader,
    session: DbSession,
    status: Annotated[str | None, Query(description="open, closed, all, or statuses separated by commas")] = "open",
    severity: str | None = None,
    service: str | None = None,
    drill: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> Page[IncidentOut]:
    filters = repo.IncidentFilter(statuses=_statuses(status), severity=severity, service_key=service, drill=drill)
    rows, total = repo.list_incidents(session, filters, limit=limit, offset=offset)
    targets = targets_repo.targets_by_incident(session, [r.id for r in rows])
    reminders = communication_repo.reminders_by_incident(session, [r.id for r in rows])
    items = [IncidentOut.of(r, targets[r.id], reminders[r.id]) for r in rows]
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.get("/{ref}", response_model=IncidentOut)
def show(ref: str, _actor: Reader, session: DbSession) -> IncidentOut:
    return _out(session, incidents.get(session, ref).id)


@router.patch("/{ref}", response_model=IncidentOut)
def edit(ref: str, body: EditIncident, actor: Writer, session: DbSession, clock: CurrentClock) -> IncidentOut:
    incident = incidents.get(session, ref)
    incidents.edit(session, actor, clock.now(), incident, title=body.title, impact=body.impact, services=body.services)
    session.commit()
    return _out(session, incident.id)


@router.post("/{ref}/status", response_model=IncidentOut)
def change_status(
    ref: str, body: ChangeStatus, actor: Writer, session: DbSession, clock: CurrentClock, state: State
) -> IncidentOut:
    incident = incidents.get(session, ref)
    incidents.change_status(session, actor, clock.now(), incident, body.status, body.note)
    session.commit()
    _page_now(state)  # a reopened incident pages its first level again
    return _out(session, incident.id)


def _move(
    ref: str, status: IncidentStatus, note: str | None, actor: Writer, session: Session, clock: CurrentClock
) -> IncidentOut:
    incident = incidents.get(session, ref)
    incidents.change_status(session, actor, clock.now(), incident, status.value, note)
    session.commit()
    return _out(session, incident.id)


@router.post("/{ref}/acknowledge", response_model=IncidentOut)
def acknowledge(
    ref: str, actor: Writer, session: DbSession, clock: CurrentClock, body: OptionalNote | None = None
) -> IncidentOut:
    return _move(ref, IncidentStatus.ACKNOWLEDGED, body.note if body else None, actor, session, clock)


@router.post("/{ref}/resolve", response_model=IncidentOut)
def resolve(
    ref: str, actor: Writer, session: DbSession, clock: CurrentClock, body: OptionalNote | None = None
) -> IncidentOut:
    return _move(ref, IncidentStatus.RESOLVED, body.note if body else None, actor, session, clock)


@router.post("/{ref}/cancel", response_model=IncidentOut)
def cancel(
    ref: str, actor: Writer, session: DbSession, clock: CurrentClock, body: OptionalNote | None = None
) -> IncidentOut:
    return _move(ref, IncidentStatus.CANCELED, body.note if body else None, actor, session, clock)


@router.post("/{ref}/severity", response_model=IncidentOut)
def change_severity(
    ref: str, body: ChangeSeverity, actor: Writer, session: DbSession, clock: CurrentClock, state: State
) -> IncidentOut:
    incident = incidents.get(session, ref)
    incidents.change_severity(session, actor, clock.now(), incident, body.severity, body.reason)
    session.commit()
    _page_now(state)  # e.g. to P0: the levels left are paged now
    return _out(session, incident.id)


@router.post("/{ref}/roles", response_model=IncidentOut)
def assign_role(ref: str, body: AssignRole, actor: Writer, session: DbSession, clock: CurrentClock) -> IncidentOut:
    incident = incidents.get(session, ref)
    briefing = Briefing(**body.briefing.model_dump()) if body.briefing is not None else None
    incidents.assign_role(session, actor, clock.now(), incident, body.role, body.user, briefing)
    session.commit()
    return _out(session, incident.id)


@router.post("/{ref}/notes", status_code=201, response_model=TimelineEntryOut)
def add_note(ref: str, body: AddNote, actor: Writer, session: DbSession, clock: CurrentClock) -> TimelineEntryOut:
    incident = incidents.get(session, ref)
    entry = incidents.add_note(session, actor, clock.now(), incident, body.text)
    session.commit()
    return TimelineEntryOut.of(entry)


@router.post("/{ref}/updates", status_code=201, response_model=TimelineEntryOut)
def post_update(
    ref: str, body: PostUpdate, actor: Writer, session: DbSession, clock: CurrentClock, state: State
) -> TimelineEntryOut:
    incident = incidents.get(session, ref)
    if body.template is not None and body.template not in message_templates.KEYS:
        raise ValidationFailed(
            f"unknown template {body.template!r}; templates are {', '.join(message_templates.KEYS)}", field="template"
        )
    text = body.text
    if text is None:
        if body.template is None:
            raise ValidationFailed("an update needs text, or a template to fill from the incident", field="text")
        base_url = state.settings.public_url
        text = message_templates.render_for(session, body.template, incident, clock.now(), base_url)
    entry = incidents.post_update(
        session, actor, clock.now(), incident, text, public=body.public, template=body.template
    )
    session.commit()
    return TimelineEntryOut.of(entry)


@router.get("/{ref}/timeline", response_model=list[TimelineEntryOut])
def timeline(ref: str, _actor: Reader, session: DbSession) -> list[TimelineEntryOut]:
    incident = incidents.get(session, ref)
    return [TimelineEntryOut.of(e) for e in repo.timeline(session, incident.id)]
