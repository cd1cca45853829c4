"""Settings → users: everyone sees who is here; admins add people, change their role and
time zone, deactivate and reactivate them, and reset their passwords.

A password an admin has Tocsin generate is shown once, on the page that answers the
form (never in a URL, never again). Deactivating a user or resetting their password
ends their web sessions at once (services.directory, services.passwords).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from tocsin.api.deps import CurrentClock, DbSession
from tocsin.errors import NotFound, TocsinError
from tocsin.services import directory, passwords
from tocsin.storage import models
from tocsin.storage.repositories import directory as directory_repo
from tocsin.storage.repositories import settings_views
from tocsin.web.auth import Viewer, WebAdmin, WebUser, mark_web
from tocsin.web.settings_support import PAGE_SIZE, form_errors, offset, paged, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_web)])

ROLES = directory.USER_ROLES
# Bounded as the API's ids are: a number past BIGINT is a 422, not a database error.
UserId = Annotated[int, Path(ge=1, le=2**62)]
# The zones offered as suggestions; any IANA name is accepted.
COMMON_ZONES = (
    "UTC", "Europe/London", "Europe/Berlin", "Europe/Paris", "America/New_York", "America/Chicago",
    "America/Denver", "America/Los_Angeles", "America/Sao_Paulo", "Asia/Kolkata", "Asia/Singapore",
    "Asia/Tokyo", "Australia/Sydney",
)  # fmt: skip


def _user(session: Session, user_id: int) -> models.User:
    found = directory_repo.user_by_id(session, user_id)
    if found is None:
        raise NotFound(f"no user {user_id}", field="user")
    return found


@router.get("/settings/users", response_class=HTMLResponse)
def users(request: Request, user: Viewer, session: DbSession, page: Annotated[int, Query()] = 1) -> Response:
    rows, pager = paged(settings_views.users_page(session, offset=offset(page), limit=PAGE_SIZE + 1), page)
    return render(request, "settings/users.html", user, users=rows, pager=pager)


def _new_form(
    request: Request, user: WebUser, status_code: int = 200, errors: dict[str, str] | None = None, **values: str
) -> Response:
    form = {"name": "", "email": "", "role": "responder", "time_zone": "UTC", **values}
    return render(
        request,
        "settings/user_new.html",
        user,
        status_code,
        form=form,
        errors=errors or {},
        roles=ROLES,
        zones=COMMON_ZONES,
    )


@router.get("/settings/users/new", response_class=HTMLResponse)
def new_user(request: Request, user: WebAdmin) -> Response:
    return _new_form(request, user)


@router.post("/settings/users", response_class=HTMLResponse)
def create_user(
    request: Request,
    user: WebAdmin,
    session: DbSession,
    clock: CurrentClock,
    name: Annotated[str, Form(max_length=200)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    role: Annotated[str, Form(max_length=20)] = "responder",
    time_zone: Annotated[str, Form(max_length=64)] = "UTC",
    password: Annotated[str, Form(max_length=1024)] = "",
    generate: Annotated[bool, Form()] = False,
) -> Response:
    email, name, time_zone = email.strip(), name.strip(), time_zone.strip()
    chosen = passwords.generate() if generate or not password else password
    try:
        created = directory.create_user(
            session, user.actor, clock.now(), email=email, name=name, role=role, time_zone=time_zone
        )
        passwords.set_password(session, user.actor, clock.now(), created.email, chosen)
    except TocsinError as exc:
        session.rollback()
        status, errors = form_errors(exc)
        return _new_form(request, user, status, errors, name=name, email=email, role=role, time_zone=time_zone)
    session.commit()
    shown = chosen if chosen != password else None
    return render(request, "settings/user_password.html", user, 201, person=created, password=shown, created=True)


@router.get("/settings/users/{user_id}", response_class=HTMLResponse)
def edit_user(request: Request, user: WebAdmin, session: DbSession, user_id: UserId) -> Response:
    person = _user(session, user_id)
    return _edit_form(request, user, person, saved=request.query_params.get("saved"))


def _edit_form(
    request: Request,
    user: WebUser,
    person: models.User,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    saved: str | None = None,
) -> Response:
    return render(
        request,
        "settings/user_edit.html",
        user,
        status_code,
        person=person,
        errors=errors or {},
        roles=ROLES,
        zones=COMMON_ZONES,
        saved=saved,
    )


def _saved(user_id: int, what: str) -> Response:
    return RedirectResponse(f"/settings/users/{user_id}?saved={what}", status_code=303)


@router.post("/settings/users/{user_id}", response_class=HTMLResponse)
def update_user(
    request: Request,
    user: WebAdmin,
    session: DbSession,
    clock: CurrentClock,
    user_id: UserId,
    name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=20)] = "",
    time_zone: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    person = _user(session, user_id)
    try:
        directory.update_user(
            session, user.actor, clock.now(), person.email, name=name, role=role, time_zone=time_zone.strip()
        )
    except TocsinError as exc:
        session.rollback()
        status, errors = form_errors(exc)
        return _edit_form(request, user, _user(session, user_id), status, errors)
    session.commit()
    return _saved(user_id, "details")


@router.post("/settings/users/{user_id}/active", response_class=HTMLResponse)
def set_active(
    request: Request,
    user: WebAdmin,
    session: DbSession,
    clock: CurrentClock,
    user_id: UserId,
    active: Annotated[bool, Form()] = False,
) -> Response:
    person = _user(session, user_id)
    if person.id == user.user_id and not active:
        # It would end this very session; another admin can do it.
        return _edit_form(request, user, person, 422, {"active": "you cannot deactivate yourself"})
    try:
        directory.update_user(session, user.actor, clock.now(), person.email, active=active)
    except TocsinError as exc:
        session.rollback()
        status, errors = form_errors(exc)
        return _edit_form(request, user, _user(session, user_id), status, errors)
    session.commit()
    return _saved(user_id, "reactivated" if active else "deactivated")


@router.post("/settings/users/{user_id}/password", response_class=HTMLResponse)
def reset_password(
    request: Request,
    user: WebAdmin,
    session: DbSession,
    clock: CurrentClock,
    user_id: UserId,
    password: Annotated[str, Form(max_length=1024)] = "",
    generate: Annotated[bool, Form()] = False,
) -> Response:
    person = _user(session, user_id)
    if person.id == user.user_id:
        # A reset ends every session of the user, this one too; /profile asks for the
        # current password and keeps this browser logged in.
        errors = {"password": "change your own password on your profile page"}
        return _edit_form(request, user, person, 422, errors)
    chosen = passwords.generate() if generate or not password else password
    try:
        passwords.set_password(session, user.actor, clock.now(), person.email, chosen)
    except TocsinError as exc:
        session.rollback()
        status, errors = form_errors(exc)
        return _edit_form(request, user, _user(session, user_id), status, errors)
    session.commit()
    shown = chosen if chosen != password else None
    return render(request, "settings/user_password.html", user, person=person, password=shown, created=False)
