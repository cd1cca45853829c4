"""The heartbeats pages: the list with status, last ping and next due; a heartbeat's ping URL,
pings, run-time chart, pause and resume. Pings arrive through the real ping URLs."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.web.conftest import LogIn
from tocsin.clock import FrozenClock
from tocsin.domain import heartbeats as domain
from tocsin.services import heartbeats
from tocsin.services.actor import Actor
from tocsin.storage.models import Heartbeat

SYSTEM = Actor.system("tests")


@pytest.fixture
def backup(web_personas: Personas, sessions: sessionmaker[Session], clock: FrozenClock) -> str:
    with sessions() as db:
        row = heartbeats.create(
            db,
            SYSTEM,
            clock.now(),
            service_key="api",
            name="nightly-backup",
            schedule=domain.Schedule(grace=timedelta(hours=1), period=timedelta(days=1)),
            description="pg_dump to the bucket",
        )
        db.commit()
        return row.uuid


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def test_the_list_shows_status_last_ping_and_next_due(
    client: TestClient, log_in: LogIn, backup: str, clock: FrozenClock
) -> None:
    log_in(client, "charlie@example.com")
    assert "nightly-backup Public API new — —" in text_of(client.get("/heartbeats").text)
    assert client.get(f"/ping/{backup}").status_code == 200
    page = text_of(client.get("/heartbeats").text)
    assert "nightly-backup Public API up 2026-11-23 09:00 2026-11-24 10:00 every 1 day grace 1h 00m" in page
    clock.advance(timedelta(days=1, minutes=30))
    log_in(client, "charlie@example.com")
    assert "nightly-backup Public API late" in text_of(client.get("/heartbeats").text)
    assert "nightly-backup" not in client.get("/heartbeats?status=down").text


def test_the_heartbeat_page_shows_its_ping_url_pings_and_run_times(
    client: TestClient, log_in: LogIn, backup: str, clock: FrozenClock, settings: object
) -> None:
    for seconds in (30, 45, 60):
        assert client.get(f"/ping/{backup}/start").status_code == 200
        clock.advance(timedelta(seconds=seconds))
        assert client.get(f"/ping/{backup}").status_code == 200
        clock.advance(timedelta(minutes=10))
    assert client.post(f"/ping/{backup}/fail", content=b"disk <full>").status_code == 200
    log_in(client, "charlie@example.com")
    html = client.get("/heartbeats/nightly-backup").text
    assert re.search(rf'id="ping-url" type="text" readonly value="http://[^"]+/ping/{backup}"', html)
    chart = html.split('class="chart line-chart"', 1)[1].split("</svg>", 1)[0]
    assert 'data-points="3"' in chart
    assert "3 points, min 30 s, average 45 s, max 60 s" in chart
    page = text_of(html)
    assert "7 2026-11-23 09:32:15 fail" in page
    assert "disk <full>" in page  # escaped in the HTML, read back as text
    assert "<full>" not in html
    assert "2 2026-11-23 09:00:30 success 30.0 s" in page


def test_a_responder_pauses_and_resumes_a_heartbeat(
    client: TestClient, log_in: LogIn, backup: str, sessions: sessionmaker[Session]
) -> None:
    token = log_in(client, "bob@example.com")
    response = client.post("/heartbeats/nightly-backup/pause", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    with sessions() as db:
        assert db.scalars(select(Heartbeat.status)).one() == "paused"
    assert ">Resume</button>" in client.get("/heartbeats/nightly-backup").text
    client.post("/heartbeats/nightly-backup/resume", data={"csrf_token": token})
    with sessions() as db:
        assert db.scalars(select(Heartbeat.status)).one() == "new"


def test_a_viewer_cannot_pause_a_heartbeat(
    client: TestClient, log_in: LogIn, backup: str, sessions: sessionmaker[Session]
) -> None:
    token = log_in(client, "charlie@example.com")
    assert ">Pause</button>" not in client.get("/heartbeats/nightly-backup").text
    assert client.post("/heartbeats/nightly-backup/pause", data={"csrf_token": token}).status_code == 403
    with sessions() as db:
        assert db.scalars(select(Heartbeat.status)).one() == "new"


def test_resuming_a_heartbeat_that_is_not_paused_says_why(client: TestClient, log_in: LogIn, backup: str) -> None:
    token = log_in(client, "bob@example.com")
    response = client.post("/heartbeats/nightly-backup/resume", data={"csrf_token": token})
    assert response.status_code == 409
    assert "is not paused" in response.text
