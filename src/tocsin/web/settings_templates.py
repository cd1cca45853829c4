"""Settings → message templates: everyone logged in reads them and previews them (with an incident
of their choosing or a sample one); admins save an edit or go back to the shipped default."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tocsin.api.deps import CurrentClock, DbSession, State
from tocsin.domain.message_templates import NAMES
from tocsin.errors import Forbidden, TocsinError
from tocsin.services import incidents, message_templates
from tocsin.web.auth import Viewer, WebUser, mark_web
from tocsin.web.settings_support import form_errors, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_web)])


@router.get("/settings/templates", response_class=HTMLResponse)
def templates_list(request: Request, user: Viewer, session: DbSession) -> Response:
    return render(
        request,
        "settings/templates.html",
        user,
        items=message_templates.list_templates(session),
        saved=request.query_params.get("saved"),
    )


def _form(
    request: Request,
    user: WebUser,
    session: DbSession,
    key: str,
    *,
    body: str | None = None,
    incident: str = "",
    preview: str | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    view = message_templates.get(session, key)
    return render(
        request,
        "settings/template_form.html",
        user,
        status_code,
        template=view,
        body=view.body if body is None else body,
        incident=incident,
        preview=preview,
        names=NAMES,
        errors=errors or {},
        saved=request.query_params.get("saved"),
    )


@router.get("/settings/templates/{key}", response_class=HTMLResponse)
def template_page(request: Request, user: Viewer, session: DbSession, key: str) -> Response:
    return _form(request, user, session, key)


@router.post("/settings/templates/{key}", response_class=HTMLResponse)
def template_action(
    request: Request,
    user: Viewer,
    session: DbSession,
    clock: CurrentClock,
    state: State,
    key: str,
    action: Annotated[str, Form(max_length=20)] = "preview",
    body: Annotated[str, Form(max_length=20_000)] = "",
    incident: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """One form, three buttons: preview (anyone), save and reset (admins)."""
    now = clock.now()
    try:
        if action == "preview":
            chosen = incidents.get(session, incident.strip()) if incident.strip() else None
            text = message_templates.render_for(session, key, chosen, now, state.settings.public_url, body)
            return _form(request, user, session, key, body=body, incident=incident, preview=text)
        if not user.is_admin:
            raise Forbidden("only an admin changes message templates")
        if action == "reset":
            message_templates.reset(session, user.actor, now, key)
        else:
            message_templates.save(session, user.actor, now, key, body)
    except TocsinError as exc:
        session.rollback()
        status, errors = form_errors(exc)
        if exc.field == "incident":
            errors = {"incident": exc.message}
        return _form(request, user, session, key, body=body, incident=incident, errors=errors, status_code=status)
    session.commit()
    return RedirectResponse(f"/settings/templates/{key}?saved={action}", status_code=303)
