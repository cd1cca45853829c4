"""The alert pages: the list with its filters and pages, and one alert's labels, count and incident."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.support.web_pages import text_of
from tests.web.conftest import LogIn
from tocsin.clock import FrozenClock
from tocsin.services import integrations
from tocsin.services.actor import Actor
from tocsin.storage.models import Alert, Integration

Send = Callable[..., None]


@pytest.fixture
def keys(sessions: sessionmaker[Session], clock: FrozenClock, web_personas: Personas) -> dict[str, str]:
    """A native integration on each service: name → key."""
    made = {}
    with sessions() as db:
        for service, name in (("api", "api-alerts"), ("web", "web-alerts")):
            created = integrations.create(
                db, Actor.system("tests"), clock.now(), service_key=service, kind="native", name=name
            )
            made[name] = created.key
        db.commit()
    return made


@pytest.fixture
def send(client: TestClient, keys: dict[str, str]) -> Send:
    def run(integration: str, dedup_key: str, summary: str, action: str = "trigger", **extra: object) -> None:
        event = {"action": action, "dedup_key": dedup_key, "summary": summary, "severity": "error", **extra}
        response = client.post(f"/api/v1/events/{keys[integration]}", json=event)
        assert response.status_code == 202, response.text

    return run


def _summaries(html: str) -> list[str]:
    return re.findall(r'<td><a href="/alerts/\d+">([^<]+)</a>', html)


def _id(sessions: sessionmaker[Session], dedup_key: str) -> int:
    with sessions() as db:
        found = db.scalar(select(Alert.id).where(Alert.dedup_key == dedup_key))
        assert found is not None
        return found


@pytest.fixture
def three(send: Send, clock: FrozenClock) -> None:
    """Disk full on api (twice, then resolved), a 5xx spike on api, slow pages on web."""
    send("api-alerts", "disk", "Disk full on db-1", labels={"host": "db-1", "team": "platform"})
    clock.advance(timedelta(minutes=1))
    send("api-alerts", "disk", "Disk full on db-1")
    clock.advance(timedelta(minutes=1))
    send("api-alerts", "5xx", "5xx spike")
    clock.advance(timedelta(minutes=1))
    send("web-alerts", "slow", "Slow pages")
    clock.advance(timedelta(minutes=1))
    send("api-alerts", "disk", "Disk full on db-1", action="resolve")


def test_the_list_shows_alerts_last_seen_first(client: TestClient, log_in: LogIn, three: None) -> None:
    log_in(client, "charlie@example.com")
    html = client.get("/alerts").text
    assert _summaries(html) == ["Disk full on db-1", "Slow pages", "5xx spike"]  # its resolve was seen last
    page = text_of(html)
    assert "Disk full on db-1 api-alerts · disk resolved Public API 2 2026-11-23 09:04 INC-2026-11-23-001" in page


@pytest.mark.parametrize(
    ("query", "summaries"),
    [
        ({"status": "firing"}, ["Slow pages", "5xx spike"]),
        ({"status": "resolved"}, ["Disk full on db-1"]),
        ({"service": "api"}, ["Disk full on db-1", "5xx spike"]),
        ({"service": "web", "status": "resolved"}, []),
    ],
)
def test_the_list_filters_by_status_and_service(
    client: TestClient, log_in: LogIn, three: None, query: dict[str, str], summaries: list[str]
) -> None:
    log_in(client, "charlie@example.com")
    assert _summaries(client.get("/alerts", params=query).text) == summaries


def test_the_list_filters_by_integration(
    client: TestClient, log_in: LogIn, three: None, sessions: sessionmaker[Session]
) -> None:
    with sessions() as db:
        web_alerts = db.scalar(select(Integration.id).where(Integration.name == "web-alerts"))
    log_in(client, "charlie@example.com")
    html = client.get("/alerts", params={"integration": str(web_alerts)}).text
    assert _summaries(html) == ["Slow pages"]
    assert f'<option value="{web_alerts}" selected>web-alerts (native, web)</option>' in html


def test_a_bad_filter_is_named(client: TestClient, log_in: LogIn, three: None) -> None:
    log_in(client, "charlie@example.com")
    page = text_of(client.get("/alerts", params={"status": "burning", "service": "nope"}).text)
    assert "unknown status 'burning': firing or resolved" in page
    assert "no service 'nope'" in page


def test_the_list_pages_fifty_at_a_time(client: TestClient, log_in: LogIn, send: Send, clock: FrozenClock) -> None:
    for n in range(52):
        send("web-alerts", f"k{n}", f"Alert {n:02d}")
        clock.advance(timedelta(seconds=1))
    log_in(client, "charlie@example.com")
    first = client.get("/alerts", params={"service": "web"}).text
    assert _summaries(first) == [f"Alert {n:02d}" for n in range(51, 1, -1)]
    assert 'href="/alerts?service=web&amp;page=2" rel="next"' in first
    second = client.get("/alerts", params={"service": "web", "page": "2"}).text
    assert _summaries(second) == ["Alert 01", "Alert 00"]
    assert 'href="/alerts?service=web" rel="prev"' in second
    assert 'rel="next"' not in second


def test_an_alert_shows_its_labels_count_times_and_incident(
    client: TestClient, log_in: LogIn, three: None, sessions: sessionmaker[Session]
) -> None:
    log_in(client, "charlie@example.com")
    html = client.get(f"/alerts/{_id(sessions, 'disk')}").text
    page = text_of(html)
    assert "Disk full on db-1" in page
    assert "resolved" in page
    assert "Incident INC-2026-11-23-001" in page
    assert 'href="/incidents/INC-2026-11-23-001"' in html
    assert "Integration api-alerts (native)" in page
    assert "Count 2" in page
    assert "First seen 2026-11-23 09:00:00 Last seen 2026-11-23 09:04:00 Resolved 2026-11-23 09:04:00" in page
    assert "Labels host db-1 team platform" in page


def test_an_unknown_alert_is_a_404_page(client: TestClient, log_in: LogIn, web_personas: Personas) -> None:
    log_in(client, "charlie@example.com")
    assert client.get("/alerts/999").status_code == 404
    assert client.get("/alerts/abc").status_code == 404
    assert client.get("/alerts/" + "9" * 30).status_code == 404


def test_the_incident_page_lists_its_alerts(
    client: TestClient, log_in: LogIn, three: None, sessions: sessionmaker[Session]
) -> None:
    log_in(client, "charlie@example.com")
    page = text_of(client.get("/incidents/INC-2026-11-23-001").text)
    assert "Alerts (2)" in page
    assert "5xx spike api-alerts firing 1" in page
    assert "Disk full on db-1 api-alerts resolved 2" in page


def test_the_list_filters_by_incident(client: TestClient, log_in: LogIn, three: None) -> None:
    log_in(client, "charlie@example.com")
    html = client.get("/alerts", params={"incident": "INC-2026-11-23-001"}).text
    assert _summaries(html) == ["Disk full on db-1", "5xx spike"]
    assert 'value="INC-2026-11-23-001"' in html
    assert "no incident 'INC-2026-01-01-001'" in text_of(
        client.get("/alerts", params={"incident": "INC-2026-01-01-001"}).text
    )


def test_a_storms_incident_links_to_all_its_alerts(
    client: TestClient, log_in: LogIn, send: Send, clock: FrozenClock
) -> None:
    for n in range(27):
        send("api-alerts", f"k{n}", f"Alert {n:02d}", labels={"group": "storm"})
        clock.advance(timedelta(seconds=1))
    log_in(client, "charlie@example.com")
    html = client.get("/incidents/INC-2026-11-23-001").text
    assert "Alerts (27)" in text_of(html)
    assert '<a href="/alerts?incident=INC-2026-11-23-001">all 27</a>' in html
    assert len(_summaries(client.get("/alerts", params={"incident": "INC-2026-11-23-001"}).text)) == 27
