"""Changes through the app: any CD system records deploys, and an incident lists what changed before it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import START, Personas
from tocsin.clock import FrozenClock
from tocsin.storage.models import Change

DEPLOY: dict[str, Any] = {
    "service": "api",
    "version": "v1.4.2",
    "environment": "production",
    "status": "success",
    "duration_s": 95,
    "commit": "3484A3FB816E0859FD6E1CEA078D76385FF50625",
    "author": "dana",
    "url": "https://ci.example.com/pipelines/1432",
}


def record(client: TestClient, personas: Personas, **body: Any) -> dict[str, Any]:
    answer = client.post("/api/v1/changes", json={**DEPLOY, **body}, headers=personas.bob.headers)
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


def declare(client: TestClient, personas: Personas, service: str = "api") -> str:
    answer = client.post(
        "/api/v1/incidents",
        json={"title": "Checkout 500s", "severity": "P2", "services": [service]},
        headers=personas.bob.headers,
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["human_id"])


def test_a_deploy_is_recorded_with_every_field_and_listed_newest_first(
    client: TestClient, personas: Personas, clock: FrozenClock
) -> None:
    first = record(client, personas, version="v1.4.1", occurred_at=(START - timedelta(hours=1)).isoformat())
    second = record(client, personas)
    assert second["summary"] == "Deploy of api v1.4.2 to production: success"
    assert (second["commit"], second["duration_s"], second["author"]) == (DEPLOY["commit"].lower(), 95, "dana")
    assert second["url"] == DEPLOY["url"]
    assert second["event"] == "deploy.succeeded"
    assert second["occurred_at"] == START.isoformat().replace("+00:00", "Z")
    assert second["source"] == "bob@example.com"  # the token's user, as no source was given
    listed = client.get("/api/v1/changes", params={"service": "api"}, headers=personas.charlie.headers).json()
    assert [c["id"] for c in listed] == [second["id"], first["id"]]
    assert client.get("/api/v1/changes", params={"service": "web"}, headers=personas.charlie.headers).json() == []


def test_a_failed_deploy_is_a_deploy_failed_event(client: TestClient, personas: Personas) -> None:
    assert record(client, personas, status="failure")["event"] == "deploy.failed"
    assert record(client, personas, status="started")["event"] == "deploy.started"
    assert record(client, personas, status=None, summary="Feature flag checkout-v2 on")["event"] is None


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"service": None}, 422, "service"),
        ({"service": "nope"}, 404, "service"),
        ({"status": "done"}, 422, "status"),
        ({"duration_s": -1}, 422, "duration_s"),
        ({"commit": "not-a-sha"}, 422, "commit"),
        ({"url": "javascript:alert(1)"}, 422, "url"),
        ({"occurred_at": "2026-11-23T08:00:00"}, 422, "occurred_at"),
        ({"occurred_at": "yesterday"}, 422, "occurred_at"),
        ({"occurred_at": "2026-11-24T09:00:00Z"}, 422, "occurred_at"),
        ({"version": "x" * 201}, 422, "version"),
        ({"summary": "a\x00b"}, 422, "summary"),
        ({"colour": "blue"}, 422, "colour"),
    ],
)
def test_bad_input_is_a_problem_naming_the_field_and_stores_nothing(
    client: TestClient, personas: Personas, sessions: sessionmaker[Session], body: dict[str, Any], status: int,
    field: str,
) -> None:  # fmt: skip
    payload = {**DEPLOY, **body}
    if body.get("service", "") is None:
        del payload["service"]
    answer = client.post("/api/v1/changes", json=payload, headers=personas.bob.headers)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["field"] == field
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(Change)) == 0


def test_recording_needs_a_write_token(client: TestClient, personas: Personas) -> None:
    assert client.post("/api/v1/changes", json=DEPLOY).status_code == 401
    assert client.post("/api/v1/changes", json=DEPLOY, headers=personas.charlie.headers).status_code == 403


def test_an_incident_lists_the_changes_to_its_services_in_the_six_hours_before_it(
    client: TestClient, personas: Personas, clock: FrozenClock
) -> None:
    clock.advance(timedelta(hours=7))
    declared = clock.now()

    def at(offset: timedelta, **body: Any) -> int:
        return int(record(client, personas, occurred_at=(declared + offset).isoformat(), **body)["id"])

    too_early = at(-timedelta(hours=6, seconds=1), version="v1")
    edge = at(-timedelta(hours=6), version="v2")
    recent = at(-timedelta(minutes=10), version="v3")
    other_service = at(-timedelta(minutes=5), service="web")
    at_start = at(timedelta(0), version="v4")
    ref = declare(client, personas)
    clock.advance(timedelta(minutes=1))
    after = record(client, personas, version="v5")["id"]

    listed = client.get(f"/api/v1/incidents/{ref}/changes", headers=personas.charlie.headers).json()
    assert [c["id"] for c in listed["items"]] == [at_start, recent, edge]
    assert listed["since"] == (declared - timedelta(hours=6)).isoformat().replace("+00:00", "Z")
    assert {too_early, other_service, after}.isdisjoint(c["id"] for c in listed["items"])
    hour = client.get(f"/api/v1/incidents/{ref}/changes", params={"hours": 1}, headers=personas.charlie.headers)
    assert [c["id"] for c in hour.json()["items"]] == [at_start, recent]


def test_the_window_is_bounded_and_the_incident_must_exist(client: TestClient, personas: Personas) -> None:
    ref = declare(client, personas)
    for hours in ("0", "-1", "169", "soon"):
        answer = client.get(
            f"/api/v1/incidents/{ref}/changes", params={"hours": hours}, headers=personas.charlie.headers
        )
        assert (answer.status_code, answer.json()["field"]) == (422, "hours"), hours
    missing = client.get("/api/v1/incidents/INC-2026-11-23-999/changes", headers=personas.charlie.headers)
    assert missing.status_code == 404
