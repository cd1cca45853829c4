"""The alert pages: a filtered list, newest first, and one alert with what it says."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from tocsin.api.deps import DbSession
from tocsin.errors import NotFound
from tocsin.storage.repositories import alert_views, directory
from tocsin.storage.repositories import alerts as alerts_repo
from tocsin.storage.repositories import incidents as incident_repo
from tocsin.web.auth import Viewer, mark_web
from tocsin.web.templating import templates

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_web)])

PAGE_SIZE = 50
STATUSES = ("firing", "resolved")


@router.get("/alerts")
def alert_list(
    request: Request,
    user: Viewer,
    session: DbSession,
    status: str = "",
    service: str = "",
    integration: str = "",
    incident: str = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    problems: list[str] = []
    if status and status not in STATUSES:
        problems.append(f"unknown status {status!r}: firing or resolved")
        status = ""
    service_row = directory.service_by_key(session, service) if service else None
    if service and service_row is None:
        problems.append(f"no service {service!r}")
    valid = integration.isascii() and integration.isdigit() and len(integration) <= 18
    integration_id = int(integration) if valid else None
    if integration and integration_id is None:
        problems.append(f"no integration {integration!r}")
    incident_row = incident_repo.incident_by_human_id(session, incident) if incident else None
    if incident and incident_row is None:
        problems.append(f"no incident {incident!r}")
    filters = alert_views.AlertFilter(
        status=status or None,
        service_id=service_row.id if service_row else None,
        integration_id=integration_id,
        incident_id=incident_row.id if incident_row else None,
    )
    rows, more = alert_views.list_alerts(session, filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    given = (("status", status), ("service", service), ("integration", integration), ("incident", incident))
    chosen = {k: v for k, v in given if v}

    def link(to: int) -> str:
        values = chosen | ({"page": str(to)} if to > 1 else {})
        return "/alerts" + ("?" + urlencode(values) if values else "")

    context = {
        "user": user,
        "nav_active": "/alerts",
        "rows": rows,
        "incidents": alert_views.incident_ids(session, {r.incident_id for r in rows if r.incident_id is not None}),
        "filters": {"status": status, "service": service, "integration": integration, "incident": incident},
        "problems": problems,
        "statuses": STATUSES,
        "services": directory.list_services(session),
        "integrations": alert_views.integrations(session),
        "first": (page - 1) * PAGE_SIZE + 1,
        "newer": link(page - 1) if page > 1 else None,
        "older": link(page + 1) if more else None,
    }
    return templates.TemplateResponse(request, "alerts/list.html", context)


@router.get("/alerts/{alert_id}")
def alert_page(request: Request, alert_id: str, user: Viewer, session: DbSession) -> Response:
    # '¹' is a digit to Python; ids fit in 63 bits.
    valid = alert_id.isascii() and alert_id.isdigit() and len(alert_id) <= 18
    found = alerts_repo.alert_by_id(session, int(alert_id)) if valid else None
    if found is None:
        raise NotFound(f"no alert {alert_id!r}", field="alert")
    incident = alert_views.incident_ids(session, {found.incident_id} if found.incident_id is not None else set())
    context = {
        "user": user,
        "nav_active": "/alerts",
        "alert": found,
        "incident": incident.get(found.incident_id) if found.incident_id is not None else None,
    }
    return templates.TemplateResponse(request, "alerts/detail.html", context)
