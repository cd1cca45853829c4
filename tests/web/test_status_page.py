"""The public status page: components and their status, the overall banner, public incidents,
maintenance, history and an incident's page; Statuspage's JSON; caching headers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.web.status_support import SYSTEM, declare, live, move, page, update
from tocsin.clock import FrozenClock
from tocsin.services import checks, status_page
from tocsin.storage import models
from tocsin.storage.repositories import status_page as status_repo

__all__ = ["live", "page"]  # fixtures


def summary(client: TestClient) -> dict:  # type: ignore[type-arg]
    response = client.get("/api/v2/summary.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    return response.json()  # type: ignore[no-any-return]


def statuses(document: dict) -> dict[str, str]:  # type: ignore[type-arg]
    return {c["name"]: c["status"] for c in document["components"]}


@pytest.mark.usefixtures("page")
def test_with_nothing_wrong_every_component_is_operational_and_the_indicator_is_none(live: TestClient) -> None:
    document = summary(live)
    assert document["status"] == {"indicator": "none", "description": "All Systems Operational"}
    assert statuses(document) == {
        "Docs": "operational",
        "API": "operational",
        "Website": "operational",
        "Platform": "operational",
    }
    assert document["incidents"] == []
    assert document["scheduled_maintenances"] == []
    assert document["page"]["name"] == "Acme"
    assert document["page"]["id"]
    html = live.get("/status")
    assert html.status_code == 200
    assert "text/html" in html.headers["content-type"]
    assert "All Systems Operational" in html.text
    assert "Platform" in html.text
    assert "Docs" in html.text


def test_statuspage_component_shapes(live: TestClient, page: Personas) -> None:
    document = summary(live)
    api = next(c for c in document["components"] if c["name"] == "API")
    group = next(c for c in document["components"] if c["name"] == "Platform")
    assert set(api) >= {
        "id", "name", "status", "created_at", "updated_at", "position", "description",
        "group_id", "group", "only_show_if_degraded", "showcase", "page_id",
    }  # fmt: skip
    assert isinstance(api["id"], str)
    assert api["group"] is False
    assert api["group_id"] == group["id"]
    assert api["description"] == "The public API"
    assert group["group"] is True
    assert api["id"] in group["components"]
    assert live.get("/api/v2/components.json").json()["components"] == document["components"]


def test_an_incident_on_a_linked_service_degrades_its_component_before_anything_is_published(
    live: TestClient, page: Personas, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    declare(sessions, page.bob.actor, clock.now(), "Checkout errors", "P1", ("api",))
    document = summary(live)
    assert statuses(document)["API"] == "partial_outage"
    assert statuses(document)["Platform"] == "partial_outage"
    assert statuses(document)["Website"] == "operational"
    assert document["status"] == {"indicator": "major", "description": "Partial System Outage"}
    # Not published yet: no incident listed, and its title is nowhere.
    assert document["incidents"] == []
    assert "Checkout errors" not in live.get("/status").text


def test_a_public_update_publishes_the_incident_with_its_public_updates(
    live: TestClient, page: Personas, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    incident_id = declare(sessions, page.bob.actor, clock.now(), "Checkout errors", "P0", ("api", "web"))
    clock.advance(timedelta(minutes=3))
    update(sessions, page.bob.actor, clock.now(), incident_id, "We are looking into failed payments.", public=True)
    clock.advance(timedelta(minutes=5))
    move(sessions, page.bob.actor, clock.now(), incident_id, "identified")
    update(sessions, page.bob.actor, clock.now(), incident_id, "A bad deploy; rolling back.", public=True)

    document = summary(live)
    assert document["status"]["indicator"] == "critical"
    assert statuses(document)["API"] == "major_outage"
    [incident] = document["incidents"]
    assert incident["id"] == str(incident_id)
    assert incident["name"] == "Checkout errors"
    assert incident["status"] == "identified"
    assert incident["impact"] == "critical"
    assert incident["shortlink"].endswith(f"/status/incidents/{incident_id}")
    assert [(u["status"], u["body"]) for u in incident["incident_updates"]] == [
        ("identified", "A bad deploy; rolling back."),
        ("investigating", "We are looking into failed payments."),
    ]
    assert {c["name"] for c in incident["components"]} == {"API", "Website"}
    assert live.get("/api/v2/incidents/unresolved.json").json()["incidents"] == [incident]
    html = live.get("/status").text
    assert "Checkout errors" in html
    assert "A bad deploy; rolling back." in html

    clock.advance(timedelta(minutes=20))
    move(sessions, page.bob.actor, clock.now(), incident_id, "resolved")
    document = summary(live)
    assert document["incidents"] == []
    assert document["status"]["indicator"] == "none"
    [resolved] = live.get("/api/v2/incidents.json").json()["incidents"]
    assert resolved["status"] == "resolved"
    assert resolved["resolved_at"] is not None
    assert resolved["incident_updates"][0]["status"] == "resolved"
    page_html = live.get(f"/status/incidents/{incident_id}")
    assert page_html.status_code == 200
    assert "A bad deploy; rolling back." in page_html.text
    assert "Checkout errors" in live.get("/status").text  # under past incidents
    assert "Checkout errors" in live.get("/status/history").text


def test_a_down_check_is_a_partial_outage_of_its_component(
    live: TestClient, page: Personas, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    with sessions() as db:
        check = checks.create(
            db, SYSTEM, clock.now(), service_key="api", name="api-port",
            definition=checks.Definition(kind="tcp", spec={"host": "db.internal", "port": 5432}),
        )  # fmt: skip
        status_page.update_component(
            db, SYSTEM, clock.now(), "docs", status_page.ComponentSpec("Docs", checks=["api-port"])
        )
        db.commit()
        check_id = check.id
    assert statuses(summary(live))["Docs"] == "operational"
    with sessions() as db:
        row = db.get(models.Check, check_id)
        assert row is not None
        row.status = "down"
        db.commit()
    document = summary(live)
    assert statuses(document)["Docs"] == "partial_outage"
    assert document["status"]["indicator"] == "major"


def test_a_manual_status_wins_and_clearing_it_returns_to_the_derived_one(
    live: TestClient, page: Personas, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    with sessions() as db:
        status_page.set_status(db, SYSTEM, clock.now(), "docs", "degraded_performance")
        db.commit()
    document = summary(live)
    assert statuses(document)["Docs"] == "degraded_performance"
    assert document["status"] == {"indicator": "minor", "description": "Minor Service Outage"}
    with sessions() as db:
        status_page.set_status(db, SYSTEM, clock.now(), "docs", None)
        db.commit()
    assert statuses(summary(live))["Docs"] == "operational"


def test_scheduled_maintenance_is_announced_then_puts_its_components_under_maintenance(
    live: TestClient, page: Personas, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    with sessions() as db:
        status_page.schedule_maintenance(
            db, SYSTEM, clock.now(), title="Database upgrade", description="Postgres 17",
            starts_at=clock.now() + timedelta(hours=1), ends_at=clock.now() + timedelta(hours=2), components=["api"],
        )  # fmt: skip
        db.commit()
    upcoming = live.get("/api/v2/scheduled-maintenances/upcoming.json").json()["scheduled_maintenances"]
    assert [(m["name"], m["status"], m["impact"]) for m in upcoming] == [
        ("Database upgrade", "scheduled", "maintenance")
    ]
    assert live.get("/api/v2/scheduled-maintenances/active.json").json()["scheduled_maintenances"] == []
    assert "Database upgrade" in live.get("/status").text
    assert summary(live)["status"]["indicator"] == "none"

    clock.advance(timedelta(hours=1, minutes=1))
    document = summary(live)
    assert statuses(document)["API"] == "under_maintenance"
    assert document["status"] == {"indicator": "maintenance", "description": "Service Under Maintenance"}
    [active] = live.get("/api/v2/scheduled-maintenances/active.json").json()["scheduled_maintenances"]
    assert active["status"] == "in_progress"
    assert active["components"][0]["name"] == "API"

    clock.advance(timedelta(hours=1))
    assert summary(live)["status"]["indicator"] == "none"
    listed = live.get("/api/v2/scheduled-maintenances.json").json()["scheduled_maintenances"]
    assert [m["status"] for m in listed] == ["completed"]


def test_uptime_bars_come_from_the_linked_checks_rollups(
    live: TestClient, page: Personas, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    with sessions() as db:
        check = checks.create(
            db, SYSTEM, clock.now(), service_key="api", name="api-port",
            definition=checks.Definition(kind="tcp", spec={"host": "db.internal", "port": 5432}),
        )  # fmt: skip
        status_page.update_component(
            db, SYSTEM, clock.now(), "docs", status_page.ComponentSpec("Docs", checks=["api-port"])
        )
        hour = clock.now().replace(minute=0) - timedelta(days=1)
        db.add(models.CheckRollup(check_id=check.id, hour=hour, count=100, up=50, held=0, max_ms=10, histogram=[]))
        db.commit()
    html = live.get("/status").text
    assert "50.00% up" in html
    assert "50.00% uptime" in html
    assert 'class="bar l-critical"' in html


@pytest.mark.usefixtures("page")
def test_an_unchanged_answer_is_a_304_with_its_etag(live: TestClient) -> None:
    for url in ("/status", "/api/v2/summary.json", "/status/feed.atom"):
        first = live.get(url)
        assert first.headers["etag"]
        assert "max-age" in first.headers["cache-control"]
        again = live.get(url, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304
        assert again.content == b""
    assert live.get("/api/v2/status.json").headers["access-control-allow-origin"] == "*"


@pytest.mark.usefixtures("page")
def test_unknown_incidents_and_history_pages_are_404_pages(live: TestClient) -> None:
    assert live.get("/status/incidents/999").status_code == 404
    assert live.get("/status/incidents/abc").status_code == 404
    assert live.get("/status/history?page=0").status_code == 404
    assert live.get("/status/history?page=2").status_code == 404
    assert live.get("/status/history").status_code == 200


def test_history_is_paginated_newest_first(
    live: TestClient, page: Personas, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    for n in range(23):
        incident_id = declare(sessions, page.bob.actor, clock.now(), f"Incident number {n:02d}", "P2")
        update(sessions, page.bob.actor, clock.now(), incident_id, f"Update {n:02d}", public=True)
        clock.advance(timedelta(minutes=1))
    first = live.get("/status/history").text
    assert "Incident number 22" in first
    assert "Incident number 03" in first
    assert "Incident number 02" not in first
    assert "Page 1 of 2" in first
    second = live.get("/status/history?page=2").text
    assert "Incident number 02" in second
    assert "Incident number 00" in second
    assert "Incident number 03" not in second


def test_the_cache_answers_from_memory_until_the_stamp_is_read_again(
    client: TestClient, page: Personas, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    from tocsin.web.status_cache import StatusCache

    now = [0.0]
    cache = StatusCache(sessions, clock, check_every=1.0, timer=lambda: now[0])
    client.app.state.status_cache = cache  # type: ignore[attr-defined]
    assert summary(client)["status"]["indicator"] == "none"
    assert summary(client)["status"]["indicator"] == "none"
    assert cache.renders == 1
    with sessions() as db:  # as another process would: its commit is not counted here
        row = db.scalars(select(models.StatusPageComponent).where(models.StatusPageComponent.key == "docs")).one()
        row.status_override = "major_outage"
        status_repo.bump(db, clock.now())
        db.commit()
    assert summary(client)["status"]["indicator"] == "none"  # within the second: from memory
    now[0] += 1.0
    assert summary(client)["status"]["indicator"] == "critical"
    assert cache.renders == 2
    # A change this process commits through the services is seen at once.
    with sessions() as db:
        status_page.set_status(db, SYSTEM, clock.now(), "docs", None)
        db.commit()
    assert summary(client)["status"]["indicator"] == "none"


@pytest.mark.usefixtures("page")
def test_uptime_monitors_may_ask_with_head(live: TestClient) -> None:
    for url in ("/status", "/api/v2/status.json"):
        answer = live.head(url)
        assert answer.status_code == 200
        assert answer.content == b""
        assert answer.headers["etag"]


def test_cached_answers_are_sent_before_routing_and_are_the_same_bytes(
    client: TestClient, page: Personas, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    from tocsin.web.status_cache import StatusCache
    from tocsin.web.status_page import FAST_KEYS

    cache = StatusCache(sessions, clock, check_every=3600)
    client.app.state.status_cache = cache  # type: ignore[attr-defined]
    for path, key in FAST_KEYS.items():
        first = client.get(path)
        assert first.status_code == 200, path
        assert cache.peek(key) is not None, path  # the handler filled the key the fast path reads
        again = client.get(path)
        assert again.content == first.content
        assert again.headers["etag"] == first.headers["etag"]
        assert again.headers["content-type"] == first.headers["content-type"]
        assert client.get(path, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    assert cache.renders == len(FAST_KEYS)
    # A query string goes through the router: the history's pages are keyed by it.
    assert client.get("/status/history?page=1").status_code == 200


def test_on_sqlite_the_page_reads_without_taking_the_write_lock(
    backend: str, page: Personas, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tocsin.web.status_cache import StatusCache, reading_sessions
    from tocsin.web.status_page import _json

    cache = StatusCache(reading_sessions(sessions), clock, check_every=0)
    with sessions() as writer, ThreadPoolExecutor(1) as pool:
        writer.execute(select(models.StatusPageSettings.id))  # holds the transaction, on SQLite the write lock
        found = pool.submit(cache.get, "x", lambda db, now: _json({"n": len(status_repo.components(db))}))
        assert found.result(timeout=10).body == b'{"n":3}'
        writer.rollback()
    del backend
