"""The changes page: deploys and config changes newest first, filtered by service,
environment, status and a first day, so "what changed?" is one look."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from tocsin.api.deps import DbSession
from tocsin.services.changes import Status
from tocsin.storage import models
from tocsin.storage.repositories import watching_views as views
from tocsin.web.auth import Viewer, mark_web
from tocsin.web.listing import PAGE_SIZE, offset_of, page
from tocsin.web.templating import templates

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_web)])

STATUSES = tuple(s.value for s in Status)


def link_of(change: models.Change) -> str | None:
    """The first web link a sender gave; only http(s), since the page makes it clickable."""
    for link in change.links or []:
        href = link.get("href") if isinstance(link, dict) else None
        if isinstance(href, str) and href.startswith(("https://", "http://")):
            return href
    return None


def _since(value: str, time_zone: str) -> tuple[datetime | None, str | None]:
    """The start of a day in the reader's zone; an error message for anything else."""
    if not value:
        return None, None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None, f"{value!r} is not a date; use YYYY-MM-DD"
    try:
        zone = ZoneInfo(time_zone)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime(day.year, day.month, day.day, tzinfo=zone), None


@router.get("/changes")
def changes_page(
    request: Request,
    user: Viewer,
    session: DbSession,
    service: str = "",
    environment: str = "",
    status: str = "",
    since: str = "",
    offset: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    at = offset_of(offset)
    service_id = views.service_id(session, service) if service else None
    first, since_error = _since(since, user.time_zone)
    problem = since_error or (f"No service {service}." if service and service_id is None else None)
    rows: list[Any] = []
    if problem is None:
        rows = list(
            views.changes(
                session,
                service_id=service_id,
                environment=environment.strip() or None,
                status=status if status in STATUSES else None,
                since=first,
                limit=PAGE_SIZE + 1,
                offset=at,
            )
        )
    listing = page(request, rows, at)
    context = {
        "user": user,
        "nav_active": "/changes",
        "listing": listing,
        "links": {change.id: link_of(change) for change, _ in listing.rows},
        "filters": {"service": service, "environment": environment, "status": status, "since": since},
        "statuses": STATUSES,
        "services": views.service_keys(session),
        "problem": problem,
        "since_error": since_error,
    }
    status_code = 422 if since_error else 200
    return templates.TemplateResponse(request, "changes/list.html", context, status_code=status_code)
