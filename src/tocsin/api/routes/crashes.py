"""Crash reports: Sentry's ingest endpoints, the plain `POST /api/crashes`, and the API that
manages crash groups.

A Sentry SDK reports to Tocsin by its DSN alone: `http://<key>@<host>/<project id>`
becomes `POST /api/<project id>/envelope/` with the key in `X-Sentry-Auth`, the
`sentry_key` query parameter (browser SDKs) or the envelope header's `dsn`
(tunnels). The project id is the integration's id; a key for another project is
a 403 that stores nothing. Bodies may be gzip, deflate or Brotli, capped after
decompression too. The answer is 200 `{"id": <event id>}` once committed, as
Relay answers; SDKs never retry, so only a real failure is a non-2xx.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter as Metric
from pydantic import BaseModel, Field

from tocsin.api.crash_writer import CrashWriter
from tocsin.api.deps import AppState, CurrentClock, DbSession, Reader, Writer
from tocsin.api.problems import problem
from tocsin.api.routes.ingest import FastJSONResponse, invalid_payload, key_from, machinery, retry_after
from tocsin.api.schemas import Body
from tocsin.integrations import sentry
from tocsin.integrations.errors import BadPayload
from tocsin.observability import INGEST_REJECTED
from tocsin.services import crashes
from tocsin.services.integrations import IntegrationRef, Kind
from tocsin.storage import models

router = APIRouter(tags=["crashes"])

CRASH_ITEMS = Metric(
    "tocsin_crash_items_total", "Envelope items received, by type and what became of them", ["type", "result"]
)
# Browser SDKs post cross-origin; without this the browser hides the answer from them.
_CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "Retry-After, X-Sentry-Rate-Limits"}


def _problem(status: int, title: str, detail: str, field: str | None = None) -> JSONResponse:
    response = problem(status, title, detail, field=field)
    response.headers.update(_CORS)
    return response


async def _project(request: Request, project_id: str, key: str | None) -> IntegrationRef | JSONResponse:
    if not key:
        INGEST_REJECTED.labels("no_key").inc()
        return _problem(
            401, "Unauthenticated", "send the DSN's key as X-Sentry-Auth: Sentry sentry_key=<key>, or ?sentry_key=<key>"
        )
    _writer, cache, _limiter = machinery(request)
    integration = await cache.get(key)
    if integration is None or integration.disabled:
        INGEST_REJECTED.labels("bad_key").inc()
        return _problem(401, "Unauthenticated", "unknown or disabled key", field="sentry_key")
    if integration.kind != Kind.SENTRY:
        INGEST_REJECTED.labels("bad_key").inc()
        return _problem(403, "Forbidden", "this key is not a Sentry project's", field="sentry_key")
    if str(integration.id) != project_id:
        INGEST_REJECTED.labels("bad_key").inc()
        return _problem(403, "Forbidden", f"this key is not for project {project_id}", field="project_id")
    return integration


def _numeric(project_id: str) -> JSONResponse | None:
    if project_id.isdigit() and len(project_id) <= 18:
        return None
    INGEST_REJECTED.labels("bad_payload").inc()
    return _problem(
        400, "Invalid project", "the project id in the URL must be a number (the DSN's last part)", "project_id"
    )


def _unreadable(body: bytes, exc: BadPayload) -> JSONResponse:
    if isinstance(exc, sentry.TooLarge):
        INGEST_REJECTED.labels("too_large").inc()
        return _problem(413, "Request too large", str(exc), field=exc.field)
    if isinstance(exc, sentry.BadRequest):
        INGEST_REJECTED.labels("bad_payload").inc()
        return _problem(400, "Invalid body", str(exc), field=exc.field)
    response = invalid_payload(body, exc, "Invalid envelope")
    response.headers.update(_CORS)
    return response


async def _store(
    request: Request, integration: IntegrationRef, now: datetime, received: tuple[Any, ...]
) -> crashes.Received:
    """Hand the report to the crash writer and wait for the commit that holds it."""
    state: AppState = request.app.state.tocsin
    writer: CrashWriter = request.app.state.crash_writer
    events, sessions, skipped = received
    result = await writer.submit(crashes.Report(integration, events, sessions, dict(skipped)))
    if result.opened and state.wake_engine is not None:
        state.wake_engine()
    if result.stored:
        CRASH_ITEMS.labels("event", "stored").inc(len(result.stored))
    if result.duplicates:
        CRASH_ITEMS.labels("event", "duplicate").inc(len(result.duplicates))
    if result.sessions:
        CRASH_ITEMS.labels("session", "stored").inc(result.sessions)
    for item_type, count in result.skipped.items():
        CRASH_ITEMS.labels(item_type if item_type in _KNOWN_SKIPPED else "other", "skipped").inc(count)
    return result


_KNOWN_SKIPPED = frozenset(
    {"transaction", "attachment", "client_report", "check_in", "log", "span", "profile", "replay_event",
     "replay_recording", "feedback", "user_report", "statsd", "metric_buckets", "profile_chunk", "otel_log"}
)  # fmt: skip


def _throttled(request: Request, integration: IntegrationRef) -> JSONResponse | None:
    _writer, _cache, limiter = machinery(request)
    wait = limiter.take(integration.id, 1)
    if not wait:
        return None
    INGEST_REJECTED.labels("rate_limited").inc()
    response = _problem(429, "Too many requests", "this project is over its rate")
    headers = retry_after(wait)
    response.headers.update({**headers, "X-Sentry-Rate-Limits": f"{headers['Retry-After']}::organization"})
    return response


@router.post("/api/{project_id}/envelope/", include_in_schema=True)
async def sentry_envelope(project_id: str, request: Request) -> JSONResponse:
    """A Sentry envelope (any SDK, `Content-Encoding` gzip, deflate, br or none). Events become crash
    groups, sessions release health; other item types are skipped and counted."""
    if (wrong := _numeric(project_id)) is not None:
        return wrong
    body = await request.body()
    key = sentry.auth_key(
        request.headers.get("x-sentry-auth") or request.headers.get("authorization"), request.query_params
    )
    integration: IntegrationRef | JSONResponse | None = None
    if key is not None:
        # The key is checked before the body is inflated: a stranger's body costs nothing.
        integration = await _project(request, project_id, key)
        if isinstance(integration, JSONResponse):
            return integration
    state: AppState = request.app.state.tocsin
    now = state.clock.now()
    try:
        envelope = sentry.parse_envelope(sentry.decompress(body, request.headers.get("content-encoding")), now)
    except BadPayload as exc:
        return _unreadable(body, exc)
    if not isinstance(integration, IntegrationRef):
        dsn_key, dsn_project = sentry.dsn_key(envelope.header.get("dsn"))
        if dsn_project is not None and dsn_project != project_id:
            return _problem(403, "Forbidden", f"the envelope's DSN is not for project {project_id}", "dsn")
        integration = await _project(request, project_id, dsn_key)
        if isinstance(integration, JSONResponse):
            return integration
    if (limited := _throttled(request, integration)) is not None:
        return limited
    await _store(request, integration, now, (envelope.crashes, envelope.sessions, envelope.skipped))
    answer: dict[str, Any] = {"id": envelope.event_id} if envelope.event_id else {}
    return FastJSONResponse(answer, status_code=200, headers=_CORS)


@router.post("/api/{project_id}/store/")
async def sentry_store(project_id: str, request: Request) -> JSONResponse:
    """Sentry's legacy store endpoint: one event as JSON, for old SDKs."""
    if (wrong := _numeric(project_id)) is not None:
        return wrong
    key = sentry.auth_key(
        request.headers.get("x-sentry-auth") or request.headers.get("authorization"), request.query_params
    )
    integration = await _project(request, project_id, key)
    if isinstance(integration, JSONResponse):
        return integration
    body = await request.body()
    state: AppState = request.app.state.tocsin
    now = state.clock.now()
    try:
        crash = sentry.parse_store(sentry.decompress(body, request.headers.get("content-encoding")), now)
    except BadPayload as exc:
        return _unreadable(body, exc)
    if (limited := _throttled(request, integration)) is not None:
        return limited
    await _store(request, integration, now, ([crash], [], Counter()))
    return FastJSONResponse({"id": crash.event_id}, status_code=200, headers=_CORS)


