"""The incident pages: the list, declaring one, and the page responders work from.

Actions are plain forms (each carries the CSRF token) answered with a redirect back to
the page, so a reload never posts twice; a refused action re-renders the page with the
message next to its form. The timeline polls a fragment that answers 204 while nothing
is new, and with the timeline and the incident's state (an out-of-band swap) once
something is."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from tocsin.api import problems
from tocsin.api.deps import AppState, CurrentClock, DbSession, State
from tocsin.domain.briefings import Briefing
from tocsin.domain.incidents import CLOSED_STATUSES, OPEN_STATUSES, IncidentStatus, can_transition
from tocsin.errors import Conflict, ValidationFailed
from tocsin.observability import INCIDENTS_DECLARED
from tocsin.services import briefings, checklists, incidents, severities
from tocsin.services import changes as changes_service
from tocsin.storage.models import Incident
from tocsin.storage.repositories import directory, incident_views
from tocsin.storage.repositories import incidents as incident_repo
from tocsin.storage.repositories import severities as severities_repo
from tocsin.storage.repositories import targets as targets_repo
from tocsin.web import incident_messages
from tocsin.web.auth import Responder, Viewer, WebUser, mark_web
from tocsin.web.charts import Series, bar_chart
from tocsin.web.incident_clocks import IncidentClocks, clocks_of
from tocsin.web.templating import templates

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_web)])

PAGE_SIZE = 50
TIMELINE_LIMIT = 50
ALERTS_LIMIT = 25
CHANGES_LIMIT = 20


@dataclass(frozen=True)
class FormError:
    """A refused action, shown next to the form it came from."""

    form: str
    message: str
    field: str | None = None


def _wake(state: AppState) -> None:
    # As the API does after the same commits: a page made due now goes out now.
    if state.wake_engine is not None:
        state.wake_engine()


def allowed_moves(incident: Incident) -> list[str]:
    """Every status the state machine lets this incident move to now."""
    current = IncidentStatus(incident.status)
    moves = []
    for target in IncidentStatus:
        if not can_transition(current, target):
            continue
        if target == IncidentStatus.ACKNOWLEDGED and incident.acknowledged_at is not None:
            continue  # the service refuses a second acknowledgement
        moves.append(target.value)
    return moves


def _clocks(session: Session, now: datetime, incident: Incident) -> IncidentClocks:
    level = severities.active(session).level(incident.severity)
    targets = targets_repo.targets_for(session, incident.id)
    last_update = incident_views.last_updates(session, [incident.id]).get(incident.id)
    return clocks_of(incident, targets, level, last_update, now)


def _state_context(session: Session, user: WebUser, now: datetime, incident: Incident) -> dict[str, Any]:
    scheme = severities.active(session)
    moves = allowed_moves(incident)
    return {
        "user": user,
        "incident": incident,
        "clocks": _clocks(session, now, incident),
        "moves": moves,
        "can_ack": IncidentStatus.ACKNOWLEDGED.value in moves,
        "can_resolve": IncidentStatus.RESOLVED.value in moves,
        "levels": [lvl.name for lvl in scheme.levels],
    }


def _page(
    request: Request,
    session: Session,
    user: WebUser,
    now: datetime,
    incident: Incident,
    *,
    before: int | None = None,
    error: FormError | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    context = _state_context(session, user, now, incident)
    entries, more = incident_views.timeline_page(session, incident.id, limit=TIMELINE_LIMIT, before_id=before)
    history = incident_views.role_history(session, incident.id)
    alerts, alert_total = incident_views.incident_alerts(session, incident.id, ALERTS_LIMIT)
    changes = changes_service.before_incident(session, incident, limit=CHANGES_LIMIT)
    context.update(
        {
            "nav_active": "/incidents",
            "entries": entries,
            "more": more,
            "paging_back": before is not None,
            "roles": severities_repo.list_roles(session),
            "holders": {a.role_key: a for a in history if a.released_at is None},
            "history": history,
            "alerts": alerts,
            "alert_total": alert_total,
            "changes": changes,
            "change_services": changes_service.service_keys(session, changes),
            "users": directory.list_users(session) if user.can_respond else [],
            "services": directory.list_services(session) if user.can_respond else [],
            "error": error,
            "values": values or {},
            "checklist": checklists.view(session, incident),
            "briefings": briefings.of_incident(session, incident.id),
            "now": now,
            **incident_messages.context(session, incident),
        }
    )
    return templates.TemplateResponse(request, "incidents/page.html", context, status_code=status_code)


_STATUS_CHOICES = ("open", "closed", "all", *(s.value for s in IncidentStatus))


@dataclass(frozen=True)
class ListFilters:
    """The list's filters as the query string gives them (kept as typed, for the form)."""

    status: str = "open"
    severity: str = ""
    service: str = ""
    q: str = ""
    since: str = ""
    per: str = "week"  # the chart's bars

    def query(self, page: int, **changes: str) -> str:
        chosen = vars(self) | changes
        values = {k: v for k, v in chosen.items() if v and not (k == "per" and v == "week")}
        values |= {"page": str(page)} if page > 1 else {}
        return "?" + urlencode(values) if values else ""


