"""Settings: the index of the settings pages, whose routers join here.

Who may do what follows PagerDuty and GoAlert: everyone logged in sees the users and the
teams (people need to find each other), only admins change them, create integrations
or see their keys; channel addresses are masked for everyone, since a webhook URL is a
credential; responders and admins may send a channel a test post. One's own password
and time zone are on /profile (web/profile.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from tocsin.web import settings_channels, settings_integrations, settings_teams, settings_templates, settings_users
from tocsin.web.auth import Viewer, mark_web
from tocsin.web.settings_support import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_web)])


@router.get("/settings", response_class=HTMLResponse)
def index(request: Request, user: Viewer) -> Response:
    return render(request, "settings/index.html", user)


# The settings pages join through this router, so site.py names only `settings`.
for _module in (settings_users, settings_teams, settings_integrations, settings_channels, settings_templates):
    router.include_router(_module.router)