@router.post("/api/crashes", status_code=202)
async def plain_crash(request: Request) -> JSONResponse:
    """One crash as plain JSON, for an app without a Sentry SDK. Authenticate with a Sentry
    project's key as `Authorization: Bearer <key>`. Body: `type` and `value` (or `message`),
    optional `frames` [{function, module, filename, lineno, in_app}] (outermost first),
    `release`, `environment`, `platform`, `level`, `tags`, `fingerprint`, `event_id`."""
    key = key_from(request)
    if not key:
        INGEST_REJECTED.labels("no_key").inc()
        return problem(401, "Unauthenticated", "send a Sentry project's key as 'Authorization: Bearer <key>'")
    _writer, cache, _limiter = machinery(request)
    integration = await cache.get(key)
    if integration is None or integration.disabled:
        INGEST_REJECTED.labels("bad_key").inc()
        return problem(401, "Unauthenticated", "unknown or disabled key")
    if integration.kind != Kind.SENTRY:
        INGEST_REJECTED.labels("bad_key").inc()
        return problem(403, "Forbidden", "this key is not a Sentry project's: create one with --kind sentry")
    body = await request.body()
    state: AppState = request.app.state.tocsin
    now = state.clock.now()
    try:
        crash = sentry.parse_plain(body, now, uuid.uuid4().hex)
    except BadPayload as exc:
        return invalid_payload(body, exc, "Invalid crash")
    if (limited := _throttled(request, integration)) is not None:
        return limited
    result = await _store(request, integration, now, ([crash], [], Counter()))
    return FastJSONResponse(
        {"status": "duplicate" if result.duplicates else "accepted", "id": crash.event_id}, status_code=202
    )


