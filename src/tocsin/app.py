"""The ASGI application: routes, error mapping, body limit, request logs and metrics."""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import unquote_plus

import structlog
import uvloop
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from prometheus_client import Counter, Histogram
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from swagger_ui_bundle import swagger_ui_path

from tocsin import __version__
from tocsin.api import fastpath, problems
from tocsin.api.crash_writer import CrashWriter
from tocsin.api.deps import AppState
from tocsin.api.ingest import IngestWriter, IntegrationCache, RateLimiter, SignalWriter
from tocsin.api.ingest_process import RemoteWriter, serve_writer
from tocsin.api.ping_writer import PingWriter
from tocsin.api.routes import (
    ack,
    action_items,
    alerts,
    calendars,
    changes,
    channels,
    checks,
    crashes,
    directory,
    drills,
    github,
    heartbeats,
    incidents,
    ingest,
    ingest_more,
    notify,
    operations,
    paging,
    postmortems,
    readiness,
    reports,
    runbooks,
    simulate,
    status_page,
    templates,
    tokens,
)
from tocsin.clock import Clock
from tocsin.clock import from_env as clock_from_env
from tocsin.config import Settings
from tocsin.engine.checks import CheckSettings
from tocsin.engine.checks import Scheduler as CheckScheduler
from tocsin.engine.modules import default_modules
from tocsin.engine.runner import Runner
from tocsin.observability import HTTP_LATENCY, HTTP_REQUESTS, configure_logging
from tocsin.storage.db import make_engine, make_sessionmaker
from tocsin.web import site as web_site

log = structlog.get_logger("tocsin.http")


