"""Heartbeats: healthchecks.io-style ping URLs, and the API that manages them.

The ping URLs answer as healthchecks does, in plain text, because the `curl`
lines in people's crontabs read them: `200 OK` once the ping is committed,
`404 not found` for an unknown uuid, `400` for an exit status over 255 or a
`rid` that is no UUID. The uuid in the URL is the key, as with healthchecks,
so they need no token. They stay out of the OpenAPI document: they are
healthchecks' interface, not Tocsin's API.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from tocsin.api.deps import CurrentClock, DbSession, Reader, State, Writer
from tocsin.api.ping_writer import PingWriter
from tocsin.api.schemas import Body
from tocsin.domain import heartbeats as domain
from tocsin.errors import ValidationFailed
from tocsin.services import heartbeats
from tocsin.storage import models

router = APIRouter(tags=["heartbeats"])

_PING_HEADERS = {"Ping-Body-Limit": str(domain.BODY_LIMIT), "Access-Control-Allow-Origin": "*"}
_ACTIONS = {"start": domain.PingKind.START, "fail": domain.PingKind.FAIL, "log": domain.PingKind.LOG}


# ---- ping URLs -----------------------------------------------------------------


def _plain(status: int, text: str) -> PlainTextResponse:
    return PlainTextResponse(text, status_code=status, headers=_PING_HEADERS)


# Answers built once: a response is only read as it is sent, and building one is a tenth of a ping.
_OK = _plain(200, "OK")
_NOT_FOUND = _plain(404, "not found")


def _canonical_uuid(text: str) -> str | None:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


async def _ping(request: Request, code: str, kind: domain.PingKind, exit_status: int | None = None) -> Response:
    heartbeat_uuid = _canonical_uuid(code)
    if heartbeat_uuid is None:
        return _NOT_FOUND
    rid = request.query_params.get("rid") if request.scope["query_string"] else None
    if rid is not None:
        rid = _canonical_uuid(rid)
        if rid is None:
            return _plain(400, "invalid uuid format")
    # The app's body limit has refused anything huge already; the log keeps the first BODY_LIMIT bytes.
    # A GET or HEAD from curl has none: not waiting for it saves a turn of the event loop.
    headers = request.headers
    announced = request.method == "POST" or "content-length" in headers or "transfer-encoding" in headers
    body = await request.body() if announced else b""
    ping = heartbeats.Ping(
        kind=kind,
        method=request.method,
        body=body,
        exit_status=exit_status,
        rid=rid,
        remote_addr=request.client.host if request.client else "",
        user_agent=headers.get("user-agent", ""),
    )
    # Committed with other requests' pings (api.ping_writer), which wakes the engine when one
    # declared an incident; answered only once its batch has committed.
    writer: PingWriter = request.app.state.ping_writer
    result = await writer.submit(heartbeat_uuid, ping)
    return _NOT_FOUND if result is None else _OK


PING_METHODS = ["GET", "POST", "HEAD"]


@router.api_route("/ping/{code}", methods=PING_METHODS, include_in_schema=False)
async def ping_success(code: str, request: Request) -> Response:
    return await _ping(request, code, domain.PingKind.SUCCESS)


async def ping_path(request: Request, rest: str) -> Response:
    """`/ping/<rest>` as the two routes here answer it, for api.fastpath, which serves the
    ping URLs in front of FastAPI's router (most of a ping's time otherwise)."""
    code, slash, action = rest.partition("/")
    if not slash:
        if not code:
            return _plain(404, "not found")
        return await ping_success(code, request)
    if not code or not action or "/" in action:
        return _plain(404, "not found")
    return await ping_action(code, action, request)


@router.api_route("/ping/{code}/{action}", methods=PING_METHODS, include_in_schema=False)
async def ping_action(code: str, action: str, request: Request) -> Response:
    """`start`, `fail`, `log`, or an exit status: 0 is a success, 1 to 255 a failure."""
    kind = _ACTIONS.get(action)
    if kind is not None:
        return await _ping(request, code, kind)
    if action.isascii() and action.isdigit():
        status = domain.parse_exit_status(action)
        if status is None:
            return _plain(400, "invalid url format")
        return await _ping(request, code, domain.PingKind.SUCCESS if status == 0 else domain.PingKind.FAIL, status)
    return _plain(404, "not found")


# ---- management ------------------------------------------------------------------

SECONDS = 366 * 86400


class CreateHeartbeat(Body):
    service: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=100, description="A key such as nightly-backup")
    description: str = Field(default="", max_length=2000)
    period_s: int | None = Field(default=None, ge=1, le=SECONDS, description="Expected every this many seconds")
    cron: str | None = Field(default=None, max_length=100, description="Or at each time of this cron expression")
    time_zone: str = Field(default="UTC", max_length=64, description="The cron expression's time zone")
    grace_s: int = Field(default=3600, ge=1, le=SECONDS, description="How late a ping may be before it is down")
    min_run_s: int | None = Field(default=None, ge=1, le=SECONDS, description="A shorter run is a failure")
    max_run_s: int | None = Field(default=None, ge=1, le=SECONDS, description="A longer run is a failure")


class EditHeartbeat(Body):
    """Every field is optional: what is left out stays. A `period_s` or a `cron` given alone
    replaces the other (null removes a run-time bound)."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    service: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=2000)
    period_s: int | None = Field(default=None, ge=1, le=SECONDS)
    cron: str | None = Field(default=None, max_length=100)
    time_zone: str | None = Field(default=None, max_length=64)
    grace_s: int | None = Field(default=None, ge=1, le=SECONDS)
    min_run_s: int | None = Field(default=None, ge=1, le=SECONDS)
    max_run_s: int | None = Field(default=None, ge=1, le=SECONDS)

    def schedule(self, row: models.Heartbeat) -> domain.Schedule | None:
        """The heartbeat's schedule with the fields given, or None when none is."""
        given = self.model_fields_set & {"period_s", "cron", "time_zone", "grace_s", "min_run_s", "max_run_s"}
        if not given:
            return None
        current = heartbeats.schedule_of(row)
        period, cron = current.period, current.cron
        if "period_s" in given:
            period = _seconds(self.period_s)
            if self.period_s is not None and "cron" not in given:
                cron = None
        if "cron" in given:
            cron = self.cron
            if self.cron is not None and "period_s" not in given:
                period = None
        return domain.Schedule(
            grace=timedelta(seconds=self.grace_s) if self.grace_s is not None else current.grace,
            period=period,
            cron=cron,
            time_zone=self.time_zone if self.time_zone is not None else current.time_zone,
            min_run=_seconds(self.min_run_s) if "min_run_s" in given else current.min_run,
            max_run=_seconds(self.max_run_s) if "max_run_s" in given else current.max_run,
        )


