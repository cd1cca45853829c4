"""The public status page: HTML under /status, Statuspage's JSON under /api/v2, RSS and Atom.

No authentication: everything here is public, and only what services.status_page_view
makes public is printed. Every answer comes through the page's cache
(web.status_cache): a hit is answered on the event loop with no database work, a
miss reads and renders in a worker thread.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from tocsin.api.deps import AppState
from tocsin.errors import NotFound, ValidationFailed
from tocsin.services import status_page_json as status_json
from tocsin.services import status_page_subscribers as subscribers
from tocsin.services import status_page_view as view
from tocsin.web import status_feeds
from tocsin.web.status_cache import Rendered, StatusCache, reading_sessions
from tocsin.web.templating import templates

router = APIRouter(include_in_schema=False)

RECENT = timedelta(days=14)
HTML = "text/html; charset=utf-8"
JSON = "application/json"
# Readers may keep an answer this long, then revalidate with the ETag (a 304 costs nothing).
CACHE_CONTROL = "public, max-age=5"
_cache_lock = threading.Lock()
# HEAD too: uptime monitors watching the status page ask with it.
READ = ["GET", "HEAD"]


def cache_for(app: Any) -> StatusCache:
    """The app's status page cache, made on first use."""
    app_state = app.state
    cache: StatusCache | None = getattr(app_state, "status_cache", None)
    if cache is None:
        with _cache_lock:
            cache = getattr(app_state, "status_cache", None)
            if cache is None:
                state: AppState = app_state.tocsin
                cache = StatusCache(reading_sessions(state.sessions), state.clock)
                app_state.status_cache = cache
    return cache


def cache_of(request: Request) -> StatusCache:
    return cache_for(request.app)


def _public_url(request: Request) -> str:
    state: AppState = request.app.state.tocsin
    return state.settings.public_url


def _headers(rendered: Rendered) -> dict[str, str]:
    headers = {"ETag": rendered.etag, "Cache-Control": CACHE_CONTROL}
    if rendered.media_type == JSON:
        # Statuspage's JSON is read by widgets on other sites.
        headers["Access-Control-Allow-Origin"] = "*"
    return headers


def _response(rendered: Rendered, method: str, if_none_match: str) -> Response:
    headers = _headers(rendered)
    if rendered.status_code == 200 and rendered.etag in if_none_match:
        return Response(status_code=304, headers=headers)
    if method == "HEAD":
        return Response(status_code=rendered.status_code, media_type=rendered.media_type, headers=headers)
    return Response(rendered.body, status_code=rendered.status_code, media_type=rendered.media_type, headers=headers)


async def _serve(request: Request, key: str, render: Callable[[Session, datetime], Rendered]) -> Response:
    cache = cache_of(request)
    rendered = cache.peek(key)
    if rendered is None:
        rendered = await run_in_threadpool(cache.get, key, render)
    return _response(rendered, request.method, request.headers.get("if-none-match", ""))


