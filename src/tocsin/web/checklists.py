"""An incident's checklist on its page: ticked and unticked with htmx, which swaps the card
(`incidents/_checklist.html`) in place; without JavaScript the same forms post and come
back to the page. A refused tick (not the item's role holder, the commander or an admin)
shows its reason in the card for htmx, and as the error page (403) otherwise."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from tocsin.api.deps import CurrentClock, DbSession
from tocsin.errors import Conflict, Forbidden, ValidationFailed
from tocsin.services import checklists, incidents
from tocsin.storage.models import Incident
from tocsin.web.auth import Responder, Viewer, WebUser, mark_web
from tocsin.web.templating import templates

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_web)])


def _card(request: Request, session: DbSession, user: WebUser, incident: Incident, error: str = "") -> Response:
    context = {
        "user": user,
        "incident": incident,
        "checklist": checklists.view(session, incident),
        "checklist_error": error,
    }
    return templates.TemplateResponse(request, "incidents/_checklist.html", context)


@router.get("/incidents/{ref}/checklist")
def checklist_card(request: Request, ref: str, user: Viewer, session: DbSession) -> Response:
    return _card(request, session, user, incidents.get(session, ref))


def _tick(
    request: Request, ref: str, number: str, user: WebUser, session: DbSession, clock: CurrentClock, *, done: bool
) -> Response:
    incident = incidents.get(session, ref)
    htmx = bool(request.headers.get("hx-request"))
    try:
        checklists.tick(session, user.actor, clock.now(), incident, number, done=done)
    except (Forbidden, Conflict, ValidationFailed) as exc:
        session.rollback()
        if not htmx:
            raise
        # HTMX swaps nothing on an error status, so this answers 200: the card says why, in place.
        return _card(request, session, user, incidents.get(session, ref), exc.message)
    session.commit()
    if not htmx:
        return RedirectResponse(f"/incidents/{incident.human_id}#checklist", status_code=303)
    return _card(request, session, user, incidents.get(session, ref))


@router.post("/incidents/{ref}/checklist/{number}/tick")
def tick(request: Request, ref: str, number: str, user: Responder, session: DbSession, clock: CurrentClock) -> Response:
    return _tick(request, ref, number, user, session, clock, done=True)


@router.post("/incidents/{ref}/checklist/{number}/untick")
def untick(
    request: Request, ref: str, number: str, user: Responder, session: DbSession, clock: CurrentClock
) -> Response:
    return _tick(request, ref, number, user, session, clock, done=False)
