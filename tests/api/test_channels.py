"""Team channels through the REST API: admins write, everyone reads (addresses masked), errors name the field."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tocsin.app import create_app
from tocsin.clock import FrozenClock
from tocsin.config import Settings
from tocsin.storage import models

PROBLEM = "application/problem+json"
HOOK = "https://discord.com/api/webhooks/123/s3cret"
ALERTS: dict[str, Any] = {
    "name": "alerts",
    "kind": "discord",
    "address": HOOK,
    "mention": "&987654321",
    "routes": [
        {"events": ["incident.*"], "min_severity": "P2"},
        {"service": "api", "events": ["crash.*", "deploy.failed"]},
    ],
}


@pytest.fixture
def api(settings: Settings, clock: FrozenClock, sessions: sessionmaker[Session]) -> Iterator[TestClient]:
    with TestClient(create_app(settings, clock, sessions)) as test_client:
        yield test_client


def ok(answer: Any, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json() if answer.content else None


def problem(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    body: dict[str, Any] = answer.json()
    return body


def test_an_admin_creates_a_channel_and_everyone_reads_it_with_the_address_masked(
    api: TestClient, personas: Personas
) -> None:
    created = ok(api.post("/api/v1/channels", json=ALERTS, headers=personas.alice.headers), 201)
    assert (created["address"], created["address_masked"], created["managed"], created["signed"]) == (
        HOOK, False, False, False,
    )  # fmt: skip
    assert created["routes"] == [
        {"service": None, "events": ["incident.*"], "min_severity": "P2"},
        {"service": "api", "events": ["crash.*", "deploy.failed"], "min_severity": None},
    ]
    [listed] = ok(api.get("/api/v1/channels", headers=personas.charlie.headers))
    assert (listed["address"], listed["address_masked"]) == ("https://discord.com/…", True)
    shown = ok(api.get("/api/v1/channels/alerts", headers=personas.bob.headers))
    assert shown == listed
    assert "s3cret" not in api.get("/api/v1/channels", headers=personas.bob.headers).text


def test_only_admins_change_channels(api: TestClient, personas: Personas) -> None:
    refused = problem(api.post("/api/v1/channels", json=ALERTS, headers=personas.bob.headers), 403)
    assert "admin scope" in refused["detail"]
    ok(api.post("/api/v1/channels", json=ALERTS, headers=personas.alice.headers), 201)
    problem(api.patch("/api/v1/channels/alerts", json={"mention": None}, headers=personas.bob.headers), 403)
    problem(api.delete("/api/v1/channels/alerts", headers=personas.bob.headers), 403)


@pytest.mark.parametrize(
    ("change", "field", "detail"),
    [
        ({"kind": "teams"}, "kind", "'teams' is not one of discord, slack, email, webhook, apprise"),
        ({"address": "http://discord.com/x"}, "address", "a discord channel needs an https URL"),
        ({"routes": [{"events": ["incident.resolve"]}]}, "routes[0].events[0]", "unknown event type"),
        ({"routes": [{"events": ["*"], "service": "nope"}]}, "routes[0].service", "unknown service 'nope'"),
        ({"routes": [{"events": []}]}, "routes.0.events", "List should have at least 1 item"),
        ({"routes": [{"events": ["*"], "min_severity": "SEV2"}]}, "routes[0].min_severity", "unknown severity"),
        ({"signing_secret": "0123456789abcdefgh"}, "signing_secret", "only webhook channels sign"),
        ({"colour": "red"}, "colour", "Extra inputs are not permitted"),
    ],
)
def test_a_refused_channel_is_a_problem_naming_the_field(
    api: TestClient, personas: Personas, change: dict[str, Any], field: str, detail: str
) -> None:
    body = problem(api.post("/api/v1/channels", json={**ALERTS, **change}, headers=personas.alice.headers), 422)
    assert body["field"] == field
    assert detail in body["detail"]
    assert ok(api.get("/api/v1/channels", headers=personas.alice.headers)) == []


def test_a_name_taken_is_a_conflict_and_an_unknown_one_not_found(api: TestClient, personas: Personas) -> None:
    ok(api.post("/api/v1/channels", json=ALERTS, headers=personas.alice.headers), 201)
    assert problem(api.post("/api/v1/channels", json=ALERTS, headers=personas.alice.headers), 409)["field"] == "name"
    assert problem(api.get("/api/v1/channels/deploys", headers=personas.bob.headers), 404)["field"] == "channel"
    problem(api.delete("/api/v1/channels/deploys", headers=personas.alice.headers), 404)


def test_an_update_changes_only_what_it_names(api: TestClient, personas: Personas) -> None:
    ok(api.post("/api/v1/channels", json=ALERTS, headers=personas.alice.headers), 201)
    moved = ok(
        api.patch(
            "/api/v1/channels/alerts",
            json={"mention": None, "routes": [{"events": ["deploy.*"], "service": "web"}]},
            headers=personas.alice.headers,
        )
    )
    assert (moved["address"], moved["mention"], moved["kind"]) == (HOOK, None, "discord")
    assert moved["routes"] == [{"service": "web", "events": ["deploy.*"], "min_severity": None}]
    hook = ok(
        api.patch(
            "/api/v1/channels/alerts",
            json={"kind": "webhook", "address": "https://hooks.example.com/in", "signing_secret": "x" * 20},
            headers=personas.alice.headers,
        )
    )
    assert (hook["kind"], hook["signed"], hook["routes"]) == ("webhook", True, moved["routes"])
    assert "x" * 20 not in api.get("/api/v1/channels/alerts", headers=personas.alice.headers).text


def test_deleting_a_channel_answers_204_and_it_is_gone(api: TestClient, personas: Personas) -> None:
    ok(api.post("/api/v1/channels", json=ALERTS, headers=personas.alice.headers), 201)
    assert api.delete("/api/v1/channels/alerts", headers=personas.alice.headers).status_code == 204
    assert ok(api.get("/api/v1/channels", headers=personas.alice.headers)) == []


def test_a_test_post_is_queued_for_the_engine_and_readable_as_a_notification(
    api: TestClient, personas: Personas, sessions: sessionmaker[Session]
) -> None:
    ok(api.post("/api/v1/channels", json=ALERTS, headers=personas.alice.headers), 201)
    queued = ok(api.post("/api/v1/channels/alerts/test", headers=personas.bob.headers), 201)
    assert (queued["kind"], queued["channel"], queued["status"], queued["user"]) == ("test", "discord", "pending", None)
    [again] = ok(api.get("/api/v1/notifications", params={"ids": str(queued["id"])}, headers=personas.bob.headers))
    assert again == queued
    with sessions() as db:
        row = db.scalars(select(models.Notification)).one()
        assert row.channel_id is not None
    problem(api.post("/api/v1/channels/alerts/test", headers=personas.charlie.headers), 403)