def _statuses(choice: str) -> frozenset[str]:
    if choice == "open":
        return frozenset(s.value for s in OPEN_STATUSES)
    if choice == "closed":
        return frozenset(s.value for s in CLOSED_STATUSES)
    if choice == "all":
        # Every status, not none: the query then seeks on ix_incidents_status_declared.
        return frozenset(incident_views.ALL_STATUSES)
    return frozenset({choice})


def _since(value: str, time_zone: str) -> datetime:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(f"{value!r} is not a date (YYYY-MM-DD)", field="since") from None
    try:
        zone = ZoneInfo(time_zone)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.combine(day, time(0), zone)  # the start of that day where the reader is


CHART_WEEKS = 12
CHART_DAYS = 30


def _over_time(session: Session, now: datetime, per: str, service_key: str) -> Markup:
    """Incidents declared per week (the last 12, from Monday) or per day (the last 30), by
    severity, drills left out: counted per UTC day in the database, bucketed here."""
    today = now.astimezone(UTC).date()
    if per == "day":
        starts = [today - timedelta(days=n) for n in range(CHART_DAYS - 1, -1, -1)]
        bucket = {day: day for day in starts}
        labels = [f"{day:%b} {day.day}" for day in starts]
    else:
        monday = today - timedelta(days=today.weekday())
        starts = [monday - timedelta(weeks=n) for n in range(CHART_WEEKS - 1, -1, -1)]
        bucket = {start + timedelta(days=d): start for start in starts for d in range(7)}
        labels = [f"{start:%b} {start.day}" for start in starts]
    service = directory.service_by_key(session, service_key) if service_key else None
    since = datetime.combine(starts[0], time(0), UTC)
    counts = incident_views.declared_per_day(session, since, drill=False, service_id=service.id if service else None)
    scheme = severities.active(session)
    names = [level.name for level in scheme.levels]
    names += sorted({c.severity for c in counts} - set(names))  # levels of a scheme no longer active
    index = {start: i for i, start in enumerate(starts)}
    values = {name: [0.0] * len(starts) for name in names}
    for count in counts:
        start = bucket.get(count.day)
        if start is not None:
            values[count.severity][index[start]] += count.count
    ranks = {level.name: level.rank for level in scheme.levels}
    series = [Series(name, values[name], f"var(--p{min(ranks.get(name, 3), 3)})") for name in names]
    title = "Incidents declared per " + ("day" if per == "day" else "week")
    return bar_chart(labels, series, label=title)