class CachedPages:
    """Plain ASGI in front of FastAPI's router: a GET or HEAD of a status page URL without a
    query whose answer is in the cache is answered here, with no routing (FastAPI matches a
    path against every router's routes in turn, which cost more than the whole answer). A
    miss, and everything else, goes on to the router and the handlers below, which render,
    fill the cache and answer the same bytes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in READ and not scope.get("query_string"):
            key = FAST_KEYS.get(scope["path"])
            if key is not None:
                rendered = cache_for(scope["app"]).peek(key)
                if rendered is not None:
                    scope["route"] = _ROUTE_NAMES[key]  # what the request log and metrics call it
                    if_none_match = ""
                    for name, value in scope["headers"]:
                        if name == b"if-none-match":
                            if_none_match = value.decode("latin-1")
                    await _response(rendered, scope["method"], if_none_match)(scope, receive, send)
                    return
        await self.app(scope, receive, send)


@dataclass(frozen=True)
class _Named:
    path: str


def _html(name: str, context: dict[str, Any], status_code: int = 200) -> Rendered:
    body = templates.get_template(name).render(context).encode()
    return Rendered.of(body, HTML, status_code)


def _json(document: Any) -> Rendered:
    return Rendered.of(orjson.dumps(document), JSON)


# ---- HTML ------------------------------------------------------------------------------------


@router.api_route("/status", methods=READ)
async def status_home(request: Request) -> Response:
    public_url = _public_url(request)

    def render(session: Session, now: datetime) -> Rendered:
        snapshot = view.snapshot(session, now, public_url)
        recent = [i for i in view.incidents(session, limit=20) if i.resolved and i.updated_at >= now - RECENT]
        return _html("status/home.html", {"page": snapshot.page, "snapshot": snapshot, "recent": recent})

    return await _serve(request, "home", render)


@router.api_route("/status/history", methods=READ)
async def status_history(request: Request, page: str = "1") -> Response:
    public_url = _public_url(request)
    number = int(page) if page.isascii() and page.isdigit() and 0 < len(page) < 7 else 0

    def render(session: Session, now: datetime) -> Rendered:
        about = view.page(session, public_url, now)
        if number < 1:
            return _message(about, "Not found", "There is no such page of the history.", 404)
        incidents, total = view.history(session, number)
        pages = max(1, -(-total // view.HISTORY_PAGE))
        if number > pages:
            return _message(about, "Not found", "There is no such page of the history.", 404)
        context = {
            "page": about,
            "incidents": incidents,
            "names": view.component_names(session),
            "number": number,
            "pages": pages,
        }
        return _html("status/history.html", context)

    return await _serve(request, f"history:{number}", render)


@router.api_route("/status/incidents/{incident_id}", methods=READ)
async def status_incident(request: Request, incident_id: str) -> Response:
    public_url = _public_url(request)
    number = int(incident_id) if incident_id.isascii() and incident_id.isdigit() and len(incident_id) < 19 else None

    def render(session: Session, now: datetime) -> Rendered:
        about = view.page(session, public_url, now)
        found = view.incident(session, number) if number is not None else None
        if found is None:
            return _message(about, "Not found", "There is no such incident on this page.", 404)
        context = {"page": about, "incident": found, "names": view.component_names(session)}
        return _html("status/incident.html", context)

    return await _serve(request, f"incident:{number}", render)


def _message(page: view.Page, heading: str, text: str, status_code: int = 200, **extra: Any) -> Rendered:
    return _html("status/message.html", {"page": page, "heading": heading, "text": text, **extra}, status_code)


# ---- feeds ----------------------------------------------------------------------------------


@router.api_route("/status/feed.rss", methods=READ)
async def status_rss(request: Request) -> Response:
    public_url = _public_url(request)

    def render(session: Session, now: datetime) -> Rendered:
        body = status_feeds.rss(view.page(session, public_url, now), view.incidents(session), now)
        return Rendered.of(body, "application/rss+xml; charset=utf-8")

    return await _serve(request, "rss", render)


@router.api_route("/status/feed.atom", methods=READ)
async def status_atom(request: Request) -> Response:
    public_url = _public_url(request)

    def render(session: Session, now: datetime) -> Rendered:
        body = status_feeds.atom(view.page(session, public_url, now), view.incidents(session), now)
        return Rendered.of(body, "application/atom+xml; charset=utf-8")

    return await _serve(request, "atom", render)


# ---- Statuspage's JSON ------------------------------------------------------------------------


def _snapshot_json(request: Request, key: str, build: Callable[[view.Snapshot], dict[str, Any]]) -> Awaitable[Response]:
    public_url = _public_url(request)

    def render(session: Session, now: datetime) -> Rendered:
        return _json(build(view.snapshot(session, now, public_url, bars=False)))

    return _serve(request, key, render)


@router.api_route("/api/v2/summary.json", methods=READ)
async def summary_json(request: Request) -> Response:
    return await _snapshot_json(request, "summary.json", status_json.summary)


@router.api_route("/api/v2/status.json", methods=READ)
async def status_json_doc(request: Request) -> Response:
    return await _snapshot_json(
        request, "status.json", lambda s: {"page": status_json.page(s.page), "status": status_json.status(s)}
    )


@router.api_route("/api/v2/components.json", methods=READ)
async def components_json(request: Request) -> Response:
    return await _snapshot_json(
        request,
        "components.json",
        lambda s: {"page": status_json.page(s.page), "components": status_json.components(s)},
    )


@router.api_route("/api/v2/incidents/unresolved.json", methods=READ)
async def unresolved_json(request: Request) -> Response:
    return await _snapshot_json(
        request,
        "incidents/unresolved.json",
        lambda s: {
            "page": status_json.page(s.page),
            "incidents": [
                status_json.incident(i, s.component_names, f"{s.page.url}/incidents/{i.id}") for i in s.incidents
            ],
        },
    )


@router.api_route("/api/v2/incidents.json", methods=READ)
async def incidents_json(request: Request) -> Response:
    public_url = _public_url(request)

    def render(session: Session, now: datetime) -> Rendered:
        about = view.page(session, public_url, now)
        names = view.component_names(session)
        listed = [status_json.incident(i, names, f"{about.url}/incidents/{i.id}") for i in view.incidents(session)]
        return _json({"page": status_json.page(about), "incidents": listed})

    return await _serve(request, "incidents.json", render)


def _maintenances_json(
    request: Request, key: str, wanted: Callable[[view.PublicMaintenance], bool]
) -> Awaitable[Response]:
    public_url = _public_url(request)

    def render(session: Session, now: datetime) -> Rendered:
        about = view.page(session, public_url, now)
        names = view.component_names(session)
        listed = [
            status_json.maintenance(m, names, about.url)
            for m in reversed(view.all_maintenances(session, now))
            if wanted(m)
        ]
        return _json({"page": status_json.page(about), "scheduled_maintenances": listed})

    return _serve(request, key, render)


@router.api_route("/api/v2/scheduled-maintenances.json", methods=READ)
async def maintenances_json(request: Request) -> Response:
    return await _maintenances_json(request, "scheduled-maintenances.json", lambda m: True)


@router.api_route("/api/v2/scheduled-maintenances/upcoming.json", methods=READ)
async def upcoming_json(request: Request) -> Response:
    return await _maintenances_json(request, "upcoming.json", lambda m: m.status.value == "scheduled")


@router.api_route("/api/v2/scheduled-maintenances/active.json", methods=READ)
async def active_json(request: Request) -> Response:
    return await _maintenances_json(request, "active.json", lambda m: m.status.value == "in_progress")


# ---- subscriptions: never cached, each a short transaction of its own ----------------------------


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.tocsin
    return state


def _answer(rendered: Rendered) -> Response:
    return Response(
        rendered.body, status_code=rendered.status_code, media_type=rendered.media_type,
        headers={"Cache-Control": "no-store"},
    )  # fmt: skip


def _form_page(
    about: view.Page, heading: str, text: str, action: str, button: str, status_code: int = 200, **form: Any
) -> Rendered:
    return _message(about, heading, text, status_code, form={"action": action, "button": button, "hidden": [], **form})


@router.post("/status/subscribe")
def subscribe(request: Request, email: Annotated[str, Form(max_length=320)] = "") -> Response:
    state = _state(request)
    with state.sessions() as session:
        now = state.clock.now()
        about = view.page(session, state.settings.public_url, now)
        try:
            subscribers.subscribe_email(session, now, email, about)
        except ValidationFailed as exc:
            return _answer(
                _form_page(
                    about,
                    "Check the address",
                    f"{exc.message}.",
                    "/status/subscribe",
                    "Subscribe",
                    422,
                    email=True,
                    email_value=email,
                )
            )
        session.commit()
    wake = state.wake_engine
    if wake is not None:
        wake()
    return _answer(
        _message(
            about,
            "Check your inbox",
            "We have sent a confirmation link to that address. Updates start once you follow it.",
        )
    )


@router.get("/status/subscriptions/confirm/{token}")
def confirm_form(request: Request, token: str) -> Response:
    state = _state(request)
    with state.sessions() as session:
        about = view.page(session, state.settings.public_url, state.clock.now())
    # A button, not the GET itself: mail scanners follow links.
    return _answer(_form_page(about, "Confirm your subscription", "One more click.", request.url.path, "Confirm"))


@router.post("/status/subscriptions/confirm/{token}")
def confirm(request: Request, token: str) -> Response:
    state = _state(request)
    with state.sessions() as session:
        now = state.clock.now()
        about = view.page(session, state.settings.public_url, now)
        try:
            subscribers.confirm(session, now, token)
        except NotFound as exc:
            return _answer(_message(about, "Link not valid", f"{exc.message}.", 404))
        session.commit()
    return _answer(_message(about, "Subscribed", f"You will be told of every update {about.name} posts."))


@router.get("/status/unsubscribe/{token}")
def unsubscribe_form(request: Request, token: str) -> Response:
    state = _state(request)
    with state.sessions() as session:
        about = view.page(session, state.settings.public_url, state.clock.now())
        known = subscribers.by_token(session, token) is not None
    if not known:
        return _answer(_message(about, "Not subscribed", "This address is not subscribed (any more).", 404))
    return _answer(
        _form_page(about, "Unsubscribe", "Stop the e-mails about this page?", request.url.path, "Unsubscribe")
    )


@router.post("/status/unsubscribe/{token}")
def unsubscribe(request: Request, token: str) -> Response:
    """The form's button, and RFC 8058's one click from the mail client (body `List-Unsubscribe=One-Click`)."""
    state = _state(request)
    with state.sessions() as session:
        about = view.page(session, state.settings.public_url, state.clock.now())
        gone = subscribers.unsubscribe(session, token)
        session.commit()
    if not gone:
        return _answer(_message(about, "Not subscribed", "This address is not subscribed (any more).", 404))
    return _answer(_message(about, "Unsubscribed", "You will get no more e-mails from this page."))


# The cached answers `CachedPages` may send without routing: path → cache key (the keys the
# handlers above use).
FAST_KEYS = {
    "/status": "home",
    "/status/feed.rss": "rss",
    "/status/feed.atom": "atom",
    "/api/v2/summary.json": "summary.json",
    "/api/v2/status.json": "status.json",
    "/api/v2/components.json": "components.json",
    "/api/v2/incidents.json": "incidents.json",
    "/api/v2/incidents/unresolved.json": "incidents/unresolved.json",
    "/api/v2/scheduled-maintenances.json": "scheduled-maintenances.json",
    "/api/v2/scheduled-maintenances/upcoming.json": "upcoming.json",
    "/api/v2/scheduled-maintenances/active.json": "active.json",
}
_ROUTE_NAMES = {key: _Named(path) for path, key in FAST_KEYS.items()}
