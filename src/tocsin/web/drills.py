"""The drills pages: the drills run so far, a form to start one, and each drill's report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from tocsin.api import problems
from tocsin.api.deps import CurrentClock, DbSession, State
from tocsin.errors import Conflict, NotFound, ValidationFailed
from tocsin.services import drills, incidents
from tocsin.services.drill_scenarios import SCENARIOS
from tocsin.storage.repositories import drills as repo
from tocsin.storage.repositories import watching_views as views
from tocsin.web.auth import Responder, Viewer, WebUser, mark_web
from tocsin.web.templating import templates

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_web)])


def _list(
    request: Request,
    session: Session,
    user: WebUser,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "user": user,
        "nav_active": "/drills",
        "drills": drills.list_drills(session, limit=100),
        "scenarios": list(SCENARIOS.values()),
        "services": views.service_keys(session),
        "default_service": (found.key if (found := repo.first_service_with_policy(session)) else ""),
        "values": values or {},
        "error": error,
    }
    return templates.TemplateResponse(request, "drills/list.html", context, status_code=status_code)


@router.get("/drills")
def drills_page(request: Request, user: Viewer, session: DbSession, clock: CurrentClock) -> Response:
    if drills.sync(session, clock.now()):
        session.commit()
    return _list(request, session, user)


@router.post("/drills")
def start_drill(
    request: Request,
    user: Responder,
    session: DbSession,
    clock: CurrentClock,
    state: State,
    scenario: Annotated[str, Form()] = "",
    service: Annotated[str, Form()] = "",
) -> Response:
    try:
        drill = drills.start(session, user.actor, clock.now(), scenario=scenario, service_key=service or None)
    except (ValidationFailed, Conflict, NotFound) as exc:
        session.rollback()
        values = {"scenario": scenario, "service": service}
        return _list(request, session, user, values, exc.message, problems.status_for(exc))
    session.commit()
    if state.wake_engine is not None:
        state.wake_engine()
    return RedirectResponse(f"/drills/{drill.id}", status_code=303)


@router.get("/drills/incident/{ref}")
def drill_of_incident(ref: str, _user: Viewer, session: DbSession) -> Response:
    """From a drill incident's banner to its drill's report."""
    incident = incidents.get(session, ref)
    drill = repo.drill_of_incident(session, incident.id)
    if drill is None:
        raise NotFound(f"{incident.human_id} was not started by a drill", field="incident")
    return RedirectResponse(f"/drills/{drill.id}", status_code=303)


@router.get("/drills/{drill_id}")
def drill_page(request: Request, drill_id: int, user: Viewer, session: DbSession, clock: CurrentClock) -> Response:
    if drills.sync(session, clock.now()):
        session.commit()
    drill = drills.get(session, drill_id)
    context = {
        "user": user,
        "nav_active": "/drills",
        "drill": drill,
        "scenario": {info.key.value: info for info in SCENARIOS.values()}.get(drill.scenario),
        "report": drills.report(session, drill, clock.now()),
    }
    return templates.TemplateResponse(request, "drills/page.html", context)


@router.post("/drills/{drill_id}/stop")
def stop_drill(drill_id: int, user: Responder, session: DbSession, clock: CurrentClock) -> Response:
    drills.stop(session, user.actor, clock.now(), drill_id)
    session.commit()
    return RedirectResponse(f"/drills/{drill_id}", status_code=303)
