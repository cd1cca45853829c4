"""The dashboard: open incidents with their clocks, who is on call, what is failing, what changed."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.support.web_pages import declare, text_of
from tests.web.conftest import LogIn
from tocsin.clock import FrozenClock
from tocsin.domain import heartbeats as heartbeat_domain
from tocsin.services import changes, checks, heartbeats, incidents, schedules
from tocsin.services.actor import Actor
from tocsin.services.schedules import LayerSpec
from tocsin.storage.models import Check, Service

SYSTEM = Actor.system("tests")
MONDAY = datetime(2026, 11, 23, 9, 0)  # START, as a wall-clock time in UTC


@pytest.fixture
def bob_on_call(sessions: sessionmaker[Session], clock: FrozenClock, web_personas: Personas) -> None:
    """Bob this week, Alice the next, handing over on Monday at 09:00 UTC."""
    with sessions() as db:
        layer = LayerSpec(name="weekly", participants=["bob@example.com", "alice@example.com"], start=MONDAY)
        schedules.create_schedule(db, SYSTEM, clock.now(), key="primary", name="Primary", layers=[layer])
        db.commit()


def test_a_viewer_sees_who_is_on_call_now_and_next(client: TestClient, log_in: LogIn, bob_on_call: None) -> None:
    log_in(client, "charlie@example.com")
    page = text_of(client.get("/").text)
    assert "Primary Bob Responder until Mon 09:00 Alice Admin" in page


def test_the_dashboard_shows_a_failing_check_and_a_late_heartbeat(
    client: TestClient, log_in: LogIn, sessions: sessionmaker[Session], clock: FrozenClock, web_personas: Personas
) -> None:
    with sessions() as db:
        checks.create(
            db,
            SYSTEM,
            clock.now(),
            service_key="api",
            name="api-health",
            definition=checks.Definition(kind="http", spec={"url": "https://api.example.com/health"}),
        )
        checks.create(
            db,
            SYSTEM,
            clock.now(),
            service_key="web",
            name="web-health",
            definition=checks.Definition(kind="http", spec={"url": "https://www.example.com/"}),
        )
        heartbeats.create(
            db,
            SYSTEM,
            clock.now(),
            service_key="api",
            name="nightly-backup",
            schedule=heartbeat_domain.Schedule(grace=timedelta(minutes=10), period=timedelta(hours=1)),
        )
        heartbeats.create(
            db,
            SYSTEM,
            clock.now(),
            service_key="api",
            name="queue-worker",
            schedule=heartbeat_domain.Schedule(grace=timedelta(minutes=10), period=timedelta(hours=2)),
        )
        db.commit()
    with sessions() as db:
        for name in ("nightly-backup", "queue-worker"):
            uuid = heartbeats.get(db, name).uuid
            heartbeats.record_ping(db, clock.now(), uuid, heartbeats.Ping(heartbeat_domain.PingKind.SUCCESS, "GET"))
        # What three failed runs leave behind (the probes themselves are the checks' tests' business).
        check = db.scalar(select(Check).where(Check.name == "api-health"))
        assert check is not None
        check.status, check.last_reason, check.last_result_at = "down", "HTTP 503", clock.now()
        db.commit()
    clock.advance(timedelta(minutes=65))  # the hourly one is late, the two-hourly one is fine
    log_in(client, "charlie@example.com")
    page = text_of(client.get("/").text)
    assert "api-health down Public API · HTTP 503" in page
    assert "web-health" not in page
    assert "nightly-backup late" in page
    assert "queue-worker" not in page
    clock.advance(timedelta(minutes=10))  # past the grace: down
    assert "nightly-backup down" in text_of(client.get("/").text)


def test_all_is_fine_when_nothing_fails(client: TestClient, log_in: LogIn, web_personas: Personas) -> None:
    log_in(client, "charlie@example.com")
    page = text_of(client.get("/").text)
    assert "No open incidents." in page
    assert "Every check and heartbeat is fine." in page
    assert "No schedules yet." in page


def test_open_incidents_are_grouped_by_severity_with_their_clocks(
    client: TestClient, log_in: LogIn, sessions: sessionmaker[Session], clock: FrozenClock, web_personas: Personas
) -> None:
    minor = declare(sessions, clock.now(), "Slow search", "P3")
    clock.advance(timedelta(minutes=2))
    outage = declare(sessions, clock.now(), "Everything is down", "P0")
    closed = declare(sessions, clock.now(), "Already fixed", "P1")
    with sessions() as db:
        incidents.change_status(db, SYSTEM, clock.now(), incidents.get(db, closed), "resolved")
        incidents.post_update(db, SYSTEM, clock.now(), incidents.get(db, outage), "Looking into it")
        db.commit()
    clock.advance(timedelta(minutes=20))
    log_in(client, "charlie@example.com")
    page = text_of(client.get("/").text)
    open_card = page.split("Open incidents")[1].split("On call")[0]
    assert open_card.index("Everything is down") < open_card.index("Slow search")  # P0 first
    assert "Already fixed" not in open_card
    assert f"Everything is down triggered {outage} · Public API Open for 20m Acknowledge: overdue by 15m" in open_card
    assert "Next update: overdue by 5m" in open_card  # P0: an update every 15 minutes, the last 20 minutes ago
    assert f"Slow search triggered {minor} · Public API Open for 22m Acknowledge: due in 3h 38m" in open_card
    assert "Last update" not in open_card  # P3 has no cadence and no update


def test_the_open_incidents_card_refreshes_itself(
    client: TestClient, log_in: LogIn, sessions: sessionmaker[Session], clock: FrozenClock, web_personas: Personas
) -> None:
    log_in(client, "charlie@example.com")
    html = client.get("/").text
    assert 'hx-get="/dashboard/incidents" hx-trigger="every 10s"' in html
    declare(sessions, clock.now(), "Fresh trouble", "P2")
    fragment = client.get("/dashboard/incidents", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "Fresh trouble" in text_of(fragment.text)
    assert "<html" not in fragment.text


def test_recent_changes_are_listed_newest_first(
    client: TestClient, log_in: LogIn, sessions: sessionmaker[Session], clock: FrozenClock, web_personas: Personas
) -> None:
    with sessions() as db:
        api = db.scalar(select(Service).where(Service.key == "api"))
        assert api is not None
        changes.record(
            db, clock.now() - timedelta(hours=2), service_id=api.id, integration_id=None, summary="Deploy v41"
        )
        changes.record(
            db, clock.now() - timedelta(minutes=5), service_id=api.id, integration_id=None, summary="Deploy v42"
        )
        db.commit()
    log_in(client, "charlie@example.com")
    page = text_of(client.get("/").text)
    assert "11-23 08:55 api Deploy v42 11-23 07:00 api Deploy v41" in page


def test_the_dashboard_needs_a_session(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
