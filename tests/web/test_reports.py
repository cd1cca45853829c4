"""The reports page: figures and charts over a window, the CSV download, and a year of incidents."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.support.web_pages import declare, text_of
from tests.web.conftest import LogIn
from tocsin.clock import FrozenClock
from tocsin.services import incidents
from tocsin.services.actor import Actor
from tocsin.storage import models


def acknowledge(sessions: sessionmaker[Session], clock: FrozenClock, ref: str) -> None:
    with sessions() as db:
        incidents.change_status(db, Actor.system("tests"), clock.now(), incidents.get(db, ref), "acknowledged")
        db.commit()


def test_a_viewer_sees_the_figures_the_charts_and_the_csv_link(
    client: TestClient, log_in: LogIn, web_personas: Personas, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    ref = declare(sessions, clock.now(), "Checkout 500s", "P1")
    clock.advance(timedelta(minutes=9))
    acknowledge(sessions, clock, ref)
    log_in(client, "charlie@example.com")

    page = client.get("/reports", params={"since": "30d"})
    assert page.status_code == 200
    text = text_of(page.text)
    assert "1 incident " in text
    assert "MTTA (declared → acknowledged) 9m median, 9m mean (1)" in text
    assert page.text.count('<svg class="chart bar-chart"') == 2  # nobody paged: no pages chart
    assert 'aria-label="Median time to acknowledge by month: 2 bars, Oct 2026 to Nov 2026' in page.text
    assert 'href="/reports.csv?since=30d"' in page.text
    assert '<a href="/reports" aria-current="page">Reports</a>' in page.text

    declare(sessions, clock.now(), "Practice", "P1", drill=True)
    with_drills = client.get("/reports", params={"since": "30d", "drills": "true"})
    assert "2 incidents" in text_of(with_drills.text)
    assert 'href="/reports.csv?since=30d&amp;drills=true"' in with_drills.text

    exported = client.get("/reports.csv", params={"since": "30d"})
    assert exported.status_code == 200
    assert "severity,P1,acknowledge_median_s,540\n" in exported.text


def test_a_bad_window_says_so_and_shows_90_days(client: TestClient, log_in: LogIn, web_personas: Personas) -> None:
    log_in(client, "charlie@example.com")
    page = client.get("/reports", params={"since": "lately"})
    assert page.status_code == 422
    assert "'lately' is not a duration" in text_of(page.text)
    assert client.get("/reports.csv", params={"since": "lately"}).status_code == 422


def test_pages_per_person_are_charted(
    client: TestClient, log_in: LogIn, web_personas: Personas, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    ref = declare(sessions, clock.now(), "Checkout 500s", "P1")
    with sessions() as db:
        incident = incidents.get(db, ref)
        bob = db.query(models.User).filter_by(email="bob@example.com").one()
        for n, at in enumerate((clock.now(), clock.now().replace(hour=3))):
            db.add(
                models.Notification(
                    idempotency_key=f"p{n}",
                    incident_id=incident.id,
                    user_id=bob.id,
                    contact_method_id=1,
                    kind="page",
                    channel="email",
                    step=f"level {n}",
                    status="sent",
                    due_at=at,
                    created_at=at,
                )
            )
        db.commit()
    log_in(client, "charlie@example.com")
    page = client.get("/reports")
    assert 'aria-label="Pages per person: 1 bars, Bob Responder to Bob Responder, total 2' in page.text
    assert "Bob Responder bob@example.com 2 1" in text_of(page.text)


def test_a_year_of_incidents_is_counted_in_every_month(
    client: TestClient, log_in: LogIn, web_personas: Personas, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    now = clock.now()
    rows = [
        {
            "human_id": f"INC-Y-{n:05d}",
            "title": f"incident {n}",
            "impact": "",
            "severity": ("P1", "P2", "P3")[n % 3],
            "status": "resolved",
            "drill": False,
            "declared_at": now - timedelta(hours=3 * n + 1),
            "acknowledged_at": now - timedelta(hours=3 * n + 1) + timedelta(minutes=5),
            "resolved_at": now - timedelta(hours=3 * n),
            "updated_at": now,
        }
        for n in range(2900)  # one every 3 hours for 362 days
    ]
    with sessions() as db:
        db.execute(insert(models.Incident), rows)
        db.commit()
    log_in(client, "charlie@example.com")
    page = client.get("/reports", params={"since": "365d"})
    assert page.status_code == 200
    assert "2900 incidents" in text_of(page.text)
    assert "MTTA (declared → acknowledged) 5m median, 5m mean (2900)" in text_of(page.text)
    assert 'aria-label="Median time to acknowledge by month: 13 bars, Nov 2025 to Nov 2026' in page.text