# ---- managing crash groups ---------------------------------------------------------------


class CrashGroupOut(BaseModel):
    id: int
    project: int = Field(description="The Sentry project (integration) id, the DSN's last part")
    service: str | None
    title: str
    culprit: str
    type: str
    level: str
    status: str = Field(description="open, resolved or ignored")
    count: int
    first_seen: datetime
    last_seen: datetime
    first_release: str
    last_release: str
    releases: list[str]
    platforms: list[str]
    environments: list[str]
    resolved_at: datetime | None
    resolved_in_release: str | None
    regressed_at: datetime | None
    alerting: bool = Field(description="Its alert crash:<id> was raised and not resolved")


class CrashEventOut(BaseModel):
    event_id: str
    received_at: datetime
    occurred_at: datetime | None
    level: str
    release: str
    environment: str
    platform: str
    payload: dict[str, Any] | None = Field(description="Stack trace and context")

    @classmethod
    def of(cls, row: models.CrashEvent) -> CrashEventOut:
        return cls(
            event_id=row.event_id, received_at=row.received_at, occurred_at=row.occurred_at, level=row.level,
            release=row.release, environment=row.environment, platform=row.platform, payload=row.payload,
        )  # fmt: skip


class ReleaseCountOut(BaseModel):
    release: str
    events: int
    last_seen: datetime


class CrashGroupDetailOut(CrashGroupOut):
    first_event: CrashEventOut | None
    samples: list[CrashEventOut] = Field(description="The newest events kept with their stack trace, newest first")
    by_release: list[ReleaseCountOut] = Field(description="Events of the last 30 days per release")


class ResolveCrash(Body):
    release: str | None = Field(
        default=None, max_length=200, description="Fixed in this release (default: the newest seen)"
    )


