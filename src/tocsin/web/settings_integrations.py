"""Settings → integrations: each service's doors for alerts, and the URLs to paste.

The key is in the URLs, and Tocsin keeps only its SHA-256 and first 8 characters: the
page that answers "create" is the one time the URLs are shown whole, as `tocsin
integration create` prints them. The list shows the prefix, to admins only. Everyone
may see which integrations exist; only admins create them (creating one makes a
credential). A GitHub integration's webhook secret is written, never shown; the list
says that one is set. The doors Tocsin makes for itself (checks, heartbeats) are not
listed: nothing outside pastes their URL.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from tocsin.api.deps import CurrentClock, DbSession, State
from tocsin.errors import TocsinError
from tocsin.services import directory, integrations
from tocsin.storage.repositories import directory as directory_repo
from tocsin.storage.repositories import settings_views
from tocsin.web.auth import Viewer, WebAdmin, WebUser, mark_web
from tocsin.web.settings_support import PAGE_SIZE, form_errors, offset, paged, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_web)])

KINDS = [kind.value for kind in integrations.Kind if kind not in integrations.INTERNAL_KINDS]
HIDDEN_KINDS = [kind.value for kind in integrations.INTERNAL_KINDS]


@router.get("/settings/integrations", response_class=HTMLResponse)
def integrations_list(
    request: Request,
    user: Viewer,
    session: DbSession,
    page: Annotated[int, Query()] = 1,
    service: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    service_id = directory.get_service(session, service).id if service else None
    found = settings_views.integrations_page(
        session, offset=offset(page), limit=PAGE_SIZE + 1, hidden_kinds=HIDDEN_KINDS, service_id=service_id
    )
    rows, pager = paged(found, page)
    return render(
        request,
        "settings/integrations.html",
        user,
        integrations=rows,
        pager=pager,
        service=service,
        services=directory_repo.list_services(session),
    )


def _new_form(
    request: Request,
    user: WebUser,
    session: DbSession,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    **values: str,
) -> Response:
    form = {"service": "", "kind": "alertmanager", "name": "", "summary_path": "", **values}
    return render(
        request,
        "settings/integration_new.html",
        user,
        status_code,
        form=form,
        errors=errors or {},
        kinds=KINDS,
        tools=integrations.TOOLS,
        services=directory_repo.list_services(session),
    )


@router.get("/settings/integrations/new", response_class=HTMLResponse)
def new_integration(
    request: Request, user: WebAdmin, session: DbSession, service: Annotated[str, Query(max_length=100)] = ""
) -> Response:
    return _new_form(request, user, session, service=service)


@router.post("/settings/integrations", response_class=HTMLResponse)
def create_integration(
    request: Request,
    user: WebAdmin,
    session: DbSession,
    clock: CurrentClock,
    state: State,
    service: Annotated[str, Form(max_length=100)] = "",
    kind: Annotated[str, Form(max_length=20)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    signing_secret: Annotated[str, Form(max_length=200)] = "",
    summary_path: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    settings: dict[str, Any] = {}
    if kind == integrations.Kind.GENERIC:
        settings["mapping"] = {"summary": summary_path.strip()} if summary_path.strip() else None
    try:
        created = integrations.create(
            session,
            user.actor,
            clock.now(),
            service_key=service,
            kind=kind,
            name=name.strip(),
            settings=settings,
            signing_secret=signing_secret or None,
        )
    except TocsinError as exc:
        session.rollback()
        status, errors = form_errors(exc)
        # The services name nested fields (settings.mapping.summary); the form has one.
        errors = {("summary_path" if k.startswith("settings.mapping") else k): v for k, v in errors.items()}
        values = {"service": service, "kind": kind, "name": name, "summary_path": summary_path}
        return _new_form(request, user, session, status, errors, **values)
    session.commit()
    row = created.row
    urls = integrations.urls(state.settings.public_url, row.kind, created.key, row.id)
    return render(
        request,
        "settings/integration_created.html",
        user,
        201,
        integration=row,
        key=created.key,
        urls=[(integrations.TOOLS.get(tool, tool), url) for tool, url in urls.items()],
    )