class PingOut(BaseModel):
    n: int
    kind: str
    exit_status: int | None
    rid: str | None
    at: datetime
    method: str
    remote_addr: str
    user_agent: str
    body: str
    body_truncated: bool
    duration_s: float | None

    @classmethod
    def of(cls, row: models.HeartbeatPing) -> PingOut:
        return cls(
            n=row.n, kind=row.kind, exit_status=row.exit_status, rid=row.rid, at=row.at, method=row.method,
            remote_addr=row.remote_addr, user_agent=row.user_agent, body=row.body, body_truncated=row.body_truncated,
            duration_s=row.duration_ms / 1000 if row.duration_ms is not None else None,
        )  # fmt: skip


class HeartbeatOut(BaseModel):
    uuid: str
    name: str
    service: str
    description: str
    ping_url: str
    status: str = Field(description="new, up, late, down or paused")
    running: bool = Field(description="A start arrived and its finish has not")
    period_s: int | None
    cron: str | None
    time_zone: str
    grace_s: int
    min_run_s: int | None
    max_run_s: int | None
    last_ping_at: datetime | None
    started_at: datetime | None
    last_duration_s: float | None
    next_due_at: datetime | None = Field(description="When it is down unless a ping comes first")
    pings: int
    created_at: datetime

    @classmethod
    def of(cls, row: models.Heartbeat, base: str, now: datetime) -> HeartbeatOut:
        return cls(
            uuid=row.uuid, name=row.name, service=row.service.key, description=row.description,
            ping_url=heartbeats.ping_url(base, row), status=heartbeats.status_at(row, now).value,
            running=row.started_at is not None, period_s=row.period_s, cron=row.cron, time_zone=row.time_zone,
            grace_s=row.grace_s, min_run_s=row.min_run_s, max_run_s=row.max_run_s, last_ping_at=row.last_ping_at,
            started_at=row.started_at,
            last_duration_s=row.last_duration_ms / 1000 if row.last_duration_ms is not None else None,
            next_due_at=row.next_due_at, pings=row.n_pings, created_at=row.created_at,
        )  # fmt: skip


