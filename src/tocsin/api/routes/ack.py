"""Acknowledge links from pages: `GET /ack/{token}` asks, `POST /ack/{token}` acknowledges.

Deliberately unauthenticated: the token in the URL is the credential (256
random bits, single use, expiring; see `services.ack_links`). The person
paged is on a phone at 3 a.m., not logged in. The GET only shows a form,
because mail scanners and link previews fetch every URL in a message, and a
fetch must not acknowledge anything.

Answers are small HTML pages, not problem+json: a browser shows them. A used
or expired link is 410 Gone, an unknown one 404.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from tocsin.api.deps import CurrentClock, DbSession
from tocsin.errors import NotFound
from tocsin.services import ack_links

router = APIRouter(prefix="/ack", tags=["acknowledge"], include_in_schema=False)

# The token must not leak to other sites through the Referer, nor be kept by caches or indexed.
_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


def _page(status: int, title: str, body: str) -> HTMLResponse:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · Tocsin</title></head>"
        f'<body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 2rem auto; padding: 0 1rem">'
        f"<h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def _refused(exc: NotFound | ack_links.LinkUsed | ack_links.LinkExpired) -> HTMLResponse:
    if isinstance(exc, NotFound):
        return _page(404, "Unknown link", "<p>This acknowledge link does not exist.</p>")
    title = "Link already used" if isinstance(exc, ack_links.LinkUsed) else "Link expired"
    return _page(410, title, f"<p>{escape(exc.message)}.</p>")


@router.get("/{token}", response_class=HTMLResponse)
def confirm(token: str, session: DbSession, clock: CurrentClock) -> HTMLResponse:
    try:
        link = ack_links.inspect(session, token, clock.now())
    except (NotFound, ack_links.LinkUsed, ack_links.LinkExpired) as exc:
        return _refused(exc)
    incident = link.incident
    body = (
        f"<p><strong>{escape(incident.human_id)}</strong> ({escape(incident.severity)}): "
        f"{escape(incident.title)}</p>"
        f"<p>Status: {escape(incident.status)}</p>"
        '<form method="post">'
        f'<button type="submit">Acknowledge as {escape(link.user.name)}</button></form>'
    )
    return _page(200, f"Acknowledge {incident.human_id}?", body)


@router.post("/{token}", response_class=HTMLResponse)
def acknowledge(token: str, session: DbSession, clock: CurrentClock) -> HTMLResponse:
    try:
        redeemed = ack_links.redeem(session, token, clock.now())
    except (NotFound, ack_links.LinkUsed, ack_links.LinkExpired) as exc:
        session.rollback()
        return _refused(exc)
    session.commit()
    incident, who = redeemed.incident, redeemed.user.email.partition("@")[0]
    if redeemed.acknowledged:
        return _page(200, f"Acknowledged {incident.human_id} as {who}", "<p>Paging has stopped.</p>")
    at = f" at {incident.acknowledged_at:%Y-%m-%d %H:%M} UTC" if incident.acknowledged_at else ""
    body = f"<p>Nothing to do: it was acknowledged{at}. It is {escape(incident.status)}.</p>"
    return _page(200, f"{incident.human_id} was already acknowledged", body)
