"""The ASGI application: routes, error mapping, body limit, request logs and metrics."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from swagger_ui_bundle import swagger_ui_path

from tocsin import __version__
from tocsin.api import problems
from tocsin.api.deps import AppState
from tocsin.api.routes import directory, incidents, operations, tokens
from tocsin.clock import Clock
from tocsin.config import Settings
from tocsin.observability import HTTP_LATENCY, HTTP_REQUESTS

log = structlog.get_logger("tocsin.http")


class BodyLimit:
    """Refuse bodies over the limit with 413 before any handler reads them.

    Checks Content-Length up front and counts chunked bodies as they stream, so
    a client cannot get around the limit by leaving the header out.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._refuse(send)
                return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        response = problems.problem(
            413, "Request too large", f"the request body exceeds the limit of {self.max_bytes} bytes"
        )
        await send({"type": "http.response.start", "status": 413, "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})


class _TooLarge(Exception):
    pass


def create_app(settings: Settings, clock: Clock, sessions: sessionmaker[Session]) -> FastAPI:
    app = FastAPI(
        title="Tocsin",
        version=__version__,
        description="Self-hosted incident response. Authenticate with `Authorization: Bearer <token>`.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.tocsin = AppState(settings=settings, clock=clock, sessions=sessions)
    problems.install(app)
    for module in (operations, incidents, directory, tokens):
        app.include_router(module.router)
    app.mount(operations.DOCS_STATIC, StaticFiles(directory=str(swagger_ui_path)), name="docs-static")

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        elapsed = time.perf_counter() - started
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        HTTP_REQUESTS.labels(request.method, path, str(response.status_code)).inc()
        HTTP_LATENCY.labels(request.method, path).observe(elapsed)
        log.info(
            "request",
            method=request.method,
            path=request.url.path,
            status=response.status_code,
            ms=round(elapsed * 1000, 1),
        )
        return response

    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app
