"""The service pages: every service with its team, open incidents, escalation policy and
integrations; one service with its incidents, checks, heartbeats and integrations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from tocsin.api.deps import CurrentClock, DbSession
from tocsin.domain.incidents import OPEN_STATUSES
from tocsin.errors import NotFound
from tocsin.services import heartbeats
from tocsin.storage.repositories import incident_views, service_views
from tocsin.storage.repositories import incidents as incident_repo
from tocsin.web.auth import Viewer, mark_web
from tocsin.web.templating import templates

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_web)])

PAGE_SIZE = 50
OPEN_LIMIT = 50
RECENT_LIMIT = 10
WATCH_LIMIT = 100
_OPEN = frozenset(s.value for s in OPEN_STATUSES)
_CLOSED = frozenset(incident_views.ALL_STATUSES) - _OPEN


@router.get("/services")
def service_list(
    request: Request, user: Viewer, session: DbSession, page: Annotated[int, Query(ge=1, le=100_000)] = 1
) -> Response:
    rows, total = service_views.list_services(session, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    ids = [row.id for row in rows]
    context = {
        "user": user,
        "nav_active": "/services",
        "rows": rows,
        "total": total,
        "open_counts": service_views.open_incident_counts(session, ids, _OPEN),
        "integration_counts": service_views.integration_counts(session, ids),
        "first": (page - 1) * PAGE_SIZE + 1,
        "newer": f"/services?page={page - 1}" if page > 1 else None,
        "older": f"/services?page={page + 1}" if page * PAGE_SIZE < total else None,
    }
    return templates.TemplateResponse(request, "services/list.html", context)


@router.get("/services/{key}")
def service_page(request: Request, key: str, user: Viewer, session: DbSession, clock: CurrentClock) -> Response:
    service = service_views.service_by_key(session, key)
    if service is None:
        raise NotFound(f"no service {key!r}", field="service")
    now = clock.now()
    open_rows, open_total = incident_repo.list_incidents(
        session, incident_repo.IncidentFilter(statuses=_OPEN, service_key=key), limit=OPEN_LIMIT, offset=0
    )
    recent, closed_total = incident_repo.list_incidents(
        session, incident_repo.IncidentFilter(statuses=_CLOSED, service_key=key), limit=RECENT_LIMIT, offset=0
    )
    beats = service_views.heartbeats_of(session, service.id, WATCH_LIMIT)
    context = {
        "user": user,
        "nav_active": "/services",
        "service": service,
        "open": open_rows,
        "open_total": open_total,
        "recent": recent,
        "closed_total": closed_total,
        "checks": service_views.checks_of(session, service.id, WATCH_LIMIT),
        "heartbeats": [(beat, heartbeats.status_at(beat, now).value) for beat in beats],
        "integrations": service_views.integrations_of(session, service.id),
        "now": now,
    }
    return templates.TemplateResponse(request, "services/page.html", context)