class HeartbeatDetailOut(HeartbeatOut):
    recent_pings: list[PingOut] = Field(description="Newest first")


def _seconds(value: int | None) -> timedelta | None:
    return timedelta(seconds=value) if value is not None else None


@router.post("/api/v1/heartbeats", status_code=201, response_model=HeartbeatOut)
def create_heartbeat(
    body: CreateHeartbeat, actor: Writer, session: DbSession, clock: CurrentClock, state: State
) -> HeartbeatOut:
    schedule = domain.Schedule(
        grace=timedelta(seconds=body.grace_s), period=_seconds(body.period_s), cron=body.cron,
        time_zone=body.time_zone, min_run=_seconds(body.min_run_s), max_run=_seconds(body.max_run_s),
    )  # fmt: skip
    row = heartbeats.create(
        session, actor, clock.now(), service_key=body.service, name=body.name, schedule=schedule,
        description=body.description,
    )  # fmt: skip
    session.commit()
    return HeartbeatOut.of(row, state.settings.public_url, clock.now())


@router.get("/api/v1/heartbeats", response_model=list[HeartbeatOut])
def list_heartbeats(
    _actor: Reader, session: DbSession, clock: CurrentClock, state: State, service: str | None = None
) -> list[HeartbeatOut]:
    now = clock.now()
    return [
        HeartbeatOut.of(row, state.settings.public_url, now) for row in heartbeats.list_heartbeats(session, service)
    ]


@router.get("/api/v1/heartbeats/{ref}", response_model=HeartbeatDetailOut)
def show_heartbeat(
    ref: str,
    _actor: Reader,
    session: DbSession,
    clock: CurrentClock,
    state: State,
    pings: Annotated[int, Query(ge=0, le=heartbeats.KEEP_PINGS)] = 20,
) -> HeartbeatDetailOut:
    """A heartbeat by name or uuid, with its most recent pings."""
    row = heartbeats.get(session, ref)
    out = HeartbeatOut.of(row, state.settings.public_url, clock.now())
    recent = [PingOut.of(p) for p in heartbeats.recent_pings(session, row, pings)] if pings else []
    return HeartbeatDetailOut(**out.model_dump(), recent_pings=recent)


@router.patch("/api/v1/heartbeats/{ref}", response_model=HeartbeatOut)
def edit_heartbeat(
    ref: str, body: EditHeartbeat, actor: Writer, session: DbSession, clock: CurrentClock, state: State
) -> HeartbeatOut:
    """Change a heartbeat's name, description, service or schedule. Its ping URL, pings and status
    stay; the engine judges it by the new schedule from its next check."""
    row = heartbeats.get(session, ref)
    for field in ("name", "service", "description", "grace_s", "time_zone"):
        if field in body.model_fields_set and getattr(body, field) is None:
            raise ValidationFailed(f"{field} cannot be null; leave it out to keep it", field=field)
    row = heartbeats.update(
        session, actor, clock.now(), ref, name=body.name, description=body.description,
        schedule=body.schedule(row), service_key=body.service,
    )  # fmt: skip
    session.commit()
    return HeartbeatOut.of(row, state.settings.public_url, clock.now())


@router.post("/api/v1/heartbeats/{ref}/pause", response_model=HeartbeatOut)
def pause_heartbeat(ref: str, actor: Writer, session: DbSession, clock: CurrentClock, state: State) -> HeartbeatOut:
    """Stop expecting pings: they are still recorded, and nothing is raised until it is resumed."""
    row = heartbeats.pause(session, actor, clock.now(), ref)
    session.commit()
    return HeartbeatOut.of(row, state.settings.public_url, clock.now())


@router.post("/api/v1/heartbeats/{ref}/resume", response_model=HeartbeatOut)
def resume_heartbeat(ref: str, actor: Writer, session: DbSession, clock: CurrentClock, state: State) -> HeartbeatOut:
    """Back to `new`: it is expected again from its next ping on."""
    row = heartbeats.resume(session, actor, clock.now(), ref)
    session.commit()
    return HeartbeatOut.of(row, state.settings.public_url, clock.now())


@router.delete("/api/v1/heartbeats/{ref}", status_code=204)
def delete_heartbeat(ref: str, actor: Writer, session: DbSession, clock: CurrentClock) -> Response:
    """Delete a heartbeat and its pings; its firing alert, if any, is resolved."""
    heartbeats.delete(session, actor, clock.now(), ref)
    session.commit()
    return Response(status_code=204)
