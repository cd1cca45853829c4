"""Where the web app's pages join the application: its routers, its static files,
and how its errors answer (a page, where the API answers problem+json)."""

from __future__ import annotations

import inspect
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from tocsin.api import problems
from tocsin.errors import TocsinError
from tocsin.web.auth import LoginRequired, login_location
from tocsin.web.templating import STATIC_DIR, STATIC_URL, templates


def install(app: FastAPI) -> None:
    # Each page module's router; imported here so the app module names only this one.
    from tocsin.web import (
        alerts,
        auth_routes,
        changes,
        checklists,
        checks,
        crashes,
        dashboard,
        drills,
        heartbeats,
        incident_messages,
        incidents,
        oncall,
        postmortems,
        profile,
        reports,
        services,
        settings,
        status_page,
    )

    for module in (
        auth_routes,
        status_page,
        oncall,
        settings,
        profile,
        checks,
        heartbeats,
        dashboard,
        incidents,
        checklists,
        incident_messages,
        crashes,
        changes,
        drills,
        alerts,
        services,
        reports,
        postmortems,
    ):
        app.include_router(module.router)
    app.add_middleware(status_page.CachedPages)  # cached status pages answered before routing
    app.mount(STATIC_URL, StaticFiles(directory=str(STATIC_DIR)), name="static")

    api_handler = app.exception_handlers[TocsinError]

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        location = login_location(exc.next_url)
        if exc.reason:
            location += "&reason=" + quote(exc.reason)
        if request.headers.get("hx-request"):
            return Response(status_code=204, headers={"HX-Redirect": location})
        return RedirectResponse(location, status_code=303)

    @app.exception_handler(TocsinError)
    async def _error(request: Request, exc: TocsinError) -> Response:
        if not getattr(request.state, "web", False):
            answered = api_handler(request, exc)
            return await answered if inspect.isawaitable(answered) else answered
        status = problems.status_for(exc)
        context = {"status": status, "title": exc.title, "message": exc.message, "user": _user(request)}
        if request.headers.get("hx-request"):
            # HTMX swaps nothing on an error by default: a fragment the page's error slot shows.
            return templates.TemplateResponse(request, "_error.html", context, status_code=status)
        return templates.TemplateResponse(request, "error.html", context, status_code=status)


def _user(request: Request) -> object:
    return getattr(request.state, "user", None)
