"""Calendar feeds: a secret iCal URL per schedule or per user, so shifts show up in people's calendars.

Calendar apps subscribe to a URL and cannot send an `Authorization` header, so
the URL's token is the whole credential. It carries 256 random bits and only
its SHA-256 is stored, like API tokens: it is shown once, and a leaked one is
revoked, not rotated.

A feed is rendered from the final schedule each time it is fetched, so it is
never stale by more than the refresh interval it asks calendar apps for.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from icalendar import Calendar, Event, vDuration
from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.domain import schedules as domain
from tocsin.domain.access import Scope
from tocsin.errors import Forbidden, NotFound, ValidationFailed
from tocsin.services import audit, directory, schedules
from tocsin.services.actor import Actor
from tocsin.storage import models
from tocsin.storage.repositories import paging

TOKEN_PREFIX = "tcal_"  # noqa: S105 - a marker that makes leaked feed URLs greppable, not a secret
PRODID = "-//Tocsin//On-call schedules//EN"
# What a feed shows: last week (to look back at who had it) and the next two months.
LOOK_BACK = timedelta(days=7)
LOOK_AHEAD = timedelta(days=60)
# Asked of calendar apps; most poll far less often whatever they are told.
REFRESH = timedelta(hours=1)


class FeedKind(StrEnum):
    SCHEDULE = "schedule"
    USER = "user"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_feed(
    session: Session, actor: Actor, now: datetime, *, schedule_key: str | None = None, user_email: str | None = None
) -> tuple[models.CalendarFeed, str]:
    """A new feed for one schedule or one user; the token is returned here and never again.

    Anyone who may write can publish a schedule (its shifts are no secret to them);
    a user's feed only that user or an admin.
    """
    if (schedule_key is None) == (user_email is None):
        raise ValidationFailed("a feed is for a schedule or for a user, not both or neither", field="kind")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    feed = models.CalendarFeed(token_hash=hash_token(token), created_at=now)
    if schedule_key is not None:
        schedule = schedules.get_schedule(session, schedule_key)
        feed.kind, feed.schedule_id, subject = FeedKind.SCHEDULE.value, schedule.id, schedule.key
    else:
        assert user_email is not None  # the check above
        user = directory.get_user(session, user_email)
        if not user.active:
            raise NotFound(f"no user {user_email!r}", field="user")
        _check_may_act_for(actor, user, "create a calendar feed")
        feed.kind, feed.user_id, subject = FeedKind.USER.value, user.id, user.email
    session.add(feed)
    session.flush()
    audit.record(session, actor, now, "create", "calendar_feed", str(feed.id), {"kind": feed.kind, "of": subject})
    session.flush()
    return feed, token


def revoke_feed(session: Session, actor: Actor, now: datetime, feed_id: int) -> models.CalendarFeed:
    """Stop a feed for good; revoking a revoked feed changes nothing."""
    feed = session.get(models.CalendarFeed, feed_id)
    if feed is None:
        raise NotFound(f"no calendar feed {feed_id}", field="feed")
    if feed.user is not None:
        _check_may_act_for(actor, feed.user, "revoke a calendar feed")
    if feed.revoked_at is None:
        feed.revoked_at = now
        audit.record(session, actor, now, "revoke", "calendar_feed", str(feed.id), {"kind": feed.kind})
        session.flush()
    return feed


def feed_for_token(session: Session, token: str) -> models.CalendarFeed | None:
    """The live feed a URL token opens, or None; callers must not tell unknown from revoked."""
    feed = session.scalar(select(models.CalendarFeed).where(models.CalendarFeed.token_hash == hash_token(token)))
    if feed is None or feed.revoked_at is not None:
        return None
    # A deactivated user's feed stops with their account, as their API tokens do.
    if feed.user is not None and not feed.user.active:
        return None
    return feed


def feed_window(now: datetime) -> tuple[datetime, datetime]:
    """The range a feed covers: at least [now - LOOK_BACK, now + LOOK_AHEAD], on whole UTC days.

    Whole days keep the feed the same all day: the shift cut off at the window's start
    keeps its DTSTART, and so its UID, from one hourly refresh to the next.
    """
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight - LOOK_BACK, midnight + LOOK_AHEAD + timedelta(days=1)


def render(session: Session, feed: models.CalendarFeed, now: datetime) -> bytes:
    """The feed as an iCalendar document: one event per shift in `feed_window(now)`."""
    start, end = feed_window(now)
    if feed.schedule is not None:
        schedule = feed.schedule
        title = f"On call: {schedule.name}"
        shifts = [(schedule, s) for s in domain.final_schedule(schedules.to_domain(schedule), start, end)]
    else:
        user = feed.user
        assert user is not None  # the table's check constraint: a feed has a schedule or a user
        title = f"{user.name}'s on-call shifts"
        shifts = [
            (schedule, shift)
            for schedule in schedules.list_schedules(session)
            for shift in domain.final_schedule(schedules.to_domain(schedule), start, end)
            if shift.user == user.email
        ]
    people = paging.users_by_emails(session, {shift.user for _, shift in shifts})
    names = {email: user.name for email, user in people.items()}
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("name", title)  # RFC 7986
    calendar.add("x-wr-calname", title)  # what Apple, Google and Outlook read
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})  # RFC 7986
    calendar.add("x-published-ttl", vDuration(REFRESH))  # Outlook's older spelling of the same
    for schedule, shift in sorted(shifts, key=lambda pair: (pair[1].start, pair[0].key)):
        calendar.add_component(_event(schedule, shift, now, names, with_person=feed.schedule is not None))
    body: bytes = calendar.to_ical()  # untyped in icalendar
    return body


def _check_may_act_for(actor: Actor, user: models.User, action: str) -> None:
    if actor.user_id != user.id and actor.scope is not Scope.ADMIN:
        raise Forbidden(f"only {user.email} or an admin can {action} for {user.email}")


def _event(
    schedule: models.Schedule, shift: domain.Shift, now: datetime, names: dict[str, str], *, with_person: bool
) -> Event:
    via = shift.source.name  # the layer's name, or "override"
    person = names.get(shift.user.lower(), shift.user)
    summary = f"On call: {schedule.name} ({via})"
    if with_person:
        # A schedule's feed shows everyone's shifts; a user's feed is all theirs, so it needs no name.
        summary += f" - {person}"
    event = Event()
    event.add("uid", shift_uid(schedule.key, shift.user, shift.start))
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", shift.start.astimezone(UTC))
    event.add("dtend", shift.end.astimezone(UTC))
    event.add("summary", summary)
    event.add("description", f"{person} <{shift.user}> is on call for {schedule.name} ({via}).")
    # Being on call is not being busy: the shift must not block the person's free/busy time.
    event.add("transp", "TRANSPARENT")
    return event


def shift_uid(schedule_key: str, user: str, start: datetime) -> str:
    """The same shift keeps its UID across fetches, so calendar apps update it instead of adding a copy.

    Hashed: the UID is a stable handle, and need not spell out an e-mail address.
    """
    basis = f"{schedule_key}\n{user.lower()}\n{start.astimezone(UTC).isoformat()}"
    return f"{hashlib.sha256(basis.encode()).hexdigest()[:32]}@tocsin"
