from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import Personas
from tocsin.clock import FrozenClock
from tocsin.domain.schedules import final_schedule
from tocsin.errors import Forbidden, NotFound, ValidationFailed
from tocsin.services import calendars, schedules
from tocsin.services.schedules import LayerSpec
from tocsin.storage.models import AuditEvent, CalendarFeed

ALICE, BOB, CHARLIE = "alice@example.com", "bob@example.com", "charlie@example.com"
MONDAY = datetime(2026, 11, 16, 9, 0)  # wall clock, a week before the personas' START (Monday 2026-11-23 09:00 UTC)


def make_schedule(
    session: Session, personas: Personas, clock: FrozenClock, key: str, name: str, *people: str, kind: str = "weekly"
) -> None:
    layer = LayerSpec(name=kind, participants=list(people), start=MONDAY, kind=kind)
    schedules.create_schedule(
        session, personas.bob.actor, clock.now(), key=key, name=name, time_zone="Europe/Berlin", layers=[layer]
    )
    session.commit()


def events(body: bytes) -> list[Event]:
    return [event for event in Calendar.from_ical(body).walk("VEVENT") if isinstance(event, Event)]


def spans(body: bytes) -> list[tuple[datetime, datetime]]:
    return [(e.decoded("dtstart"), e.decoded("dtend")) for e in events(body)]


def expected(session: Session, key: str, now: datetime) -> list[tuple[datetime, datetime, str]]:
    schedule = schedules.to_domain(schedules.get_schedule(session, key))
    return [(s.start, s.end, s.user) for s in final_schedule(schedule, *calendars.feed_window(now))]


