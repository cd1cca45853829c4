"""The ingest URLs served as plain ASGI, in front of FastAPI's router.

Under an alert storm FastAPI's routing and dependency machinery costs about a
third of an ingest request. `IngestFastPath` matches the ingest URLs itself and
calls the very functions the documented routes are (so the answers and the
OpenAPI document stay one); every other method or path goes on to FastAPI.

A template is matched without a regular expression: an exact path, a last
segment (`/{key}`), a prefix and a suffix around Opsgenie's
`{identifier:path}`, which, like Starlette's `path` convertor, may hold slashes
or be empty, or a prefix before a last `{rest:path}` (the heartbeat ping URLs,
whose handler reads `<uuid>[/<action>]` itself).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from tocsin.api.routes import crashes, heartbeats, ingest, ingest_more

# The request, and the path parameter ("" for a template without one).
Handler = Callable[[Request, str], Awaitable[Response]]

POST = frozenset({"POST"})
POST_OR_PUT = frozenset({"POST", "PUT"})
PING_METHODS = frozenset(heartbeats.PING_METHODS)


@dataclass(frozen=True, slots=True)
class Template:
    """One fast-path URL. It is also what `scope["route"]` holds for the request:
    the request log and the metrics name it by `path`, never by the URL, which
    carries the integration key."""

    path: str
    methods: frozenset[str]
    handler: Handler


async def _genie_acknowledge(request: Request, identifier: str) -> Response:
    return await ingest_more.opsgenie_acknowledge(identifier, request, ingest_more.identifier_type_of(request))


async def _genie_close(request: Request, identifier: str) -> Response:
    return await ingest_more.opsgenie_close(identifier, request, ingest_more.identifier_type_of(request))


ROUTES: tuple[Template, ...] = (
    Template("/api/v1/events", POST, lambda request, _: ingest.events(request)),
    Template("/api/v1/events/{key}", POST, lambda request, key: ingest.events_keyed(key, request)),
    Template("/v2/enqueue", POST, lambda request, _: ingest.pagerduty_enqueue(request)),
    Template("/v2/change/enqueue", POST, lambda request, _: ingest.pagerduty_change(request)),
    Template("/api/v1/integrations/alertmanager", POST, lambda request, _: ingest.alertmanager_webhook(request)),
    Template(
        "/api/v1/integrations/alertmanager/{key}",
        POST,
        lambda request, key: ingest.alertmanager_webhook_keyed(key, request),
    ),
    Template("/v2/alerts", POST, lambda request, _: ingest_more.opsgenie_create(request)),
    Template("/v2/alerts/{identifier:path}/acknowledge", POST, _genie_acknowledge),
    Template("/v2/alerts/{identifier:path}/close", POST, _genie_close),
    Template("/api/v1/integrations/grafana", POST_OR_PUT, lambda request, _: ingest_more.grafana_webhook(request)),
    Template(
        "/api/v1/integrations/grafana/{key}",
        POST_OR_PUT,
        lambda request, key: ingest_more.grafana_webhook_keyed(key, request),
    ),
    Template("/api/v1/integrations/generic", POST, lambda request, _: ingest_more.generic_webhook(request)),
    Template(
        "/api/v1/integrations/generic/{key}", POST, lambda request, key: ingest_more.generic_webhook_keyed(key, request)
    ),
    # A fleet of cron jobs pings thousands of times a second (bench/heartbeats.py).
    Template("/ping/{rest:path}", PING_METHODS, heartbeats.ping_path),
    # Sentry SDKs: a crash loop in a released app sends thousands of envelopes a second (bench/crashes.py).
    # The handler refuses a project id that is no number, as the DSN's last part always is.
    Template(
        "/api/{project_id:path}/envelope/", POST, lambda request, project: crashes.sentry_envelope(project, request)
    ),
    Template("/api/{project_id:path}/store/", POST, lambda request, project: crashes.sentry_store(project, request)),
)


class Dispatcher:
    """Path → template and its parameter, matched as Starlette's router matches them."""

    def __init__(self, templates: Iterable[Template]) -> None:
        self._exact: dict[str, Template] = {}
        self._last_segment: dict[str, Template] = {}  # "/api/v1/events" → "/api/v1/events/{key}"
        self._around: list[tuple[str, str, Template]] = []  # prefix, suffix
        self._prefixed: list[tuple[str, Template]] = []  # "/ping/" → "/ping/{rest:path}"
        for template in templates:
            prefix, brace, rest = template.path.partition("{")
            name, _, suffix = rest.partition("}")
            if not brace:
                self._exact[template.path] = template
            elif not suffix and ":" not in name:
                # `{key}` is Starlette's `str` convertor: one non-empty segment.
                self._last_segment[prefix.removesuffix("/")] = template
            elif name.endswith(":path") and prefix.endswith("/") and suffix.startswith("/"):
                self._around.append((prefix, suffix, template))
            elif name.endswith(":path") and prefix.endswith("/") and not suffix:
                self._prefixed.append((prefix, template))
            else:
                raise ValueError(f"the fast path cannot match {template.path!r}")

    def match(self, path: str) -> tuple[Template, str] | None:
        found = self._exact.get(path)
        if found is not None:
            return found, ""
        head, _, last = path.rpartition("/")
        found = self._last_segment.get(head)
        if found is not None and last:
            return found, last
        for prefix, suffix, template in self._around:
            if path.startswith(prefix) and path.endswith(suffix) and len(path) >= len(prefix) + len(suffix):
                return template, path[len(prefix) : len(path) - len(suffix)]
        for prefix, template in self._prefixed:
            if path.startswith(prefix):
                return template, path[len(prefix) :]
        return None


class IngestFastPath:
    """ASGI middleware: ingest requests to their handlers directly, the rest to FastAPI."""

    def __init__(self, app: ASGIApp, templates: Iterable[Template] = ROUTES) -> None:
        self.app = app
        self.dispatcher = Dispatcher(templates)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Behind a root path Starlette matches on what follows it; leave that case to it.
        if scope["type"] == "http" and not scope.get("root_path"):
            matched = self.dispatcher.match(scope["path"])
            if matched is not None and scope["method"] in matched[0].methods:
                template, parameter = matched
                scope["route"] = template
                request = Request(scope, receive)
                try:
                    response = await template.handler(request, parameter)
                except Exception as exc:
                    response = await _handled(scope, request, exc)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _handled(scope: Scope, request: Request, exc: Exception) -> Response:
    """The answer the app's exception handlers give, as they would behind FastAPI's router
    (problem+json for a TocsinError); anything they do not handle is raised on, to the
    server-error middleware, as it would be from a route."""
    handlers = scope["app"].exception_handlers
    for kind in type(exc).__mro__:
        handler = handlers.get(kind)
        if handler is not None:
            answer = handler(request, exc)
            response: Response = await answer if inspect.isawaitable(answer) else answer
            return response
    raise exc
