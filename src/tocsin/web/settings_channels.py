"""Settings → channels: where incident events are posted, which of them each hears, and a
test post to check that a channel works.

An address is a credential (a webhook URL posts as the bot), so the page shows it
masked to everyone, admins too (the API shows admins the whole address, for the CLI and
config as code); a webhook channel's signing secret is never shown, only that one is set.
Responders and admins may send a test post: it is queued like any notification and the
engine's deliveries module sends it; the page then asks every two seconds what came of
it (an HTMX fragment that stops asking once the post is sent or has failed), so a
mistyped webhook shows its error where the button was pressed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tocsin.api.deps import CurrentClock, DbSession
from tocsin.errors import NotFound
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
    test: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> Response:
    rows, pager = paged(settings_views.channels_page(session, offset=offset(page), limit=PAGE_SIZE + 1), page)
    shown = [(view, contacts.masked(view.channel.kind, view.channel.address)) for view in channels.views(session, rows)]
    sent = settings_views.test_post(session, test) if test is not None and user.can_respond else None
    return render(request, "settings/channels.html", user, channels=shown, pager=pager, test=sent)


@router.post("/settings/channels/{name}/test")
def send_test(user: Responder, session: DbSession, clock: CurrentClock, name: str) -> Response:
    notification = channels.send_test(session, user.actor, clock.now(), name)
    session.commit()
    return RedirectResponse(f"/settings/channels?test={notification.id}#test-post", status_code=303)


@router.get("/settings/channels/tests/{notification_id}", response_class=HTMLResponse)
def test_outcome(
    request: Request, user: Responder, session: DbSession, notification_id: Annotated[int, Path(ge=1, le=2**62)]
) -> Response:
    found = settings_views.test_post(session, notification_id)
    if found is None:
        raise NotFound(f"no test post {notification_id}", field="notification")
    return render(request, "settings/_test_post.html", user, test=found)
