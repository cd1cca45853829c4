"""The checks pages: the list with filters and 24-hour uptime, a check's uptime bars from its
rollups, its response-time chart, results, run-now, pause and resume. The clock starts on
Monday 2026-11-23 09:00 UTC."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.support.probe_servers import HttpTarget, http_target
from tests.web.conftest import LogIn
from tocsin.clock import FrozenClock
from tocsin.domain import checks as domain
from tocsin.services import checks
from tocsin.services.actor import Actor
from tocsin.storage.models import Check, CheckResult, CheckRollup

SYSTEM = Actor.system("tests")


@pytest.fixture
def target() -> Iterator[HttpTarget]:
    with http_target() as server:
        yield server


def make_check(
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    name: str,
    url: str,
    *,
    service: str = "api",
    kind: str = "http",
) -> int:
    spec = {"url": url} if kind == "http" else {"host": "db.internal", "port": 5432}
    with sessions() as db:
        row = checks.create(
            db, SYSTEM, clock.now(), service_key=service, name=name, definition=checks.Definition(kind=kind, spec=spec)
        )
        db.commit()
        return row.id


def add_rollup(db: Session, check_id: int, hour: datetime, count: int, up: int, ms: float = 120.0) -> None:
    db.add(
        CheckRollup(
            check_id=check_id,
            hour=hour,
            count=count,
            up=up,
            held=0,
            max_ms=int(ms),
            histogram=domain.add_to_histogram([], [ms] * count),
        )
    )


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def tooltips(html: str) -> list[str]:
    svg = html.split('class="chart uptime-bars"', 1)[1].split("</svg>", 1)[0]
    return re.findall(r"<title>([^<]+)</title>", svg)[1:]  # the first is the chart's own


def test_uptime_bars_are_computed_from_the_rollups_per_day(
    client: TestClient, log_in: LogIn, web_personas: Personas, clock: FrozenClock, sessions: sessionmaker[Session]
) -> None:
    check_id = make_check(sessions, clock, "api-health", "http://127.0.0.1:9/")
    with sessions() as db:
        day = datetime(2026, 11, 21, tzinfo=UTC)
        for hour in range(24):
            add_rollup(db, check_id, day + timedelta(hours=hour), 60, 30 if hour == 5 else 60)
        add_rollup(db, check_id, datetime(2026, 11, 22, 23, tzinfo=UTC), 60, 0)  # a bad last hour
        add_rollup(db, check_id, datetime(2026, 11, 23, 0, tzinfo=UTC), 60, 60)
        add_rollup(db, check_id, datetime(2026, 8, 1, tzinfo=UTC), 60, 60)  # older than 90 days
        db.commit()
    log_in(client, "charlie@example.com")
    html = client.get("/checks/api-health").text
    tips = tooltips(html)
    assert len(tips) == 90
    assert tips[0] == "2026-08-26: no data"
    assert tips[-3] == "2026-11-21: 97.92 %"  # 1,410 of 1,440
    assert tips[-2] == "2026-11-22: 0.00 %"
    assert tips[-1] == "2026-11-23: 100.00 %"
    assert re.search(r'<rect class="partial"[^>]*><title>2026-11-21', html)
    assert re.search(r'<rect class="down"[^>]*><title>2026-11-22', html)
    page = text_of(html)
    # 24 h: the hours from 10:00 yesterday on, 60 of 120; 7 days: 1,470 of 1,560
    assert "24 hours 50.00 %" in page
    assert "7 days 94.23 %" in page


def test_the_response_time_chart_has_a_point_per_result(
    client: TestClient, log_in: LogIn, web_personas: Personas, clock: FrozenClock, sessions: sessionmaker[Session]
) -> None:
    check_id = make_check(sessions, clock, "api-health", "http://127.0.0.1:9/")
    with sessions() as db:
        for i, (up, ms) in enumerate([(True, 100), (True, 140), (False, None), (True, 90), (True, 120)]):
            at = clock.now() - timedelta(hours=5) + timedelta(minutes=i)
            db.add(CheckResult(check_id=check_id, at=at, slot=at, up=up, held=False, response_ms=ms, reason=""))
        old = clock.now() - timedelta(days=2)
        db.add(CheckResult(check_id=check_id, at=old, slot=old, up=True, held=False, response_ms=500, reason=""))
        db.commit()
    log_in(client, "charlie@example.com")
    html = client.get("/checks/api-health").text
    chart = html.split('class="chart line-chart"', 1)[1].split("</svg>", 1)[0]
    assert 'data-points="4"' in chart  # the failure is a gap, the one two days ago out of range
    assert "4 points, min 90 ms, average 112 ms, max 140 ms, 1 without a value" in chart
    assert "Median 100 ms 95th percentile 140 ms Slowest 140 ms" in text_of(html)
    # the results table, newest first, has all six
    assert len(re.findall(r'<td class="clock">2026-11-2\d \d\d:\d\d:\d\d</td>', html)) == 6


def test_the_longer_ranges_draw_the_rollups_medians(
    client: TestClient, log_in: LogIn, web_personas: Personas, clock: FrozenClock, sessions: sessionmaker[Session]
) -> None:
    check_id = make_check(sessions, clock, "api-health", "http://127.0.0.1:9/")
    with sessions() as db:
        add_rollup(db, check_id, datetime(2026, 11, 20, 10, tzinfo=UTC), 60, 60, ms=200.0)
        add_rollup(db, check_id, datetime(2026, 11, 22, 10, tzinfo=UTC), 60, 60, ms=50.0)
        db.commit()
    log_in(client, "charlie@example.com")
    html = client.get("/checks/api-health?range=7d").text
    assert 'aria-current="page">7 days</a>' in html
    chart = html.split('class="chart line-chart"', 1)[1].split("</svg>", 1)[0]
    assert 'data-points="2"' in chart
    assert "median response time, last 7 days" in chart
    median = domain.percentile(domain.add_to_histogram([], [200.0] * 60 + [50.0] * 60), 50)
    assert f"Median {median:.0f} ms" in text_of(html)
    assert "Slowest 200 ms" in text_of(html)
    # an unknown range is the last 24 hours
    assert 'aria-current="page">24 hours</a>' in client.get("/checks/api-health?range=1y").text


def test_the_list_filters_and_shows_24_hour_uptime(
    client: TestClient, log_in: LogIn, web_personas: Personas, clock: FrozenClock, sessions: sessionmaker[Session]
) -> None:
    api = make_check(sessions, clock, "api-health", "http://127.0.0.1:9/")
    make_check(sessions, clock, "db-port", "", service="web", kind="tcp")
    with sessions() as db:
        add_rollup(db, api, datetime(2026, 11, 23, 8, tzinfo=UTC), 4, 3)
        db.commit()
    log_in(client, "charlie@example.com")
    page = text_of(client.get("/checks").text)
    assert "api-health Public API new http GET http://127.0.0.1:9/ none yet — 75.00 %" in page
    assert "db-port Web app new" in page
    assert "db-port" not in text_of(client.get("/checks?kind=http").text)
    assert "api-health" not in text_of(client.get("/checks?service=web").text)
    assert "No checks match these filters." in client.get("/checks?status=down").text
    assert "No service nope." in client.get("/checks?service=nope").text


def test_the_list_is_paginated(
    client: TestClient, log_in: LogIn, web_personas: Personas, clock: FrozenClock, sessions: sessionmaker[Session]
) -> None:
    for i in range(51):
        make_check(sessions, clock, f"check-{i:02d}", "http://127.0.0.1:9/")
    log_in(client, "charlie@example.com")
    first = client.get("/checks").text
    assert "check-49" in first
    assert "check-50" not in first
    assert 'href="/checks?offset=50"' in first
    second = client.get("/checks?offset=50").text
    assert "check-50" in second
    assert "check-49" not in second


def test_run_now_from_the_page_records_a_result(
    client: TestClient,
    log_in: LogIn,
    web_personas: Personas,
    clock: FrozenClock,
    sessions: sessionmaker[Session],
    target: HttpTarget,
) -> None:
    make_check(sessions, clock, "api-health", f"{target.url}/healthz")
    token = log_in(client, "bob@example.com")
    response = client.post("/checks/api-health/run-now", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert [request[1] for request in target.behaviour.requests] == ["/healthz"]
    with sessions() as db:
        [result] = db.scalars(select(CheckResult)).all()
        assert result.up
    page = text_of(client.get("/checks/api-health").text)
    assert "Last result: up at 2026-11-23 09:00" in page


def test_a_viewer_cannot_run_pause_or_resume_a_check(
    client: TestClient, log_in: LogIn, web_personas: Personas, clock: FrozenClock, sessions: sessionmaker[Session]
) -> None:
    make_check(sessions, clock, "api-health", "http://127.0.0.1:9/")
    token = log_in(client, "charlie@example.com")
    assert "Run now" not in client.get("/checks/api-health").text
    for action in ("run-now", "pause", "resume"):
        assert client.post(f"/checks/api-health/{action}", data={"csrf_token": token}).status_code == 403
    with sessions() as db:
        assert db.scalars(select(CheckResult)).all() == []


def test_a_responder_pauses_and_resumes_a_check(
    client: TestClient, log_in: LogIn, web_personas: Personas, clock: FrozenClock, sessions: sessionmaker[Session]
) -> None:
    make_check(sessions, clock, "api-health", "http://127.0.0.1:9/")
    token = log_in(client, "bob@example.com")
    assert client.post("/checks/api-health/pause", data={"csrf_token": token}).status_code == 200
    with sessions() as db:
        assert db.scalars(select(Check.status)).one() == "paused"
    html = client.get("/checks/api-health").text
    assert ">Resume</button>" in html
    client.post("/checks/api-health/resume", data={"csrf_token": token})
    with sessions() as db:
        assert db.scalars(select(Check.status)).one() == "new"


def test_an_unknown_check_is_a_404_page(client: TestClient, log_in: LogIn) -> None:
    log_in(client, "charlie@example.com")
    response = client.get("/checks/nope")
    assert response.status_code == 404
    assert "no check" in response.text
