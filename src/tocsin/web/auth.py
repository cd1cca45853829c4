"""Who is looking at a page: the session cookie, the user's role, and CSRF.

Every responder page depends on `Viewer`, `Responder` or `WebAdmin`. Without a
session the browser is sent to the login page (an HTMX request gets `HX-Redirect`,
since a redirect inside a swap would render the login form into the page). A role
too small for the page is a 403 page. Every state-changing request must carry the
session's CSRF token, as the form field `csrf_token` or the `X-CSRF-Token` header
(base.html sets that header on every HTMX request); the cookie is SameSite=Lax and
HttpOnly as well."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from tocsin.api.deps import CurrentClock, DbSession
from tocsin.domain.access import Scope, scope_allows, scope_for_role
from tocsin.errors import Forbidden, Unauthenticated
from tocsin.services import web_sessions
from tocsin.services.actor import Actor

COOKIE = "tocsin_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequired(Exception):
    """No valid session: the page answers with the login page (site.py maps it)."""

    def __init__(self, next_url: str, reason: str) -> None:
        super().__init__(reason)
        self.next_url = next_url
        self.reason = reason


class CsrfFailed(Forbidden):
    pass


@dataclass(frozen=True)
class WebUser:
    user_id: int
    email: str
    name: str
    role: str
    time_zone: str
    csrf_token: str

    @property
    def actor(self) -> Actor:
        return Actor(self.user_id, self.name, scope_for_role(self.role))

    def can(self, needed: Scope) -> bool:
        return scope_allows(scope_for_role(self.role), needed)

    @property
    def can_respond(self) -> bool:
        return self.can(Scope.WRITE)

    @property
    def is_admin(self) -> bool:
        return self.can(Scope.ADMIN)


def mark_web(request: Request) -> None:
    """A router dependency: errors on these routes render as pages, not problem+json."""
    request.state.web = True


def _next_url(request: Request) -> str:
    if request.method not in SAFE_METHODS or request.headers.get("hx-request"):
        # After logging in, go back to the page, not to the form post or the fragment.
        current = request.headers.get("hx-current-url") or request.headers.get("referer") or "/"
        path = current.split("://", 1)[-1]
        path = "/" + path.split("/", 1)[1] if "/" in path else "/"
        return path
    query = f"?{request.url.query}" if request.url.query else ""
    return request.url.path + query


async def _csrf_token_sent(request: Request) -> str:
    header = request.headers.get("x-csrf-token")
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get("csrf_token")
        return value if isinstance(value, str) else ""
    return ""


def _session_user(request: Request, session: DbSession, clock: CurrentClock) -> WebUser:
    # A plain function, so FastAPI runs it in the thread pool: on the event loop, its first
    # query (BEGIN IMMEDIATE on SQLite) would wait for a request whose handler already holds
    # the lock, and that request can only finish and release it through the event loop.
    secret = request.cookies.get(COOKIE, "")
    if not secret:
        raise LoginRequired(_next_url(request), "")
    try:
        row = web_sessions.authenticate(session, secret, clock.now())
    except Unauthenticated as exc:
        raise LoginRequired(_next_url(request), exc.message) from None
    if session.dirty:  # the sliding expiry: its own small commit, as API tokens' last use
        session.commit()
    user = row.user
    return WebUser(user.id, user.email, user.name, user.role, user.time_zone, row.csrf_token)


async def current_user(request: Request, web_user: Annotated[WebUser, Depends(_session_user)]) -> WebUser:
    # Async only to read the form for its CSRF token; no database work here (see above).
    if request.method not in SAFE_METHODS:
        sent = await _csrf_token_sent(request)
        if not sent or not hmac.compare_digest(sent, web_user.csrf_token):
            raise CsrfFailed("the form's security token is missing or stale: reload the page and try again")
    request.state.user = web_user
    return web_user


def _needs(scope: Scope) -> Callable[..., Awaitable[WebUser]]:
    async def check(user: Annotated[WebUser, Depends(current_user)]) -> WebUser:
        if not user.can(scope):
            role = {Scope.WRITE: "responder", Scope.ADMIN: "admin"}.get(scope, "viewer")
            raise Forbidden(f"this needs the {role} role; you are a {user.role}")
        return user

    return check


Viewer = Annotated[WebUser, Depends(current_user)]
Responder = Annotated[WebUser, Depends(_needs(Scope.WRITE))]
WebAdmin = Annotated[WebUser, Depends(_needs(Scope.ADMIN))]


def login_location(next_url: str) -> str:
    return "/login?next=" + quote(next_url, safe="/")
