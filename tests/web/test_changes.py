"""The changes page: newest first, filters by service, environment, status and first day,
50 a page, and only web links made clickable."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.web.conftest import LogIn
from tocsin.clock import FrozenClock
from tocsin.services import changes, directory


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def record(
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    summary: str,
    *,
    service: str = "api",
    ago: timedelta = timedelta(0),
    **fields: object,
) -> None:
    with sessions() as db:
        service_id = directory.get_service(db, service).id
        changes.record(
            db, clock.now(), service_id=service_id, integration_id=None, summary=summary,
            occurred_at=clock.now() - ago, **fields,  # type: ignore[arg-type]
        )  # fmt: skip
        db.commit()


def test_changes_are_listed_newest_first_with_what_a_deploy_says(
    client: TestClient, log_in: LogIn, web_personas: Personas, clock: FrozenClock, sessions: sessionmaker[Session]
) -> None:
    record(sessions, clock, "Deployed api 1.4.0", ago=timedelta(hours=3), version="1.4.0", environment="production",
           status="success", commit_sha="0123456789abcdef", author="bob", duration_s=95,
           links=[{"href": "https://ci.example.com/runs/7", "text": "run"}])  # fmt: skip
    record(sessions, clock, "Feature flag <beta> on", service="web", ago=timedelta(hours=1), source="flags",
           links=[{"href": "javascript:alert(1)"}])  # fmt: skip
    log_in(client, "charlie@example.com")
    html = client.get("/changes").text
    page = text_of(html)
    assert page.index("Feature flag <beta> on") < page.index("Deployed api 1.4.0")
    assert "2026-11-23 06:00 Deployed api 1.4.0 1.4.0 0123456789 · 1m api production success bob" in page
    assert "2026-11-23 08:00 Feature flag <beta> on web — — flags" in page
    assert '<a href="https://ci.example.com/runs/7" rel="noopener noreferrer">Deployed api 1.4.0</a>' in html
    assert "javascript:" not in html


def test_the_filters_narrow_the_list(
    client: TestClient, log_in: LogIn, web_personas: Personas, clock: FrozenClock, sessions: sessionmaker[Session]
) -> None:
    record(sessions, clock, "api to production", environment="production", status="success")
    record(sessions, clock, "api to staging", environment="staging", status="failure")
    record(sessions, clock, "web to production", service="web", environment="production", status="success")
    record(sessions, clock, "an old api change", ago=timedelta(days=10))
    log_in(client, "charlie@example.com")

    def shown(query: str) -> list[str]:
        page = text_of(client.get(f"/changes?{query}").text)
        return [
            s for s in ("api to production", "api to staging", "web to production", "an old api change") if s in page
        ]

    assert shown("") == ["api to production", "api to staging", "web to production", "an old api change"]
    assert shown("service=api") == ["api to production", "api to staging", "an old api change"]
    assert shown("environment=production") == ["api to production", "web to production"]
    assert shown("status=failure") == ["api to staging"]
    assert shown("since=2026-11-20") == ["api to production", "api to staging", "web to production"]
    assert shown("service=web&status=failure") == []
    assert "No changes match these filters." in client.get("/changes?service=web&status=failure").text


def test_a_bad_filter_says_what_is_wrong(client: TestClient, log_in: LogIn, web_personas: Personas) -> None:
    log_in(client, "charlie@example.com")
    response = client.get("/changes?since=yesterday")
    assert response.status_code == 422
    assert "&#39;yesterday&#39; is not a date; use YYYY-MM-DD" in response.text
    assert 'aria-invalid="true"' in response.text
    assert "No service nope." in client.get("/changes?service=nope").text


def test_the_list_is_paginated_keeping_the_filters(
    client: TestClient, log_in: LogIn, web_personas: Personas, clock: FrozenClock, sessions: sessionmaker[Session]
) -> None:
    for i in range(51):
        record(sessions, clock, f"change number {i:02d}", ago=timedelta(minutes=i), environment="production")
    log_in(client, "charlie@example.com")
    first = client.get("/changes?environment=production").text
    assert "change number 00" in first
    assert "change number 50" not in first
    assert 'href="/changes?environment=production&amp;offset=50"' in first
    second = client.get("/changes?environment=production&offset=50").text
    assert "change number 50" in second
    assert "change number 49" not in second
