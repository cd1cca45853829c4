"""Calendar feeds through HTTP: made with a token, fetched by a calendar app with only the URL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from structlog.testing import capture_logs

from tests.conftest import Personas
from tocsin.app import create_app
from tocsin.clock import FrozenClock
from tocsin.config import Settings
from tocsin.domain.schedules import final_schedule
from tocsin.services import calendars, schedules
from tocsin.storage.models import CalendarFeed

PROBLEM = "application/problem+json"
ALICE, BOB, CHARLIE = "alice@example.com", "bob@example.com", "charlie@example.com"
PUBLIC_URL = "https://tocsin.example.com"

PRIMARY: dict[str, Any] = {
    "key": "primary",
    "name": "Primary on-call",
    "time_zone": "Europe/Berlin",
    "layers": [{"name": "weekly", "kind": "weekly", "start": "2026-11-16T09:00:00", "participants": [ALICE, BOB]}],
}


@pytest.fixture
def api(settings: Settings, clock: FrozenClock, sessions: sessionmaker[Session]) -> Iterator[TestClient]:
    app = create_app(replace(settings, public_url=PUBLIC_URL + "/"), clock, sessions)
    with TestClient(app) as test_client:
        yield test_client


def ok(answer: Any, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json() if answer.content else None


def feed_path(url: str) -> str:
    return urlsplit(url).path


def fetch(api: TestClient, url: str) -> Calendar:
    answer = api.get(feed_path(url))  # no Authorization: a calendar app has only the URL
    assert answer.status_code == 200, answer.text
    return Calendar.from_ical(answer.content)


def test_a_schedule_feed_is_made_once_and_fetched_without_a_token(
    api: TestClient, personas: Personas, clock: FrozenClock, sessions: sessionmaker[Session]
) -> None:
    ok(api.post("/api/v1/schedules", json=PRIMARY, headers=personas.bob.headers), 201)
    made = ok(api.post("/api/v1/schedules/primary/feeds", headers=personas.bob.headers), 201)
    assert (made["kind"], made["schedule"], made["user"], made["revoked_at"]) == ("schedule", "primary", None, None)
    assert made["url"].startswith(f"{PUBLIC_URL}/ical/{calendars.TOKEN_PREFIX}")
    assert made["url"].endswith(".ics")

    answer = api.get(feed_path(made["url"]))  # no Authorization
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/calendar; charset=utf-8"
    assert answer.headers["cache-control"] == "private, no-store"
    assert answer.headers["referrer-policy"] == "no-referrer"

    calendar = Calendar.from_ical(answer.content)
    assert str(calendar["x-wr-calname"]) == "On call: Primary on-call"
    with sessions() as session:
        schedule = schedules.to_domain(schedules.get_schedule(session, "primary"))
    shifts = final_schedule(schedule, *calendars.feed_window(clock.now()))
    got = [(e.decoded("dtstart"), e.decoded("dtend")) for e in calendar.walk("VEVENT")]
    assert got == [(s.start, s.end) for s in shifts]
    assert len(got) >= 10

    # A calendar app refreshing an hour later finds the same events under the same UIDs.
    uids = [str(e["uid"]) for e in calendar.walk("VEVENT")]
    clock.advance(calendars.REFRESH)
    again = fetch(api, made["url"])
    assert [str(e["uid"]) for e in again.walk("VEVENT")] == uids
    assert api.head(feed_path(made["url"])).status_code == 200


def test_only_the_tokens_hash_is_kept_and_the_log_names_the_route_not_the_url(
    api: TestClient, personas: Personas, sessions: sessionmaker[Session]
) -> None:
    ok(api.post("/api/v1/schedules", json=PRIMARY, headers=personas.bob.headers), 201)
    made = ok(api.post("/api/v1/schedules/primary/feeds", headers=personas.bob.headers), 201)
    token = feed_path(made["url"]).removeprefix("/ical/").removesuffix(".ics")
    with sessions() as session:
        row = session.scalars(select(CalendarFeed)).one()
        assert row.token_hash == calendars.hash_token(token)
        assert token not in {str(getattr(row, column.key)) for column in CalendarFeed.__table__.columns}

    with capture_logs() as logs:
        fetch(api, made["url"])
    requests = [entry for entry in logs if entry.get("event") == "request"]
    assert [entry["path"] for entry in requests] == ["/ical/{token}.ics"]
    assert token not in repr(logs)


def test_revoked_and_unknown_feeds_answer_the_same_404(api: TestClient, personas: Personas) -> None:
    ok(api.post("/api/v1/schedules", json=PRIMARY, headers=personas.bob.headers), 201)
    made = ok(api.post("/api/v1/schedules/primary/feeds", headers=personas.bob.headers), 201)
    fetch(api, made["url"])

    ok(api.delete(f"/api/v1/feeds/{made['id']}", headers=personas.bob.headers), 204)
    revoked = api.get(feed_path(made["url"]))
    unknown = api.get(f"/ical/{calendars.TOKEN_PREFIX}{'x' * 43}.ics")
    assert revoked.status_code == unknown.status_code == 404
    assert revoked.headers["content-type"] == PROBLEM
    assert revoked.json() == unknown.json()

    assert api.delete("/api/v1/feeds/999", headers=personas.bob.headers).status_code == 404


def test_a_user_feed_is_made_by_that_user_or_an_admin(api: TestClient, personas: Personas) -> None:
    ok(api.post("/api/v1/schedules", json=PRIMARY, headers=personas.bob.headers), 201)
    own = ok(api.post(f"/api/v1/users/{BOB}/feeds", headers=personas.bob.headers), 201)
    assert (own["kind"], own["user"], own["schedule"]) == ("user", BOB, None)
    calendar = fetch(api, own["url"])
    assert str(calendar["x-wr-calname"]) == "Bob Responder's on-call shifts"
    assert {str(e["summary"]) for e in calendar.walk("VEVENT")} == {"On call: Primary on-call (weekly)"}

    refused = api.post(f"/api/v1/users/{ALICE}/feeds", headers=personas.bob.headers)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == PROBLEM
    ok(api.post(f"/api/v1/users/{BOB}/feeds", headers=personas.alice.headers), 201)
    # An admin's feed for Bob is still Bob's: Bob may revoke it, Charlie may not even try.
    by_alice = ok(api.post(f"/api/v1/users/{BOB}/feeds", headers=personas.alice.headers), 201)
    assert api.delete(f"/api/v1/feeds/{by_alice['id']}", headers=personas.charlie.headers).status_code == 403
    ok(api.delete(f"/api/v1/feeds/{by_alice['id']}", headers=personas.bob.headers), 204)
    assert api.delete(f"/api/v1/feeds/{own['id']}", headers=personas.alice.headers).status_code == 204


def test_making_a_feed_needs_a_write_token(api: TestClient, personas: Personas) -> None:
    ok(api.post("/api/v1/schedules", json=PRIMARY, headers=personas.bob.headers), 201)
    charlie = personas.charlie.headers
    assert api.post(f"/api/v1/users/{BOB}/feeds", headers=charlie).status_code == 403
    assert api.post(f"/api/v1/users/{CHARLIE}/feeds", headers=charlie).status_code == 403
    assert api.post("/api/v1/schedules/primary/feeds", headers=charlie).status_code == 403
    assert api.post("/api/v1/schedules/primary/feeds").status_code == 401
    assert api.post("/api/v1/schedules/nope/feeds", headers=personas.bob.headers).status_code == 404
    assert api.post("/api/v1/users/nobody@example.com/feeds", headers=personas.alice.headers).status_code == 404