def test_a_schedule_feed_has_one_event_per_shift_of_the_final_schedule(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    make_schedule(session, personas, clock, "primary", "Primary", ALICE, BOB)
    feed, _token = calendars.create_feed(session, personas.bob.actor, clock.now(), schedule_key="primary")
    session.commit()

    body = calendars.render(session, feed, clock.now())
    calendar = Calendar.from_ical(body)
    assert str(calendar["prodid"]) == calendars.PRODID
    assert str(calendar["version"]) == "2.0"
    assert str(calendar["x-wr-calname"]) == "On call: Primary"
    assert calendar.decoded("refresh-interval") == timedelta(hours=1)
    assert str(calendar["x-published-ttl"]) == "PT1H"

    # Every time in UTC, not floating nor in a zone the calendar app would have to know.
    assert re.findall(rb"^DT(?:START|END|STAMP)[:;].*$", body, re.MULTILINE) == re.findall(
        rb"^DT(?:START|END|STAMP):\d{8}T\d{6}Z\r$", body, re.MULTILINE
    )
    shifts = expected(session, "primary", clock.now())
    # Last week (Alice from 16 Nov), this week (Bob), then alternating weeks for two months.
    assert len(shifts) >= 10
    assert spans(body) == [(start, end) for start, end, _ in shifts]
    for event, (_, _, user) in zip(events(body), shifts, strict=True):
        name = "Alice Admin" if user == ALICE else "Bob Responder"
        assert str(event["summary"]) == f"On call: Primary (weekly) - {name}"
        assert event.decoded("dtstamp") == clock.now()


def test_the_window_reaches_a_week_back_and_two_months_ahead(clock: FrozenClock) -> None:
    start, end = calendars.feed_window(clock.now())
    assert start <= clock.now() - timedelta(days=7)
    assert end >= clock.now() + timedelta(days=60)
    # The same all day, so a refresh later in the day finds the same events.
    assert calendars.feed_window(clock.now() + timedelta(hours=14, minutes=59)) == (start, end)


def test_uids_are_stable_across_renders_and_distinct_per_shift(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    make_schedule(session, personas, clock, "primary", "Primary", ALICE, BOB)
    feed, _token = calendars.create_feed(session, personas.bob.actor, clock.now(), schedule_key="primary")
    first = calendars.render(session, feed, clock.now())
    second = calendars.render(session, feed, clock.advance(timedelta(hours=1)))

    uids = [str(e["uid"]) for e in events(first)]
    assert uids == [str(e["uid"]) for e in events(second)]
    assert len(set(uids)) == len(uids)
    # Only the stamp moved.
    assert [e.decoded("dtstamp") for e in events(second)] == [clock.now()] * len(uids)


def test_an_override_shows_as_its_own_event_with_its_own_summary(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    make_schedule(session, personas, clock, "primary", "Primary", ALICE, BOB)
    start, end = datetime(2026, 11, 24, 18, tzinfo=UTC), datetime(2026, 11, 25, 6, tzinfo=UTC)
    schedules.add_override(session, personas.bob.actor, clock.now(), "primary", user=CHARLIE, start=start, end=end)
    feed, _token = calendars.create_feed(session, personas.bob.actor, clock.now(), schedule_key="primary")

    body = calendars.render(session, feed, clock.now())
    assert spans(body) == [(s, e) for s, e, _ in expected(session, "primary", clock.now())]
    [override] = [e for e in events(body) if "override" in str(e["summary"])]
    assert str(override["summary"]) == "On call: Primary (override) - Charlie Viewer"
    assert (override.decoded("dtstart"), override.decoded("dtend")) == (start, end)
    # Bob's week is cut in two around it, and both halves are in the feed.
    assert (end, datetime(2026, 11, 30, 8, tzinfo=UTC)) in spans(body)


def test_a_user_feed_has_only_that_users_shifts_from_every_schedule(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    make_schedule(session, personas, clock, "primary", "Primary", ALICE, BOB)
    make_schedule(session, personas, clock, "database", "Database", BOB, CHARLIE, kind="daily")
    feed, _token = calendars.create_feed(session, personas.bob.actor, clock.now(), user_email=BOB)

    body = calendars.render(session, feed, clock.now())
    assert str(Calendar.from_ical(body)["x-wr-calname"]) == "Bob Responder's on-call shifts"
    bobs = [
        (start, end, summary)
        for key, name, via in (("primary", "Primary", "weekly"), ("database", "Database", "daily"))
        for start, end, user in expected(session, key, clock.now())
        if user == BOB
        for summary in [f"On call: {name} ({via})"]
    ]
    got = [(e.decoded("dtstart"), e.decoded("dtend"), str(e["summary"])) for e in events(body)]
    assert sorted(got) == sorted(bobs)
    assert got == sorted(got, key=lambda event: event[0])  # in time order, whatever the schedule
    assert {summary for _, _, summary in got} == {"On call: Primary (weekly)", "On call: Database (daily)"}


def test_only_the_hash_of_the_token_is_stored(session: Session, personas: Personas, clock: FrozenClock) -> None:
    make_schedule(session, personas, clock, "primary", "Primary", ALICE, BOB)
    feed, token = calendars.create_feed(session, personas.bob.actor, clock.now(), schedule_key="primary")
    session.commit()

    assert token.startswith(calendars.TOKEN_PREFIX)
    assert len(token) >= len(calendars.TOKEN_PREFIX) + 43  # 32 random bytes in URL-safe base64
    row = session.scalars(select(CalendarFeed)).one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {str(getattr(row, column.key)) for column in CalendarFeed.__table__.columns}
    assert calendars.feed_for_token(session, token) is feed
    audit = session.scalars(select(AuditEvent).where(AuditEvent.object_type == "calendar_feed")).one()
    assert token not in str(audit.detail)


def test_unknown_and_revoked_tokens_open_nothing(session: Session, personas: Personas, clock: FrozenClock) -> None:
    make_schedule(session, personas, clock, "primary", "Primary", ALICE, BOB)
    feed, token = calendars.create_feed(session, personas.bob.actor, clock.now(), schedule_key="primary")
    assert calendars.feed_for_token(session, "tcal_nothing") is None

    calendars.revoke_feed(session, personas.alice.actor, clock.now(), feed.id)
    session.commit()
    assert feed.revoked_at == clock.now()
    assert calendars.feed_for_token(session, token) is None
    # Revoking twice keeps the first time.
    calendars.revoke_feed(session, personas.alice.actor, clock.advance(timedelta(hours=1)), feed.id)
    assert feed.revoked_at == clock.now() - timedelta(hours=1)


def test_a_deactivated_users_feed_stops(session: Session, personas: Personas, clock: FrozenClock) -> None:
    feed, token = calendars.create_feed(session, personas.bob.actor, clock.now(), user_email=BOB)
    assert feed.user is not None
    feed.user.active = False
    session.commit()
    assert calendars.feed_for_token(session, token) is None


def test_a_user_feed_is_for_that_user_or_an_admin(session: Session, personas: Personas, clock: FrozenClock) -> None:
    with pytest.raises(Forbidden, match=r"only alice@example\.com or an admin"):
        calendars.create_feed(session, personas.bob.actor, clock.now(), user_email=ALICE)
    feed, _token = calendars.create_feed(session, personas.alice.actor, clock.now(), user_email=BOB)
    assert feed.user is not None
    assert (feed.kind, feed.user.email, feed.schedule_id) == ("user", BOB, None)
    mine, _token = calendars.create_feed(session, personas.alice.actor, clock.now(), user_email=ALICE)
    with pytest.raises(Forbidden):
        calendars.revoke_feed(session, personas.bob.actor, clock.now(), mine.id)


def test_a_feed_names_an_existing_schedule_or_user(session: Session, personas: Personas, clock: FrozenClock) -> None:
    with pytest.raises(NotFound, match="no schedule 'nope'"):
        calendars.create_feed(session, personas.bob.actor, clock.now(), schedule_key="nope")
    with pytest.raises(NotFound, match="no user"):
        calendars.create_feed(session, personas.alice.actor, clock.now(), user_email="nobody@example.com")
    with pytest.raises(ValidationFailed):
        calendars.create_feed(session, personas.alice.actor, clock.now())
    with pytest.raises(NotFound, match="no calendar feed 42"):
        calendars.revoke_feed(session, personas.alice.actor, clock.now(), 42)


def test_deleting_a_schedule_deletes_its_feeds(session: Session, personas: Personas, clock: FrozenClock) -> None:
    make_schedule(session, personas, clock, "primary", "Primary", ALICE, BOB)
    _feed, token = calendars.create_feed(session, personas.bob.actor, clock.now(), schedule_key="primary")
    session.commit()
    schedules.delete_schedule(session, personas.bob.actor, clock.now(), "primary")
    session.commit()
    session.expire_all()
    assert calendars.feed_for_token(session, token) is None