class ReleaseHealthOut(BaseModel):
    project: int
    service: str
    release: str
    environment: str
    sessions: int
    errored: int
    crashed: int
    abnormal: int
    crash_free: float | None = Field(description="Share of sessions that did not crash, 0-1; null with none")
    crash_groups: int
    last_seen: datetime


def _group_out(session: DbSession, group: models.CrashGroup) -> CrashGroupOut:
    service = session.get(models.Service, group.service_id)
    return CrashGroupOut(**crashes.group_json(group, service.key if service else None))


@router.get("/api/v1/crashes", response_model=list[CrashGroupOut])
def list_crashes(
    _actor: Reader,
    session: DbSession,
    service: str | None = None,
    status: str | None = None,
    level: str | None = None,
    project: int | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[CrashGroupOut]:
    """Crash groups, the most recently seen first."""
    rows = crashes.list_groups(session, service_key=service, status=status, level=level, project=project, limit=limit)
    return [_group_out(session, row) for row in rows]


@router.get("/api/v1/crashes/releases", response_model=list[ReleaseHealthOut])
def crash_releases(
    _actor: Reader,
    session: DbSession,
    clock: CurrentClock,
    service: str | None = None,
    environment: str | None = None,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> list[ReleaseHealthOut]:
    """Release health: sessions and the crash-free rate per release and environment."""
    return [
        ReleaseHealthOut(
            project=h.project,
            service=h.service,
            release=h.release,
            environment=h.environment,
            sessions=h.counts.total,
            errored=h.counts.errored,
            crashed=h.counts.crashed,
            abnormal=h.counts.abnormal,
            crash_free=h.counts.crash_free,
            crash_groups=h.crash_groups,
            last_seen=h.last_seen,
        )
        for h in crashes.releases(session, clock.now(), service_key=service, environment=environment, days=days)
    ]


@router.get("/api/v1/crashes/projects/{project_id}/skipped", response_model=dict[str, int])
def skipped_items(project_id: int, _actor: Reader, session: DbSession) -> dict[str, int]:
    """Envelope items the project sent that Tocsin does not read, counted by type."""
    crashes.project_of(session, project_id)
    return crashes.skipped_items(session, project_id)


@router.get("/api/v1/crashes/{group_id}", response_model=CrashGroupDetailOut)
def show_crash(group_id: int, _actor: Reader, session: DbSession) -> CrashGroupDetailOut:
    """A crash group with its first and newest events (stack traces) and its events per release."""
    found = crashes.detail(session, group_id)
    return CrashGroupDetailOut(
        **crashes.group_json(found.group, found.service),
        first_event=CrashEventOut.of(found.first_event) if found.first_event is not None else None,
        samples=[CrashEventOut.of(row) for row in found.samples],
        by_release=[ReleaseCountOut(release=r, events=n, last_seen=at) for r, n, at in found.releases],
    )


@router.post("/api/v1/crashes/{group_id}/resolve", response_model=CrashGroupOut)
def resolve_crash(
    group_id: int, actor: Writer, session: DbSession, clock: CurrentClock, body: ResolveCrash | None = None
) -> CrashGroupOut:
    """Resolved (in a release): its alert resolves; seen again in a later release, it regresses."""
    row = crashes.resolve(session, actor, clock.now(), group_id, body.release if body else None)
    session.commit()
    return _group_out(session, row)


@router.post("/api/v1/crashes/{group_id}/ignore", response_model=CrashGroupOut)
def ignore_crash(group_id: int, actor: Writer, session: DbSession, clock: CurrentClock) -> CrashGroupOut:
    """Still counted, never alerted on until reopened; its alert resolves."""
    row = crashes.ignore(session, actor, clock.now(), group_id)
    session.commit()
    return _group_out(session, row)


@router.post("/api/v1/crashes/{group_id}/reopen", response_model=CrashGroupOut)
def reopen_crash(group_id: int, actor: Writer, session: DbSession, clock: CurrentClock) -> CrashGroupOut:
    row = crashes.reopen(session, actor, clock.now(), group_id)
    session.commit()
    return _group_out(session, row)
