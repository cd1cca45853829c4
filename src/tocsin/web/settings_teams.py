"""Settings → teams: everyone sees the teams and their members; admins create teams and
change who is in them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tocsin.api.deps import CurrentClock, DbSession
from tocsin.errors import TocsinError
from tocsin.services import directory
from tocsin.storage import models
from tocsin.storage.repositories import settings_views
from tocsin.web.auth import Viewer, WebAdmin, WebUser, mark_web
from tocsin.web.settings_support import PAGE_SIZE, form_errors, offset, paged, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_web)])

# How many people a membership form offers as checkboxes, besides the team's members.
OFFERED_PEOPLE = 500
Members = Annotated[list[str], Form()]


def _people(session: DbSession, team: models.Team | None) -> list[models.User]:
    """The active people to tick, and the team's members whoever they are (unticking a
    member must be a choice, never a person missing from the form)."""
    offered = {p.id: p for p in settings_views.active_users(session, limit=OFFERED_PEOPLE)}
    for member in team.members if team else ():
        offered.setdefault(member.user_id, member.user)
    return sorted(offered.values(), key=lambda p: (p.name.lower(), p.email))


@router.get("/settings/teams", response_class=HTMLResponse)
def teams(request: Request, user: Viewer, session: DbSession, page: Annotated[int, Query()] = 1) -> Response:
    rows, pager = paged(settings_views.teams_page(session, offset=offset(page), limit=PAGE_SIZE + 1), page)
    return render(
        request, "settings/teams.html", user, teams=rows, pager=pager, saved=request.query_params.get("saved")
    )


def _new_form(
    request: Request,
    user: WebUser,
    session: DbSession,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    members: Sequence[str] = (),
    **values: str,
) -> Response:
    form = {"key": "", "name": "", "description": "", **values}
    return render(
        request,
        "settings/team_form.html",
        user,
        status_code,
        team=None,
        form=form,
        members=set(members),
        errors=errors or {},
        people=_people(session, None),
    )


@router.get("/settings/teams/new", response_class=HTMLResponse)
def new_team(request: Request, user: WebAdmin, session: DbSession) -> Response:
    return _new_form(request, user, session)


@router.post("/settings/teams", response_class=HTMLResponse)
def create_team(
    request: Request,
    user: WebAdmin,
    session: DbSession,
    clock: CurrentClock,
    key: Annotated[str, Form(max_length=100)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    description: Annotated[str, Form(max_length=2000)] = "",
    members: Members = [],  # noqa: B006 - FastAPI copies defaults
) -> Response:
    key, name = key.strip(), name.strip()
    try:
        directory.create_team(
            session, user.actor, clock.now(), key=key, name=name, description=description, members=members
        )
    except TocsinError as exc:
        session.rollback()
        status, errors = form_errors(exc)
        values = {"key": key, "name": name, "description": description}
        return _new_form(request, user, session, status, errors, members, **values)
    session.commit()
    return RedirectResponse(f"/settings/teams?saved={key}", status_code=303)


def _edit_form(
    request: Request,
    user: WebUser,
    session: DbSession,
    key: str,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    members: Sequence[str] | None = None,
) -> Response:
    team = directory.get_team(session, key)
    form = {"key": team.key, "name": team.name, "description": team.description}
    ticked = set(members) if members is not None else {m.user.email for m in team.members}
    return render(
        request,
        "settings/team_form.html",
        user,
        status_code,
        team=team,
        form=form,
        members=ticked,
        errors=errors or {},
        people=_people(session, team),
    )


@router.get("/settings/teams/{key}", response_class=HTMLResponse)
def edit_team(request: Request, user: WebAdmin, session: DbSession, key: str) -> Response:
    return _edit_form(request, user, session, key)


@router.post("/settings/teams/{key}", response_class=HTMLResponse)
def update_team(
    request: Request,
    user: WebAdmin,
    session: DbSession,
    clock: CurrentClock,
    key: str,
    name: Annotated[str, Form(max_length=200)] = "",
    description: Annotated[str, Form(max_length=2000)] = "",
    members: Members = [],  # noqa: B006 - FastAPI copies defaults
) -> Response:
    try:
        directory.update_team(
            session, user.actor, clock.now(), key, name=name, description=description, members=members
        )
    except TocsinError as exc:
        session.rollback()
        status, errors = form_errors(exc)
        return _edit_form(request, user, session, key, status, errors, members=members)
    session.commit()
    return RedirectResponse(f"/settings/teams?saved={key}", status_code=303)
