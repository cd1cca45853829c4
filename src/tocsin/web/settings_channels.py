"""Settings → channels: where incident events are posted, which of them each hears, and a
test post to check that a channel works.

An address is a credential (a webhook URL posts as the bot), so the page shows it
masked to everyone, admins too (the API shows admins the whole address, for the CLI and
config as code); a webhook channel's signing secret is never shown, only that one is set.
Responders and admins may send a test post: it is queued like any notification and the
engine's deliveries module sends it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tocsin.api.deps import CurrentClock, DbSession
from tocsin.services import channels, contacts
from tocsin.storage.repositories import settings_views
from tocsin.web.auth import Responder, Viewer, mark_web
from tocsin.web.settings_support import PAGE_SIZE, offset, paged, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_web)])


@router.get("/settings/channels", response_class=HTMLResponse)
def channels_list(
    request: Request,
    user: Viewer,
    session: DbSession,
    page: Annotated[int, Query()] = 1,
    sent: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    rows, pager = paged(settings_views.channels_page(session, offset=offset(page), limit=PAGE_SIZE + 1), page)
    shown = [(view, contacts.masked(view.channel.kind, view.channel.address)) for view in channels.views(session, rows)]
    return render(request, "settings/channels.html", user, channels=shown, pager=pager, sent=sent)


@router.post("/settings/channels/{name}/test")
def send_test(user: Responder, session: DbSession, clock: CurrentClock, name: str) -> Response:
    channels.send_test(session, user.actor, clock.now(), name)
    session.commit()
    return RedirectResponse(f"/settings/channels?sent={name}", status_code=303)
