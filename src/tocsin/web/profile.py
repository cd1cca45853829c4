"""My profile: everyone changes their own name, time zone and password here.

Changing one's password needs the current one (a session left open on a shared machine
must not be enough to take the account over). The change ends every session of the
user, as an admin's reset does, and then opens a new one for this browser: the other
browsers are logged out, this one is not.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tocsin.api.deps import CurrentClock, DbSession, State
from tocsin.errors import TocsinError, ValidationFailed
from tocsin.services import directory, passwords, web_sessions
from tocsin.web.auth import COOKIE, Viewer, WebUser, mark_web
from tocsin.web.settings_support import form_errors, render
from tocsin.web.settings_users import COMMON_ZONES

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_web)])


def _page(
    request: Request,
    user: WebUser,
    session: DbSession,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    saved: str = "",
) -> Response:
    me = directory.get_user(session, user.email)
    return render(
        request, "settings/profile.html", user, status_code, me=me, errors=errors or {}, zones=COMMON_ZONES, saved=saved
    )


@router.get("/profile", response_class=HTMLResponse)
def profile(
    request: Request, user: Viewer, session: DbSession, saved: Annotated[str, Query(max_length=20)] = ""
) -> Response:
    return _page(request, user, session, saved=saved)


@router.post("/profile", response_class=HTMLResponse)
def update_profile(
    request: Request,
    user: Viewer,
    session: DbSession,
    clock: CurrentClock,
    name: Annotated[str, Form(max_length=200)] = "",
    time_zone: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    try:
        directory.update_user(session, user.actor, clock.now(), user.email, name=name, time_zone=time_zone.strip())
    except TocsinError as exc:
        session.rollback()
        status, errors = form_errors(exc)
        return _page(request, user, session, status, errors)
    session.commit()
    return RedirectResponse("/profile?saved=details", status_code=303)


@router.post("/profile/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    user: Viewer,
    session: DbSession,
    clock: CurrentClock,
    state: State,
    current_password: Annotated[str, Form(max_length=1024)] = "",
    new_password: Annotated[str, Form(max_length=1024)] = "",
    confirm_password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    me = directory.get_user(session, user.email)
    try:
        if not passwords.verify(me.password_hash, current_password):
            raise ValidationFailed("that is not your current password", field="current_password")
        if new_password != confirm_password:
            raise ValidationFailed("the two new passwords differ", field="confirm_password")
        passwords.set_password(session, user.actor, clock.now(), user.email, new_password)
        opened = web_sessions.log_in(
            session, clock.now(), user.email, new_password, request.headers.get("user-agent", "")
        )
    except TocsinError as exc:
        session.rollback()
        status, errors = form_errors(exc)
        if errors.keys() == {"password"}:
            errors = {"new_password": errors["password"]}
        return _page(request, user, session, status, errors)
    session.commit()
    response = RedirectResponse("/profile?saved=password", status_code=303)
    # As the login form sets it (web/auth_routes.py).
    response.set_cookie(
        COOKIE,
        opened.secret,
        max_age=int(web_sessions.MAX_AGE.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=state.settings.public_url.startswith("https://"),
        path="/",
    )
    return response