class BodyLimit:
    """Refuse bodies over the limit with 413 before any handler reads them.

    A declared Content-Length is checked up front. A body without one (chunked)
    is read here, up to the limit, and replayed to the app: handlers never see
    half of an oversized body, and the limit cannot be dodged by leaving the
    header out.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        length = headers.get(b"content-length")
        if length is not None:
            if length.isdigit() and int(length) > self.max_bytes:
                await self._refuse(send)
                return
            await self.app(scope, receive, send)
            return
        if headers.get(b"transfer-encoding") is None:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, receive, send)  # the client went away; let the app see it
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        response = problems.problem(
            413, "Request too large", f"the request body exceeds the limit of {self.max_bytes} bytes"
        )
        await send({"type": "http.response.start", "status": 413, "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})


class Observe:
    """Metrics and one log line per request, and the NUL guard: plain ASGI, because
    Starlette's BaseHTTPMiddleware costs more than the ingest handlers themselves."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # (method, route, status) → its counter and (method, route) histogram: looked up
        # once, since `labels()` costs more per request than a dictionary.
        self._metrics: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # A %00 in a path or query value would reach PostgreSQL, which cannot store it.
        if "\x00" in scope["path"] or "\x00" in unquote_plus(scope.get("query_string", b"").decode("latin-1")):
            await problems.problem(400, "Bad request", "the URL must not contain NUL characters")(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            # The route's template, not the URL: ingest URLs carry secret keys.
            path = getattr(route, "path", "unmatched")
            method = scope["method"]
            metrics = self._metrics.get((method, path, status))
            if metrics is None:
                if len(self._metrics) > 10_000:  # unmatched paths are one label; still, bounded
                    self._metrics.clear()
                metrics = HTTP_REQUESTS.labels(method, path, str(status)), HTTP_LATENCY.labels(method, path)
                self._metrics[(method, path, status)] = metrics
            metrics[0].inc()
            metrics[1].observe(elapsed)
            log.info("request", method=method, path=path, status=status, ms=round(elapsed * 1000, 1))


class Tocsin(FastAPI):
    """FastAPI, with the request log, the body limit and the ingest fast path in
    front of its own middleware stack.

    Middleware added with `add_middleware` runs inside Starlette's layers (error
    pages, exception mapping, its own body limit, telemetry), which cost about a
    fifth of the event loop per ingest request. Here those three run first, and
    only what the fast path does not take enters FastAPI's stack."""

    max_body_bytes: int = 1024 * 1024
    fast_path: bool = True  # tests compare the answers with it off
    _front: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan and websockets: FastAPI's own business
            await super().__call__(scope, receive, send)
            return
        if self._front is None:
            inner: ASGIApp = self._framework
            if self.fast_path:
                inner = fastpath.IngestFastPath(inner)
            self._front = BodyLimit(Observe(inner), self.max_body_bytes)
        # Handlers reach the app's state through the scope, as behind FastAPI.
        scope["app"] = self
        await self._front(scope, receive, send)

    async def _framework(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings,
    clock: Clock,
    sessions: sessionmaker[Session],
    runner: Runner | None = None,
    writer: SignalWriter | None = None,
    check_scheduler: CheckScheduler | None = None,
) -> Tocsin:
    writer = writer or IngestWriter(sessions, clock)
    pings = PingWriter(sessions, clock)
    crash_writer = CrashWriter(sessions, clock)
    if runner is not None:
        writer.on_opened = runner.wake

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        writer.start()
        pings.start()
        crash_writer.start()
        # The engine lives as long as the server: uvicorn runs the shutdown half on
        # SIGTERM/SIGINT, so the cycle in progress finishes before the process exits.
        thread = None
        if runner is not None:
            thread = threading.Thread(
                target=runner.run_forever, args=(settings.engine_interval_s,), name="tocsin-engine", daemon=True
            )
            thread.start()
        # Health checks run in a loop of their own: the engine's cycle is too coarse for their slots.
        check_thread = _start_checks(check_scheduler)
        yield
        _stop_checks(check_scheduler, check_thread)
        pings.stop()
        writer.stop()
        crash_writer.stop()
        if runner is not None and thread is not None:
            runner.stop()
            thread.join(timeout=30)

    app = Tocsin(
        lifespan=lifespan,
        title="Tocsin",
        version=__version__,
        description="Self-hosted incident response. Authenticate with `Authorization: Bearer <token>`.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    # An incident declared through the API pages at once, like one an alert opens: the engine runs
    # here, or in the writer process of `tocsin serve --workers N` on SQLite.
    wake_engine = runner.wake if runner is not None else writer.wake if isinstance(writer, RemoteWriter) else None
    app.state.tocsin = AppState(settings=settings, clock=clock, sessions=sessions, wake_engine=wake_engine)
    app.state.ingest_writer = writer
    pings.on_opened = wake_engine
    app.state.ping_writer = pings
    app.state.crash_writer = crash_writer
    app.state.integration_cache = IntegrationCache(sessions)
    app.state.rate_limiter = RateLimiter(settings.ingest_rate, settings.ingest_burst)
    problems.install(app)
    for module in (
        operations,
        incidents,
        directory,
        tokens,
        ingest,
        ingest_more,
        alerts,
        paging,
        ack,
        notify,
        calendars,
        simulate,
        channels,
        heartbeats,
        github,
        changes,
        crashes,
        checks,
        status_page,
        drills,
        reports,
        readiness,
        runbooks,
        postmortems,
        action_items,
        templates,
    ):
        app.include_router(module.router)
    app.mount(operations.DOCS_STATIC, StaticFiles(directory=str(swagger_ui_path)), name="docs-static")
    web_site.install(app)

    app.max_body_bytes = settings.max_body_bytes
    return app


def from_env() -> FastAPI:
    """The app of one `tocsin serve` worker, from `TOCSIN_*` alone.

    uvicorn calls this in each worker process it spawns, so every worker has its
    own logging set-up, database engine, ingest writer and engine runner.
    """
    settings = Settings.from_env()
    configure_logging(json=settings.log_json, level=settings.log_level)
    clock = clock_from_env(dict(os.environ))
    sessions = make_sessionmaker(make_engine(settings.database_url))
    tune_gc()
    if settings.ingest_socket:
        # An HTTP worker on SQLite: the writer process commits its signals and runs the engine.
        return create_app(settings, clock, sessions, writer=RemoteWriter(settings.ingest_socket, sessions, clock))
    runner = None
    if settings.engine_enabled:
        # Workers of one server share its instance id; a lease names the process that holds it.
        holder = settings.instance_id if settings.workers == 1 else f"{settings.instance_id}/{os.getpid()}"
        runner = Runner(sessions, clock, default_modules(settings), holder=holder)
    return create_app(settings, clock, sessions, runner, check_scheduler=_check_scheduler(sessions, clock, runner))


def _check_scheduler(sessions: sessionmaker[Session], clock: Clock, runner: Runner | None) -> CheckScheduler | None:
    """The health-check scheduler of a process that runs the engine (TOCSIN_CHECKS=off: none)."""
    check_settings = CheckSettings.from_env()
    if runner is None or not check_settings.enabled:
        return None
    return CheckScheduler(sessions, clock, runner.holder, check_settings, on_opened=runner.wake)


def _start_checks(scheduler: CheckScheduler | None) -> threading.Thread | None:
    if scheduler is None:
        return None
    thread = threading.Thread(target=scheduler.run_forever, name="tocsin-checks", daemon=True)
    thread.start()
    return thread


def _stop_checks(scheduler: CheckScheduler | None, thread: threading.Thread | None) -> None:
    if scheduler is not None and thread is not None:
        scheduler.stop()
        thread.join(timeout=30)


def tune_gc() -> None:
    """Garbage collection for a long-running server, called once start-up is done.

    What start-up built (modules, the app, SQLAlchemy's compiled statements) lives
    as long as the process: frozen, a full collection under load no longer walks
    it (on a running server one took about 150 ms, a pause for every page and request
    in flight); collected first, so no garbage is frozen with it. And the young
    generation is collected after 50,000 allocations instead of 700: an ingest request
    allocates hundreds, so the default collected several times a batch, and the pauses
    were most of the ingest p99 (bench/README.md)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def writer_main(socket_path: str) -> None:
    """The writer process of `tocsin serve --workers N` on SQLite: the one ingest writer
    for every HTTP worker, and the engine (whose pages an opened incident wakes at once)."""
    settings = Settings.from_env()
    configure_logging(json=settings.log_json, level=settings.log_level)
    clock = clock_from_env(dict(os.environ))
    sessions = make_sessionmaker(make_engine(settings.database_url))
    tune_gc()
    writer = IngestWriter(sessions, clock)
    runner = None
    thread = None
    if settings.engine_enabled:
        runner = Runner(sessions, clock, default_modules(settings), holder=settings.instance_id)
        writer.on_opened = runner.wake
        thread = threading.Thread(
            target=runner.run_forever, args=(settings.engine_interval_s,), name="tocsin-engine", daemon=True
        )
        thread.start()
    check_scheduler = _check_scheduler(sessions, clock, runner)
    check_thread = _start_checks(check_scheduler)
    writer.start()
    try:
        uvloop.run(serve_writer(socket_path, writer, runner.wake if runner is not None else None))
    finally:
        _stop_checks(check_scheduler, check_thread)
        writer.stop()
        if runner is not None and thread is not None:
            runner.stop()
            thread.join(timeout=30)
