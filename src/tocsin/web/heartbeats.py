"""The heartbeats pages: every heartbeat with its status, last ping and when it is next due,
and a heartbeat's own page with its ping URL, recent pings, run times and pause/resume."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from tocsin.api.deps import CurrentClock, DbSession, State
from tocsin.domain import heartbeats as domain
from tocsin.services import heartbeats as heartbeat_service
from tocsin.storage.repositories import watching_views as views
from tocsin.web import charts
from tocsin.web.auth import Responder, Viewer, mark_web
from tocsin.web.listing import PAGE_SIZE, offset_of, page
from tocsin.web.templating import templates

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_web)])

# Stored statuses; "late" is worked out from the clock, so it is no filter.
STATUSES = ("new", "up", "down", "paused")
# The run-time chart reads the pings kept (about the last hundred).
RUN_TIMES = heartbeat_service.KEEP_PINGS


def expected(period_s: int | None, cron: str | None, time_zone: str) -> str:
    if cron:
        return f"cron {cron} ({time_zone})"
    if period_s:
        return f"every {_span(period_s)}"
    return "—"


def _span(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0 and seconds >= size:
            count = seconds // size
            return f"{count} {unit}" + ("s" if count > 1 else "")
    return f"{seconds} seconds"


@router.get("/heartbeats")
def heartbeats_page(
    request: Request,
    user: Viewer,
    session: DbSession,
    clock: CurrentClock,
    status: str = "",
    service: str = "",
    offset: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    at = offset_of(offset)
    service_id = views.service_id(session, service) if service else None
    unknown_service = bool(service) and service_id is None
    rows = (
        []
        if unknown_service
        else views.heartbeats(
            session,
            status=status if status in STATUSES else None,
            service_id=service_id,
            limit=PAGE_SIZE + 1,
            offset=at,
        )
    )
    listing = page(request, rows, at)
    now = clock.now()
    context = {
        "user": user,
        "nav_active": "/heartbeats",
        "listing": listing,
        "statuses_now": {row.id: heartbeat_service.status_at(row, now).value for row in listing.rows},
        "expected": {row.id: expected(row.period_s, row.cron, row.time_zone) for row in listing.rows},
        "filters": {"status": status, "service": service},
        "statuses": STATUSES,
        "services": views.service_keys(session),
        "unknown_service": unknown_service,
    }
    return templates.TemplateResponse(request, "heartbeats/list.html", context)


@router.get("/heartbeats/{name}")
def heartbeat_page(
    request: Request,
    name: str,
    user: Viewer,
    session: DbSession,
    clock: CurrentClock,
    state: State,
    offset: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    row = heartbeat_service.get(session, name)
    now = clock.now()
    at = offset_of(offset)
    listing = page(request, views.pings(session, row.id, PAGE_SIZE + 1, at), at)
    runs = views.run_times(session, row.id, RUN_TIMES)
    points: list[tuple[datetime, float | None]] = [(finished, ms / 1000) for finished, ms in runs]
    chart = charts.line_chart(
        points, label=f"{row.name} run time, last {len(points)} runs", unit="s", time_zone=user.time_zone
    )
    context = {
        "user": user,
        "nav_active": "/heartbeats",
        "heartbeat": row,
        "status": heartbeat_service.status_at(row, now).value,
        "expected": expected(row.period_s, row.cron, row.time_zone),
        "ping_url": heartbeat_service.ping_url(state.settings.public_url, row),
        "chart": chart,
        "runs": len(points),
        "listing": listing,
        "paused": row.status == domain.Status.PAUSED.value,
    }
    return templates.TemplateResponse(request, "heartbeats/detail.html", context)


@router.post("/heartbeats/{name}/pause")
def pause(name: str, user: Responder, session: DbSession, clock: CurrentClock) -> Response:
    heartbeat_service.pause(session, user.actor, clock.now(), name)
    session.commit()
    return RedirectResponse(f"/heartbeats/{name}", status_code=303)


@router.post("/heartbeats/{name}/resume")
def resume(name: str, user: Responder, session: DbSession, clock: CurrentClock) -> Response:
    heartbeat_service.resume(session, user.actor, clock.now(), name)
    session.commit()
    return RedirectResponse(f"/heartbeats/{name}", status_code=303)