@router.get("/incidents")
def incident_list(
    request: Request,
    user: Viewer,
    session: DbSession,
    clock: CurrentClock,
    status: str = "open",
    severity: str = "",
    service: str = "",
    q: Annotated[str, Query(max_length=300)] = "",
    since: str = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per: str = "week",
) -> Response:
    per = "day" if per == "day" else "week"
    filters = ListFilters(status, severity, service, q.strip(), since, per)
    problems_found: list[str] = []
    if status not in _STATUS_CHOICES:
        problems_found.append(f"unknown status {status!r}")
        status = "open"
    declared_since = None
    if since:
        try:
            declared_since = _since(since, user.time_zone)
        except ValidationFailed as exc:
            problems_found.append(exc.message)
    chosen = incident_repo.IncidentFilter(
        statuses=_statuses(status),
        severity=severity or None,
        service_key=service or None,
        title_contains=filters.q or None,
        declared_since=declared_since,
    )
    rows, total = incident_repo.list_incidents(session, chosen, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    context = {
        "user": user,
        "nav_active": "/incidents",
        "rows": rows,
        "total": total,
        "page": page,
        "first": (page - 1) * PAGE_SIZE + 1,
        "newer": filters.query(page - 1) if page > 1 else None,
        "older": filters.query(page + 1) if page * PAGE_SIZE < total else None,
        "filters": filters,
        "problems": problems_found,
        "status_choices": _STATUS_CHOICES,
        "levels": [level.name for level in severities.active(session).levels],
        "services": directory.list_services(session),
        "now": clock.now(),
        "per_links": {choice: "/incidents" + filters.query(1, per=choice) for choice in ("week", "day")},
        "chart": _over_time(session, clock.now(), per, service),
    }
    return templates.TemplateResponse(request, "incidents/list.html", context)


def _declare_form(
    request: Request,
    session: Session,
    user: WebUser,
    values: dict[str, Any],
    error: FormError | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "user": user,
        "nav_active": "/incidents",
        "levels": severities.active(session).levels,
        "services": directory.list_services(session),
        "users": directory.list_users(session),
        "values": values,
        "error": error,
    }
    return templates.TemplateResponse(request, "incidents/new.html", context, status_code=status_code)


# Before /incidents/{ref}, which would take "new" for an incident id.
@router.get("/incidents/new")
def declare_form(request: Request, user: Responder, session: DbSession, service: str = "") -> Response:
    return _declare_form(request, session, user, {"services": [service] if service else []})


@router.post("/incidents/new")
def declare(
    request: Request,
    user: Responder,
    session: DbSession,
    clock: CurrentClock,
    state: State,
    title: Annotated[str, Form()] = "",
    severity: Annotated[str, Form()] = "",
    services: Annotated[list[str] | None, Form()] = None,
    impact: Annotated[str, Form()] = "",
    commander: Annotated[str, Form()] = "",
    drill: Annotated[bool, Form()] = False,
) -> Response:
    values: dict[str, Any] = {
        "title": title,
        "severity": severity,
        "services": services or [],
        "impact": impact,
        "commander": commander,
        "drill": drill,
    }
    try:
        incident = incidents.declare(
            session,
            user.actor,
            clock.now(),
            title=title,
            severity=severity,
            services=services or [],
            impact=impact.strip(),
            drill=drill,
            commander=commander or None,
        )
    except (ValidationFailed, Conflict) as exc:
        session.rollback()
        error = FormError("declare", exc.message, exc.field)
        return _declare_form(request, session, user, values, error, problems.status_for(exc))
    session.commit()
    _wake(state)
    INCIDENTS_DECLARED.labels(severity=incident.severity).inc()
    return RedirectResponse(f"/incidents/{incident.human_id}", status_code=303)


@router.get("/incidents/{ref}")
def incident_page(
    request: Request, ref: str, user: Viewer, session: DbSession, clock: CurrentClock, before: int | None = None
) -> Response:
    return _page(request, session, user, clock.now(), incidents.get(session, ref), before=before)


@router.get("/incidents/{ref}/timeline")
def timeline_fragment(
    request: Request, ref: str, user: Viewer, session: DbSession, clock: CurrentClock, newest: str = ""
) -> Response:
    """The live timeline: 204 (HTMX swaps nothing) while the newest entry is the one the
    page shows; else the latest entries and, out of band, the incident's header."""
    incident = incidents.get(session, ref)
    entries, more = incident_views.timeline_page(session, incident.id, limit=TIMELINE_LIMIT)
    if entries and newest == str(entries[0].id):
        return Response(status_code=204)
    context = _state_context(session, user, clock.now(), incident)
    context.update({"entries": entries, "more": more, "paging_back": False, "oob": True})
    return templates.TemplateResponse(request, "incidents/_live.html", context)


@router.get("/incidents/{ref}/clocks")
def clocks_fragment(request: Request, ref: str, user: Viewer, session: DbSession, clock: CurrentClock) -> Response:
    """The header's clocks, polled on their own: "due in 4m" must keep counting while
    nothing new happens (the timeline's poll answers 204 then)."""
    incident = incidents.get(session, ref)
    context = {"user": user, "incident": incident, "clocks": _clocks(session, clock.now(), incident)}
    return templates.TemplateResponse(request, "incidents/_clocks.html", context)


def _act(
    request: Request,
    session: Session,
    user: WebUser,
    now: datetime,
    ref: str,
    form: str,
    action: Callable[[Incident], object],
    *,
    state: AppState | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    """Run one action on the incident: commit and go back to the page, or show why not."""
    incident = incidents.get(session, ref)
    try:
        action(incident)
    except (ValidationFailed, Conflict) as exc:
        session.rollback()
        fresh = incidents.get(session, ref)
        error = FormError(form, exc.message, exc.field)
        return _page(
            request, session, user, now, fresh, error=error, values=values, status_code=problems.status_for(exc)
        )
    session.commit()
    if state is not None:
        _wake(state)
    return RedirectResponse(f"/incidents/{incident.human_id}#{form}", status_code=303)


@router.post("/incidents/{ref}/acknowledge")
def acknowledge(request: Request, ref: str, user: Responder, session: DbSession, clock: CurrentClock) -> Response:
    now = clock.now()
    return _act(
        request,
        session,
        user,
        now,
        ref,
        "status",
        lambda i: incidents.change_status(session, user.actor, now, i, IncidentStatus.ACKNOWLEDGED.value),
    )


@router.post("/incidents/{ref}/resolve")
def resolve(request: Request, ref: str, user: Responder, session: DbSession, clock: CurrentClock) -> Response:
    now = clock.now()
    return _act(
        request,
        session,
        user,
        now,
        ref,
        "status",
        lambda i: incidents.change_status(session, user.actor, now, i, IncidentStatus.RESOLVED.value),
    )


@router.post("/incidents/{ref}/status")
def change_status(
    request: Request,
    ref: str,
    user: Responder,
    session: DbSession,
    clock: CurrentClock,
    state: State,
    status: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    now = clock.now()
    return _act(
        request,
        session,
        user,
        now,
        ref,
        "status",
        lambda i: incidents.change_status(session, user.actor, now, i, status, note.strip() or None),
        state=state,  # a reopened incident pages its first level again
        values={"note": note},
    )


@router.post("/incidents/{ref}/severity")
def change_severity(
    request: Request,
    ref: str,
    user: Responder,
    session: DbSession,
    clock: CurrentClock,
    state: State,
    severity: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    now = clock.now()
    return _act(
        request,
        session,
        user,
        now,
        ref,
        "severity",
        lambda i: incidents.change_severity(session, user.actor, now, i, severity, reason.strip() or None),
        state=state,  # e.g. to P0: the levels left are paged now
        values={"reason": reason},
    )


@router.post("/incidents/{ref}/roles")
def assign_role(
    request: Request,
    ref: str,
    user: Responder,
    session: DbSession,
    clock: CurrentClock,
    role: Annotated[str, Form()] = "",
    assignee: Annotated[str, Form()] = "",
    briefing_status: Annotated[str, Form()] = "",
    briefing_actions: Annotated[str, Form()] = "",
    briefing_hypothesis: Annotated[str, Form()] = "",
) -> Response:
    now = clock.now()
    # The hand-off form (incidents/_handoff.html) sends a briefing; the role list's forms do not.
    given = (briefing_status, briefing_actions, briefing_hypothesis)
    briefing = Briefing(*given) if any(text.strip() for text in given) else None
    values = dict(zip(("briefing_status", "briefing_actions", "briefing_hypothesis"), given, strict=True))
    return _act(
        request,
        session,
        user,
        now,
        ref,
        "roles",
        lambda i: incidents.assign_role(session, user.actor, now, i, role, assignee, briefing),
        values={**values, "briefing": briefing is not None},
    )


@router.post("/incidents/{ref}/notes")
def add_note(
    request: Request,
    ref: str,
    user: Responder,
    session: DbSession,
    clock: CurrentClock,
    text: Annotated[str, Form()] = "",
) -> Response:
    now = clock.now()
    return _act(
        request,
        session,
        user,
        now,
        ref,
        "note",
        lambda i: incidents.add_note(session, user.actor, now, i, text),
        values={"note_text": text},
    )


@router.post("/incidents/{ref}/updates")
def post_update(
    request: Request,
    ref: str,
    user: Responder,
    session: DbSession,
    clock: CurrentClock,
    text: Annotated[str, Form()] = "",
    public: Annotated[bool, Form()] = False,
) -> Response:
    now = clock.now()
    return _act(
        request,
        session,
        user,
        now,
        ref,
        "update",
        lambda i: incidents.post_update(session, user.actor, now, i, text, public=public),
        values={"update_text": text, "public": public},
    )


@router.post("/incidents/{ref}/edit")
def edit(
    request: Request,
    ref: str,
    user: Responder,
    session: DbSession,
    clock: CurrentClock,
    title: Annotated[str, Form()] = "",
    impact: Annotated[str, Form()] = "",
    services: Annotated[list[str] | None, Form()] = None,
) -> Response:
    now = clock.now()
    return _act(
        request,
        session,
        user,
        now,
        ref,
        "edit",
        lambda i: incidents.edit(session, user.actor, now, i, title=title, impact=impact, services=services or []),
        values={"title": title, "impact": impact, "services": services or []},
    )
