"""Calendar feeds: make a secret iCal URL for a schedule or a user, revoke it, and serve it.

`GET /ical/{token}.ics` is deliberately unauthenticated: calendar apps subscribe
to a bare URL and cannot send a bearer token, so the token in the URL (256
random bits, stored only hashed, revocable; see `services.calendars`) is the
credential. The request log and metrics name the route's template, never the
URL, so the token is not logged. An unknown and a revoked token get the same
404, so the answer does not tell whether a URL ever worked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel

from tocsin.api.deps import CurrentClock, DbSession, Writer
from tocsin.errors import NotFound
from tocsin.services import calendars
from tocsin.storage import models

router = APIRouter(tags=["calendars"])

# The URL is a credential: keep it out of other sites' Referer, shared caches and search indexes.
_FEED_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "private, no-store", "X-Robots-Tag": "noindex"}


class FeedOut(BaseModel):
    id: int
    kind: str
    schedule: str | None
    user: str | None
    created_at: datetime
    revoked_at: datetime | None


class IssuedFeedOut(FeedOut):
    url: str  # shown in this answer only; the server keeps just a hash of its token


def _feed_out(feed: models.CalendarFeed) -> FeedOut:
    return FeedOut(
        id=feed.id,
        kind=feed.kind,
        schedule=feed.schedule.key if feed.schedule else None,
        user=feed.user.email if feed.user else None,
        created_at=feed.created_at,
        revoked_at=feed.revoked_at,
    )


def _public_url(request: Request) -> str:
    settings = getattr(request.app.state.tocsin, "settings", None)
    base = getattr(settings, "public_url", "") or str(request.base_url)
    return base.rstrip("/")


def _issued(request: Request, feed: models.CalendarFeed, token: str) -> IssuedFeedOut:
    return IssuedFeedOut(**_feed_out(feed).model_dump(), url=f"{_public_url(request)}/ical/{token}.ics")


@router.post("/api/v1/schedules/{key}/feeds", status_code=201, response_model=IssuedFeedOut)
def create_schedule_feed(
    key: str, request: Request, actor: Writer, session: DbSession, clock: CurrentClock
) -> IssuedFeedOut:
    feed, token = calendars.create_feed(session, actor, clock.now(), schedule_key=key)
    session.commit()
    return _issued(request, feed, token)


@router.post("/api/v1/users/{email}/feeds", status_code=201, response_model=IssuedFeedOut)
def create_user_feed(
    email: str, request: Request, actor: Writer, session: DbSession, clock: CurrentClock
) -> IssuedFeedOut:
    feed, token = calendars.create_feed(session, actor, clock.now(), user_email=email)
    session.commit()
    return _issued(request, feed, token)


@router.delete("/api/v1/feeds/{feed_id}", status_code=204)
def revoke_feed(
    feed_id: Annotated[int, Path(ge=1, le=2**62)], actor: Writer, session: DbSession, clock: CurrentClock
) -> Response:
    calendars.revoke_feed(session, actor, clock.now(), feed_id)
    session.commit()
    return Response(status_code=204)


@router.api_route("/ical/{token}.ics", methods=["GET", "HEAD"], include_in_schema=False)
def feed(token: str, session: DbSession, clock: CurrentClock) -> Response:
    found = calendars.feed_for_token(session, token)
    if found is None:
        raise NotFound("no such calendar feed", field="token")
    body = calendars.render(session, found, clock.now())
    return Response(body, media_type="text/calendar; charset=utf-8", headers=_FEED_HEADERS)
