"""The crash pages: crash groups newest seen first, release health (crash-free sessions per
release), and a group's own page with its sample event's stack trace, releases, platforms,
and resolve/ignore/reopen."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from tocsin.api.deps import CurrentClock, DbSession
from tocsin.domain import crashes as domain
from tocsin.services import crashes as crash_service
from tocsin.storage.repositories import crashes as crash_repo
from tocsin.storage.repositories import watching_views as views
from tocsin.web.auth import Responder, Viewer, mark_web
from tocsin.web.listing import PAGE_SIZE, offset_of, page
from tocsin.web.templating import templates

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_web)])

STATUSES = tuple(s.value for s in domain.GroupStatus)
HEALTH_DAYS = 30


def _project(value: str) -> int | None:
    return int(value) if value.isdigit() else None


@router.get("/crashes")
def crashes_page(
    request: Request,
    user: Viewer,
    session: DbSession,
    status: str = "open",
    project: str = "",
    offset: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    at = offset_of(offset)
    rows = views.crash_groups(
        session,
        status=status if status in STATUSES else None,
        project=_project(project),
        service_id=None,
        limit=PAGE_SIZE + 1,
        offset=at,
    )
    context = {
        "user": user,
        "nav_active": "/crashes",
        "tab": "groups",
        "listing": page(request, rows, at),
        "filters": {"status": status if status in STATUSES else "", "project": project},
        "statuses": STATUSES,
        "projects": views.crash_projects(session),
    }
    return templates.TemplateResponse(request, "crashes/list.html", context)


@router.get("/crashes/releases")
def releases_page(
    request: Request,
    user: Viewer,
    session: DbSession,
    clock: CurrentClock,
    project: str = "",
    offset: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    at = offset_of(offset)
    since = clock.now() - timedelta(days=HEALTH_DAYS)
    rows = views.release_health(session, since, _project(project), PAGE_SIZE + 1, at)
    listing = page(request, rows, at)
    health = [
        {
            "service": service,
            "release": release,
            "environment": environment,
            "counts": domain.SessionCounts(int(total or 0), int(errored or 0), int(crashed or 0), int(abnormal or 0)),
            "last": last,
        }
        for _, service, release, environment, total, errored, crashed, abnormal, last in listing.rows
    ]
    context = {
        "user": user,
        "nav_active": "/crashes",
        "tab": "releases",
        "listing": listing,
        "health": health,
        "days": HEALTH_DAYS,
        "filters": {"project": project},
        "projects": views.crash_projects(session),
    }
    return templates.TemplateResponse(request, "crashes/releases.html", context)


def _frames(payload: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The sample's exceptions, the one raised first, each with its frames innermost first
    (Sentry sends the chain oldest first and the frames outermost first)."""
    if not payload:
        return []
    shown = []
    for exception in reversed(payload.get("exceptions") or []):
        if isinstance(exception, dict):
            frames = [f for f in exception.get("frames") or [] if isinstance(f, dict)]
            shown.append({**exception, "frames": list(reversed(frames))})
    return shown


@router.get("/crashes/{group_id}")
def crash_page(request: Request, group_id: int, user: Viewer, session: DbSession) -> Response:
    group = crash_service.get(session, group_id)
    sample = views.sample_event(session, group)
    context = {
        "user": user,
        "nav_active": "/crashes",
        "group": group,
        "sample": sample,
        "exceptions": _frames(sample.payload if sample else None),
        "releases": crash_repo.counts_by_release(session, group.id),
    }
    return templates.TemplateResponse(request, "crashes/detail.html", context)


@router.post("/crashes/{group_id}/resolve")
def resolve(
    group_id: int,
    user: Responder,
    session: DbSession,
    clock: CurrentClock,
    release: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    crash_service.resolve(session, user.actor, clock.now(), group_id, release.strip() or None)
    session.commit()
    return RedirectResponse(f"/crashes/{group_id}", status_code=303)


@router.post("/crashes/{group_id}/ignore")
def ignore(group_id: int, user: Responder, session: DbSession, clock: CurrentClock) -> Response:
    crash_service.ignore(session, user.actor, clock.now(), group_id)
    session.commit()
    return RedirectResponse(f"/crashes/{group_id}", status_code=303)


@router.post("/crashes/{group_id}/reopen")
def reopen(group_id: int, user: Responder, session: DbSession, clock: CurrentClock) -> Response:
    crash_service.reopen(session, user.actor, clock.now(), group_id)
    session.commit()
    return RedirectResponse(f"/crashes/{group_id}", status_code=303)
