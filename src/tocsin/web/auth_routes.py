"""Logging in and out of the responders' app."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tocsin.api.deps import CurrentClock, DbSession, State
from tocsin.errors import Unauthenticated
from tocsin.services import web_sessions
from tocsin.web.auth import COOKIE, Viewer, mark_web
from tocsin.web.templating import templates

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_web)])


def _safe_next(next_url: str) -> str:
    # Only a path on this server: "//evil.example" or "https://…" would send a fresh
    # login to someone else's page.
    if not next_url.startswith("/") or next_url.startswith("//") or "\\" in next_url:
        return "/"
    return next_url


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/", reason: str = "") -> Response:
    return templates.TemplateResponse(
        request, "login.html", {"next": _safe_next(next), "error": reason, "email": "", "user": None}
    )


@router.post("/login", response_class=HTMLResponse)
def log_in(
    request: Request,
    session: DbSession,
    clock: CurrentClock,
    state: State,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    try:
        opened = web_sessions.log_in(session, clock.now(), email, password, request.headers.get("user-agent", ""))
    except Unauthenticated as exc:
        context = {"next": _safe_next(next), "error": exc.message, "email": email, "user": None}
        return templates.TemplateResponse(request, "login.html", context, status_code=401)
    session.commit()
    response = RedirectResponse(_safe_next(next), status_code=303)
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


@router.post("/logout")
def log_out(request: Request, session: DbSession, _user: Viewer) -> Response:
    web_sessions.log_out(session, request.cookies.get(COOKIE, ""))
    session.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
