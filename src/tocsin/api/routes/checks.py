"""Health checks: the management API, and run-now.

A check's `spec` is kind-specific (docs/checks.md); a wrong field in it is
named `spec.<field>` in the problem. `run-now` runs the probe in the request
and records its result like a scheduled one (without moving the schedule), so
three failed run-nows take a check down as three failed runs would.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from tocsin.api.deps import CurrentClock, DbSession, Reader, Writer
from tocsin.api.schemas import Body
from tocsin.domain import checks as domain
from tocsin.engine.checks import probe_once
from tocsin.engine.probes import Prober
from tocsin.services import checks
from tocsin.storage import models

router = APIRouter(tags=["checks"])

DAY = 86400


class CheckFields(Body):
    description: str = Field(default="", max_length=2000)
    interval_s: int = Field(default=60, ge=domain.MIN_INTERVAL_S, le=domain.MAX_INTERVAL_S)
    timeout_s: int = Field(default=10, ge=1, le=domain.MAX_TIMEOUT_S, description="At most the interval")
    failures_before_down: int = Field(default=domain.DEFAULT_FAILURES_BEFORE_DOWN, ge=1, le=100)
    successes_before_up: int = Field(default=domain.DEFAULT_SUCCESSES_BEFORE_UP, ge=1, le=100)
    reminder_every_s: int | None = Field(
        default=None, ge=60, le=30 * DAY, description="Raise the alert again this often while it stays down"
    )


class CreateCheck(CheckFields):
    service: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=100, description="A key such as api-health")
    kind: str = Field(description="http, tcp, dns or tls")
    spec: dict[str, Any] = Field(description="What to probe and what makes it up; see docs/checks.md")


class UpdateCheck(Body):
    """Only the fields given change."""

    service: str | None = Field(default=None, min_length=1, max_length=100)
    kind: str | None = None
    spec: dict[str, Any] | None = None
    description: str | None = Field(default=None, max_length=2000)
    interval_s: int | None = Field(default=None, ge=domain.MIN_INTERVAL_S, le=domain.MAX_INTERVAL_S)
    timeout_s: int | None = Field(default=None, ge=1, le=domain.MAX_TIMEOUT_S)
    failures_before_down: int | None = Field(default=None, ge=1, le=100)
    successes_before_up: int | None = Field(default=None, ge=1, le=100)
    reminder_every_s: int | None = Field(default=None, ge=60, le=30 * DAY)


class ResultOut(BaseModel):
    at: datetime
    slot: datetime
    up: bool
    held: bool = Field(description="Failed while Tocsin had lost the network: not counted")
    response_ms: int | None
    reason: str

    @classmethod
    def of(cls, row: models.CheckResult) -> ResultOut:
        return cls(at=row.at, slot=row.slot, up=row.up, held=row.held, response_ms=row.response_ms, reason=row.reason)


class CheckOut(BaseModel):
    name: str
    service: str
    description: str
    kind: str
    target: str
    spec: dict[str, Any]
    status: str = Field(description="new, up, down or paused")
    interval_s: int
    timeout_s: int
    failures_before_down: int
    successes_before_up: int
    reminder_every_s: int | None
    failures: int = Field(description="Failures in a row")
    successes: int = Field(description="Successes in a row")
    alerting: bool
    next_run_at: datetime | None
    last_result_at: datetime | None
    last_up: bool | None
    last_reason: str
    last_response_ms: int | None
    managed: bool
    created_at: datetime

    @classmethod
    def of(cls, row: models.Check) -> CheckOut:
        try:
            target = domain.target_of(checks.spec_of(row))
        except domain.Problem:
            target = ""
        return cls(
            name=row.name, service=row.service.key, description=row.description, kind=row.kind, target=target,
            spec=row.spec, status=row.status, interval_s=row.interval_s, timeout_s=row.timeout_s,
            failures_before_down=row.failures_before_down, successes_before_up=row.successes_before_up,
            reminder_every_s=row.reminder_every_s, failures=row.failures, successes=row.successes,
            alerting=row.alerting, next_run_at=row.next_run_at, last_result_at=row.last_result_at,
            last_up=row.last_up, last_reason=row.last_reason, last_response_ms=row.last_response_ms,
            managed=row.managed, created_at=row.created_at,
        )  # fmt: skip


class WindowOut(BaseModel):
    window: str = Field(description="24h, 7d, 30d or 90d")
    uptime_percent: float | None = Field(description="Up results over counted results; held ones are not counted")
    results: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: int | None


class CheckDetailOut(CheckOut):
    uptime: list[WindowOut]
    recent_results: list[ResultOut] = Field(description="Newest first")


class RunNowOut(BaseModel):
    check: CheckOut
    result: ResultOut


def _definition(body: CheckFields, kind: str, spec: dict[str, Any]) -> checks.Definition:
    return checks.Definition(
        kind=kind, spec=spec, interval_s=body.interval_s, timeout_s=body.timeout_s,
        failures_before_down=body.failures_before_down, successes_before_up=body.successes_before_up,
        reminder_every_s=body.reminder_every_s, description=body.description,
    )  # fmt: skip


@router.post("/api/v1/checks", status_code=201, response_model=CheckOut)
def create_check(body: CreateCheck, actor: Writer, session: DbSession, clock: CurrentClock) -> CheckOut:
    row = checks.create(
        session, actor, clock.now(), service_key=body.service, name=body.name,
        definition=_definition(body, body.kind, body.spec),
    )  # fmt: skip
    session.commit()
    return CheckOut.of(row)


@router.get("/api/v1/checks", response_model=list[CheckOut])
def list_checks(_actor: Reader, session: DbSession, service: str | None = None) -> list[CheckOut]:
    return [CheckOut.of(row) for row in checks.list_checks(session, service)]


@router.get("/api/v1/checks/{ref}", response_model=CheckDetailOut)
def show_check(
    ref: str,
    _actor: Reader,
    session: DbSession,
    clock: CurrentClock,
    results: Annotated[int, Query(ge=0, le=500)] = 20,
) -> CheckDetailOut:
    """A check with its uptime and response-time percentiles over 24 h, 7, 30 and 90 days, and its latest results."""
    row = checks.get(session, ref)
    windows = [
        WindowOut(
            window=w.name,
            uptime_percent=w.uptime_percent,
            results=w.count,
            p50_ms=w.p50_ms,
            p95_ms=w.p95_ms,
            p99_ms=w.p99_ms,
            max_ms=w.max_ms,
        )
        for w in checks.windows(session, row, clock.now())
    ]
    recent = [ResultOut.of(r) for r in checks.recent_results(session, row, results)] if results else []
    return CheckDetailOut(**CheckOut.of(row).model_dump(), uptime=windows, recent_results=recent)


@router.patch("/api/v1/checks/{ref}", response_model=CheckOut)
def update_check(ref: str, body: UpdateCheck, actor: Writer, session: DbSession, clock: CurrentClock) -> CheckOut:
    row = checks.get(session, ref)
    given = body.model_dump(exclude_unset=True)
    current = checks.Definition(
        kind=row.kind, spec=row.spec, interval_s=row.interval_s, timeout_s=row.timeout_s,
        failures_before_down=row.failures_before_down, successes_before_up=row.successes_before_up,
        reminder_every_s=row.reminder_every_s, description=row.description,
    )  # fmt: skip
    merged = checks.Definition(**{**current.__dict__, **{k: v for k, v in given.items() if k != "service"}})
    row = checks.update(session, actor, clock.now(), ref, merged, service_key=body.service)
    session.commit()
    return CheckOut.of(row)


@router.post("/api/v1/checks/{ref}/pause", response_model=CheckOut)
def pause_check(ref: str, actor: Writer, session: DbSession, clock: CurrentClock) -> CheckOut:
    """Stop running it; a firing alert is resolved."""
    row = checks.pause(session, actor, clock.now(), ref)
    session.commit()
    return CheckOut.of(row)


@router.post("/api/v1/checks/{ref}/resume", response_model=CheckOut)
def resume_check(ref: str, actor: Writer, session: DbSession, clock: CurrentClock) -> CheckOut:
    """Run it again from its next slot, as a new check."""
    row = checks.resume(session, actor, clock.now(), ref)
    session.commit()
    return CheckOut.of(row)


@router.delete("/api/v1/checks/{ref}", status_code=204)
def delete_check(ref: str, actor: Writer, session: DbSession, clock: CurrentClock) -> Response:
    """Delete a check with its results; its firing alert, if any, is resolved."""
    checks.delete(session, actor, clock.now(), ref)
    session.commit()
    return Response(status_code=204)


@router.post("/api/v1/checks/{ref}/run-now", response_model=RunNowOut)
def run_now(ref: str, _actor: Writer, session: DbSession, clock: CurrentClock) -> RunNowOut:
    """Run the check now and record its result; answers once the result is committed."""
    row = checks.get(session, ref)
    check_id, spec, timeout_s = row.id, checks.spec_of(row), float(row.timeout_s)
    session.rollback()  # no transaction open while the probe waits on the network

    async def probe() -> checks.RunResult:
        prober = Prober(max_connections=1)
        try:
            return await probe_once(prober, clock, spec, timeout_s, check_id, None, None)
        finally:
            await prober.close()

    # A worker thread of the server's pool: a loop of its own for the one probe.
    result = asyncio.run(probe())
    checks.record_results(session, clock.now(), [result], holder=None)
    session.commit()
    row = checks.get(session, ref)
    [latest] = checks.recent_results(session, row, 1)
    return RunNowOut(check=CheckOut.of(row), result=ResultOut.of(latest))
