"""The checks pages: every check with its status and 24-hour uptime, and a check's own page
with 90 days of uptime bars, a response-time chart, its results, run-now and pause/resume.

Uptime comes from the hourly rollups summed in SQL; the response-time chart draws the raw
results for the last 24 hours and the rollups' medians for 7, 30 and 90 days.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from tocsin.api.deps import CurrentClock, DbSession
from tocsin.domain import checks as domain
from tocsin.engine.checks import probe_once
from tocsin.engine.probes import Prober
from tocsin.services import checks as check_service
from tocsin.storage import models
from tocsin.storage.repositories import watching_views as views
from tocsin.web import charts
from tocsin.web.auth import Responder, Viewer, WebUser, mark_web
from tocsin.web.listing import PAGE_SIZE, offset_of, page
from tocsin.web.templating import templates

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_web)])

STATUSES = tuple(s.value for s in domain.Status)
KINDS = tuple(k.value for k in domain.Kind)
UPTIME_DAYS = 90
# The chart's ranges: (label, span, bucket). None: the raw results, one point each.
RANGES: dict[str, tuple[str, timedelta, timedelta | None]] = {
    "24h": ("24 hours", timedelta(hours=24), None),
    "7d": ("7 days", timedelta(days=7), timedelta(hours=1)),
    "30d": ("30 days", timedelta(days=30), timedelta(hours=4)),
    "90d": ("90 days", timedelta(days=90), timedelta(hours=12)),
}
# A check every 10 s makes 8,640 results a day; more than that is not drawn.
MAX_RAW_POINTS = 10_000


def target_of(row: models.Check) -> str:
    try:
        return domain.target_of(check_service.spec_of(row))
    except domain.Problem:
        return ""


def percent(up: int, count: int) -> float | None:
    return 100 * up / count if count else None


@router.get("/checks")
def checks_page(
    request: Request,
    user: Viewer,
    session: DbSession,
    clock: CurrentClock,
    status: str = "",
    service: str = "",
    kind: str = "",
    offset: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    at = offset_of(offset)
    service_id = views.service_id(session, service) if service else None
    unknown_service = bool(service) and service_id is None
    rows = (
        []
        if unknown_service
        else views.checks(
            session,
            status=status if status in STATUSES else None,
            service_id=service_id,
            kind=kind if kind in KINDS else None,
            limit=PAGE_SIZE + 1,
            offset=at,
        )
    )
    listing = page(request, rows, at)
    since = domain.hour_of(clock.now()) - timedelta(hours=23)
    uptime = views.uptime_since(session, [row.id for row in listing.rows], since)
    context = {
        "user": user,
        "nav_active": "/checks",
        "listing": listing,
        "targets": {row.id: target_of(row) for row in listing.rows},
        "uptime": {check_id: percent(*counts) for check_id, counts in uptime.items()},
        "filters": {"status": status, "service": service, "kind": kind},
        "statuses": STATUSES,
        "kinds": KINDS,
        "services": views.service_keys(session),
        "unknown_service": unknown_service,
    }
    return templates.TemplateResponse(request, "checks/list.html", context)


@dataclass(frozen=True)
class Uptime:
    label: str
    percent: float | None


def daily_uptime(
    session: DbSession, row: models.Check, now: datetime
) -> tuple[list[tuple[date, float | None]], list[Uptime]]:
    """The last 90 UTC days, oldest first, and the uptime over 24 h, 7, 30 and 90 days."""
    today = now.astimezone(UTC).date()
    first = today - timedelta(days=UPTIME_DAYS - 1)
    by_day = views.uptime_by_day(session, row.id, datetime(first.year, first.month, first.day, tzinfo=UTC))
    days = [first + timedelta(days=i) for i in range(UPTIME_DAYS)]
    bars = [(day, percent(*by_day.get(day, (0, 0)))) for day in days]
    last_24h = views.uptime_since(session, [row.id], domain.hour_of(now) - timedelta(hours=23)).get(row.id, (0, 0))
    summary = [Uptime("24 hours", percent(*last_24h))]
    for span in (7, 30, 90):
        counts = [by_day[d] for d in days[-span:] if d in by_day]
        summary.append(Uptime(f"{span} days", percent(sum(u for u, _ in counts), sum(c for _, c in counts))))
    return bars, summary


@dataclass(frozen=True)
class Latency:
    """Response times over the chart's range: from the raw results, or the rollups' histograms."""

    p50_ms: float | None
    p95_ms: float | None
    max_ms: float | None


def _raw_percentile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return ordered[max(0, math.ceil(len(ordered) * q / 100) - 1)]


def response_points(
    session: DbSession, row: models.Check, now: datetime, span: timedelta, bucket: timedelta | None
) -> tuple[list[tuple[datetime, float | None]], Latency]:
    """Raw results (a failed one is a gap), or per bucket the median of the rollups' histograms."""
    start = now - span
    if bucket is None:
        rows = views.results_between(session, row.id, start, now + timedelta(seconds=1), MAX_RAW_POINTS)
        raw = [(at, float(ms) if up and ms is not None else None) for at, up, ms in rows]
        ordered = sorted(v for _, v in raw if v is not None)
        latency = Latency(_raw_percentile(ordered, 50), _raw_percentile(ordered, 95), ordered[-1] if ordered else None)
        return raw, latency
    first = domain.hour_of(start)
    merged: dict[datetime, list[list[int]]] = {}
    everything: list[list[int]] = []
    highest: float | None = None
    for hour, count, histogram, max_ms in views.rollups_between(session, row.id, first, now + timedelta(hours=1)):
        if count:
            slot = first + ((hour - first) // bucket) * bucket
            merged.setdefault(slot, []).append(histogram)
            everything.append(histogram)
            highest = max(highest or 0.0, float(max_ms))
    points: list[tuple[datetime, float | None]] = []
    slot = first
    while slot <= now:
        histograms = merged.get(slot)
        value = domain.percentile(domain.merge_histograms(histograms), 50) if histograms else None
        points.append((slot + bucket / 2, value))
        slot += bucket
    whole = domain.merge_histograms(everything)
    return points, Latency(domain.percentile(whole, 50), domain.percentile(whole, 95), highest)


def _check_context(
    request: Request, user: WebUser, session: DbSession, now: datetime, name: str, chart_range: str, offset: int
) -> dict[str, object]:
    row = check_service.get(session, name)
    key = chart_range if chart_range in RANGES else "24h"
    label, span, bucket = RANGES[key]
    bars, summary = daily_uptime(session, row, now)
    points, latency = response_points(session, row, now, span, bucket)
    what = "response time" if bucket is None else "median response time"
    chart = charts.line_chart(
        points, label=f"{row.name} {what}, last {label}", time_zone=user.time_zone, start=now - span, end=now
    )
    listing = page(request, views.results(session, row.id, PAGE_SIZE + 1, offset), offset)
    return {
        "user": user,
        "nav_active": "/checks",
        "check": row,
        "target": target_of(row),
        "uptime_bars": charts.uptime_bars(bars, label=f"{row.name} uptime, last {UPTIME_DAYS} days"),
        "first_day": bars[0][0],
        "uptime": summary,
        "chart": chart,
        "latency": latency,
        "range": key,
        "ranges": [(k, v[0]) for k, v in RANGES.items()],
        "listing": listing,
        "message": None,
    }


@router.get("/checks/{name}")
def check_page(
    request: Request,
    name: str,
    user: Viewer,
    session: DbSession,
    clock: CurrentClock,
    chart_range: Annotated[str, Query(alias="range")] = "24h",
    offset: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    context = _check_context(request, user, session, clock.now(), name, chart_range, offset_of(offset))
    return templates.TemplateResponse(request, "checks/detail.html", context)


@router.post("/checks/{name}/run-now")
def run_now(name: str, user: Responder, session: DbSession, clock: CurrentClock) -> Response:
    """As the API's run-now: probe with no transaction open, then record it like a scheduled run."""
    row = check_service.get(session, name)
    check_id, spec, timeout_s = row.id, check_service.spec_of(row), float(row.timeout_s)
    session.rollback()

    async def probe() -> check_service.RunResult:
        prober = Prober(max_connections=1)
        try:
            return await probe_once(prober, clock, spec, timeout_s, check_id, None, None)
        finally:
            await prober.close()

    # A worker thread of the server's pool: a loop of its own for the one probe.
    result = asyncio.run(probe())
    check_service.record_results(session, clock.now(), [result], holder=None)
    session.commit()
    return RedirectResponse(f"/checks/{name}", status_code=303)


@router.post("/checks/{name}/pause")
def pause(name: str, user: Responder, session: DbSession, clock: CurrentClock) -> Response:
    check_service.pause(session, user.actor, clock.now(), name)
    session.commit()
    return RedirectResponse(f"/checks/{name}", status_code=303)


@router.post("/checks/{name}/resume")
def resume(name: str, user: Responder, session: DbSession, clock: CurrentClock) -> Response:
    check_service.resume(session, user.actor, clock.now(), name)
    session.commit()
    return RedirectResponse(f"/checks/{name}", status_code=303)
