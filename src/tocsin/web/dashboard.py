"""The dashboard: what is on fire, who is on call, what is failing and what changed.

The open-incidents card refreshes itself (an HTMX fragment every 10 s); the other
cards change slowly enough for a reload."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from tocsin.api.deps import CurrentClock, DbSession
from tocsin.domain.heartbeats import Status as HeartbeatStatus
from tocsin.domain.incidents import OPEN_STATUSES
from tocsin.services import changes as changes_service
from tocsin.services import heartbeats, schedules, severities
from tocsin.storage.models import Heartbeat, Incident, Schedule
from tocsin.storage.repositories import dashboard_views, incident_views
from tocsin.storage.repositories import targets as targets_repo
from tocsin.web.auth import Viewer, WebUser, mark_web
from tocsin.web.incident_clocks import IncidentClocks, clocks_of
from tocsin.web.templating import templates

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_web)])

OPEN_LIMIT = 100
FAILING_LIMIT = 20
CHANGES_LIMIT = 10
_OPEN = frozenset(s.value for s in OPEN_STATUSES)


@dataclass(frozen=True)
class OpenIncident:
    incident: Incident
    clocks: IncidentClocks


@dataclass(frozen=True)
class SeverityGroup:
    severity: str
    description: str
    incidents: list[OpenIncident]


@dataclass(frozen=True)
class OnCallRow:
    schedule: Schedule
    now_name: str | None
    until: datetime | None
    next_name: str | None


@dataclass(frozen=True)
class HeartbeatRow:
    heartbeat: Heartbeat
    status: str


def _open_incidents(session: Session, now: datetime) -> dict[str, Any]:
    rows = incident_views.open_incidents(session, _OPEN, OPEN_LIMIT)
    total = len(rows) if len(rows) < OPEN_LIMIT else incident_views.count_in(session, _OPEN)
    ids = [row.id for row in rows]
    targets = targets_repo.targets_by_incident(session, ids)
    updates = incident_views.last_updates(session, ids)
    scheme = severities.active(session)
    groups: list[SeverityGroup] = []
    by_name: dict[str, SeverityGroup] = {}
    for defined in scheme.levels:
        by_name[defined.name] = SeverityGroup(defined.name, defined.description, [])
        groups.append(by_name[defined.name])
    for row in rows:
        group = by_name.get(row.severity)
        if group is None:  # a level of a scheme no longer active
            group = by_name[row.severity] = SeverityGroup(row.severity, "", [])
            groups.append(group)
        level = scheme.level(row.severity)
        group.incidents.append(OpenIncident(row, clocks_of(row, targets[row.id], level, updates.get(row.id), now)))
    return {"groups": [g for g in groups if g.incidents], "open_total": total, "open_shown": len(rows)}


def _on_call(session: Session, now: datetime) -> list[OnCallRow]:
    shifts = schedules.on_call_everywhere(session, now)
    following = {
        shift.schedule.id: schedules.current_shift(shift.schedule, shift.until) for shift in shifts if shift.until
    }
    emails = {s.on_call.user for s in shifts if s.on_call} | {s.on_call.user for s in following.values() if s.on_call}
    names = dashboard_views.user_names(session, emails)
    rows = []
    for shift in shifts:
        after = following.get(shift.schedule.id)
        now_user = shift.on_call.user if shift.on_call else None
        next_user = after.on_call.user if after and after.on_call else None
        rows.append(
            OnCallRow(
                shift.schedule,
                names.get(now_user, now_user) if now_user else None,
                shift.until,
                names.get(next_user, next_user) if next_user else None,
            )
        )
    return rows


def _heartbeats(session: Session, now: datetime) -> list[HeartbeatRow]:
    found = []
    for row in dashboard_views.heartbeats_past_due(session, now, FAILING_LIMIT * 3):
        status = heartbeats.status_at(row, now)
        if status in (HeartbeatStatus.LATE, HeartbeatStatus.DOWN):
            found.append(HeartbeatRow(row, status.value))
    return found[:FAILING_LIMIT]


def _base(user: WebUser) -> dict[str, Any]:
    return {"user": user, "nav_active": "/"}


@router.get("/")
def dashboard(request: Request, user: Viewer, session: DbSession, clock: CurrentClock) -> Response:
    now = clock.now()
    recent = changes_service.list_changes(session, limit=CHANGES_LIMIT)
    context = _base(user) | _open_incidents(session, now)
    context.update(
        {
            "on_call": _on_call(session, now),
            "checks": dashboard_views.failing_checks(session, FAILING_LIMIT),
            "heartbeats": _heartbeats(session, now),
            "changes": recent,
            "change_services": changes_service.service_keys(session, recent),
        }
    )
    return templates.TemplateResponse(request, "dashboard.html", context)


@router.get("/dashboard/incidents")
def open_incidents_fragment(request: Request, user: Viewer, session: DbSession, clock: CurrentClock) -> Response:
    context = _base(user) | _open_incidents(session, clock.now())
    return templates.TemplateResponse(request, "dashboard_incidents.html", context)
