"""Schedules, escalation policies, contact methods and readiness through the REST API."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.support.fake_http import FakeHTTPServer
from tocsin.app import create_app
from tocsin.clock import FrozenClock
from tocsin.config import Settings
from tocsin.engine.deliveries import Deliveries
from tocsin.engine.runner import Runner

PROBLEM = "application/problem+json"
ALICE, BOB, CHARLIE = "alice@example.com", "bob@example.com", "charlie@example.com"
HOOK = "https://discord.com/api/webhooks/123/s3cret"


@pytest.fixture
def api(settings: Settings, clock: FrozenClock, sessions: sessionmaker[Session]) -> Iterator[TestClient]:
    with TestClient(create_app(settings, clock, sessions)) as test_client:
        yield test_client


def ok(answer: Any, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json() if answer.content else None


ROTATION: dict[str, Any] = {
    "key": "primary",
    "name": "Primary on-call",
    "time_zone": "Europe/Berlin",
    "layers": [
        # The backup layer first: the weekly layer above it wins wherever it has someone.
        {"name": "backup", "kind": "daily", "start": "2026-11-23T00:00:00", "participants": [CHARLIE]},
        {
            "name": "weekly",
            "kind": "weekly",
            "start": "2026-11-23T09:00:00",
            "participants": [ALICE, BOB],
            "restrictions": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"}],
        },
    ],
}


def test_a_weekly_rotation_with_a_backup_layer_and_an_override(
    api: TestClient, personas: Personas, clock: FrozenClock
) -> None:
    bob = personas.bob.headers
    created = ok(api.post("/api/v1/schedules", json=ROTATION, headers=bob), 201)
    assert [layer["name"] for layer in created["layers"]] == ["backup", "weekly"]
    assert created["layers"][1]["start"] == "2026-11-23T09:00:00"

    # 09:00 UTC Monday is 10:00 in Berlin: Alice's week, inside office hours.
    now = ok(api.get("/api/v1/schedules/primary/on-call", headers=personas.charlie.headers))
    assert (now["user"], now["name"], now["source"], now["layer"]) == (ALICE, "Alice Admin", "layer", "weekly")
    assert now["until"] == "2026-11-23T17:00:00Z"  # 18:00 Berlin, then the backup takes the evening
    evening = ok(api.get("/api/v1/schedules/primary/on-call", params={"at": "2026-11-23T20:00:00Z"}, headers=bob))
    assert (evening["user"], evening["layer"]) == (CHARLIE, "backup")
    next_week = ok(api.get("/api/v1/schedules/primary/on-call", params={"at": "2026-11-30T10:00:00Z"}, headers=bob))
    assert next_week["user"] == BOB

    override = ok(
        api.post(
            "/api/v1/schedules/primary/overrides",
            json={"user": BOB, "start": "2026-11-24T08:00:00Z", "end": "2026-11-24T17:00:00Z"},
            headers=bob,
        ),
        201,
    )
    assert (override["user"], override["created_by"]) == (BOB, BOB)
    covered = ok(api.get("/api/v1/schedules/primary/on-call", params={"at": "2026-11-24T12:00:00Z"}, headers=bob))
    assert (covered["user"], covered["source"], covered["layer"]) == (BOB, "override", None)

    final = ok(
        api.get(
            "/api/v1/schedules/primary/final",
            params={"start": "2026-11-24T00:00:00Z", "end": "2026-11-25T00:00:00Z"},
            headers=bob,
        )
    )
    assert [(s["user"], s["source"], s["start"], s["end"]) for s in final["shifts"]] == [
        (CHARLIE, "layer", "2026-11-24T00:00:00Z", "2026-11-24T08:00:00Z"),
        (BOB, "override", "2026-11-24T08:00:00Z", "2026-11-24T17:00:00Z"),
        (CHARLIE, "layer", "2026-11-24T17:00:00Z", "2026-11-25T00:00:00Z"),
    ]
    assert final["gaps"] == []

    everywhere = ok(api.get("/api/v1/on-call", headers=bob))
    assert [(o["schedule"], o["user"]) for o in everywhere] == [("primary", ALICE)]

    shown = ok(api.get("/api/v1/schedules/primary", headers=bob))
    assert [o["id"] for o in shown["overrides"]] == [override["id"]]
    clock.advance(timedelta(days=2))
    assert ok(api.get("/api/v1/schedules/primary", headers=bob))["overrides"] == []  # ended: left out
    ok(api.delete(f"/api/v1/schedules/primary/overrides/{override['id']}", headers=bob), 204)
    gone = api.delete(f"/api/v1/schedules/primary/overrides/{override['id']}", headers=bob)
    assert gone.status_code == 404


def test_a_schedule_is_replaced_listed_and_deleted(api: TestClient, personas: Personas) -> None:
    bob = personas.bob.headers
    ok(api.post("/api/v1/schedules", json=ROTATION, headers=bob), 201)
    change = {"name": "Nights", "time_zone": "UTC", "layers": [ROTATION["layers"][0]]}
    replaced = ok(api.put("/api/v1/schedules/primary", json=change, headers=bob))
    assert (replaced["name"], replaced["time_zone"], len(replaced["layers"])) == ("Nights", "UTC", 1)
    assert [s["key"] for s in ok(api.get("/api/v1/schedules", headers=bob))] == ["primary"]
    final = ok(api.get("/api/v1/schedules/primary/final", headers=bob))
    assert (final["start"], final["end"]) == ("2026-11-23T09:00:00Z", "2026-12-07T09:00:00Z")
    ok(api.delete("/api/v1/schedules/primary", headers=bob), 204)
    assert api.get("/api/v1/schedules/primary", headers=bob).status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"key": "Not A Key"}, "key"),
        ({"layers": [{"name": "x", "start": "2026-11-23T09:00:00", "participants": []}]}, "layers[0].participants"),
        (
            {"layers": [{"name": "x", "start": "2026-11-23T09:00:00", "participants": [BOB], "time_zone": "Atlantis"}]},
            "layers[0].time_zone",
        ),
        ({"layers": [{"name": "x", "participants": [BOB]}]}, "layers.0.start"),
        ({"surprise": True}, "surprise"),
    ],
)
def test_a_bad_schedule_is_refused_naming_the_field(
    api: TestClient, personas: Personas, change: dict[str, object], field: str
) -> None:
    answer = api.post("/api/v1/schedules", json={**ROTATION, **change}, headers=personas.bob.headers)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert answer.json()["field"] == field


def test_reading_needs_a_token_and_changing_needs_write(api: TestClient, personas: Personas) -> None:
    assert api.get("/api/v1/schedules").status_code == 401
    assert api.get("/api/v1/on-call", headers=personas.charlie.headers).status_code == 200
    refused = api.post("/api/v1/schedules", json=ROTATION, headers=personas.charlie.headers)
    assert refused.status_code == 403
    naive = api.get("/api/v1/on-call", params={"at": "2026-11-23T09:00:00"}, headers=personas.charlie.headers)
    assert (naive.status_code, naive.json()["field"]) == (422, "at")


def test_a_three_level_policy_attached_to_a_service(api: TestClient, personas: Personas) -> None:
    bob = personas.bob.headers
    ok(api.post("/api/v1/schedules", json=ROTATION, headers=bob), 201)
    policy: dict[str, Any] = {
        "key": "api-default",
        "name": "API default",
        "repeat": 1,
        "levels": [
            {"delay_s": 300, "targets": [{"kind": "schedule", "key": "primary"}]},
            {"delay_s": 300, "targets": [{"kind": "user", "key": ALICE}]},
            {"delay_s": 300, "targets": [{"kind": "team", "key": "platform"}]},
        ],
        "variants": {"P0": {"kind": "all_at_once"}, "P2": {"kind": "step_delay", "step_delay_s": 3600}},
    }
    created = ok(api.post("/api/v1/escalation-policies", json=policy, headers=bob), 201)
    assert created["levels"][0] == {"delay_s": 300, "targets": [{"kind": "schedule", "key": "primary"}]}
    assert created["variants"]["P2"] == {"kind": "step_delay", "step_delay_s": 3600}
    assert [p["key"] for p in ok(api.get("/api/v1/escalation-policies", headers=bob))] == ["api-default"]

    attached = ok(api.put("/api/v1/services/api/escalation-policy", json={"policy": "api-default"}, headers=bob))
    assert attached == {"service": "api", "escalation_policy": "api-default"}
    in_use = api.delete("/api/v1/escalation-policies/api-default", headers=bob)
    assert in_use.status_code == 409
    paged = api.delete("/api/v1/schedules/primary", headers=bob)
    assert paged.status_code == 409
    assert "api-default" in paged.json()["detail"]

    shorter = ok(api.put("/api/v1/escalation-policies/api-default", json={"levels": policy["levels"][:1]}, headers=bob))
    assert (shorter["name"], shorter["repeat"], len(shorter["levels"]), shorter["variants"]) == (
        "api-default",
        0,
        1,
        {},
    )
    ok(api.put("/api/v1/services/api/escalation-policy", json={"policy": None}, headers=bob))
    ok(api.delete("/api/v1/escalation-policies/api-default", headers=bob), 204)


@pytest.mark.parametrize(
    ("levels", "field"),
    [
        ([{"delay_s": -5, "targets": [{"kind": "user", "key": ALICE}]}], "levels[0].delay_s"),
        ([{"delay_s": 60, "targets": [{"kind": "pager", "key": ALICE}]}], "levels[0].targets[0].kind"),
        ([{"delay_s": 60, "targets": [{"kind": "schedule", "key": "nope"}]}], "levels[0].targets[0].key"),
        ([], "levels"),
    ],
)
def test_a_bad_policy_is_refused_naming_the_field(
    api: TestClient, personas: Personas, levels: list[dict[str, object]], field: str
) -> None:
    answer = api.post("/api/v1/escalation-policies", json={"key": "p", "levels": levels}, headers=personas.bob.headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field


def test_contact_method_addresses_are_masked_except_to_admins(api: TestClient, personas: Personas) -> None:
    method = {"name": "discord", "kind": "discord", "address": HOOK, "mention": "1234", "verified": True}
    created = ok(api.post(f"/api/v1/users/{BOB}/contact-methods", json=method, headers=personas.bob.headers), 201)
    assert (created["address"], created["address_masked"]) == ("https://discord.com/…", True)
    [seen] = ok(api.get(f"/api/v1/users/{BOB}/contact-methods", headers=personas.charlie.headers))
    assert seen["address"] == "https://discord.com/…"
    assert "s3cret" not in api.get(f"/api/v1/users/{BOB}/contact-methods", headers=personas.bob.headers).text
    [full] = ok(api.get(f"/api/v1/users/{BOB}/contact-methods", headers=personas.alice.headers))
    assert (full["address"], full["address_masked"]) == (HOOK, False)

    bad = api.post(
        f"/api/v1/users/{BOB}/contact-methods",
        json={**method, "name": "x", "kind": "sms"},
        headers=personas.bob.headers,
    )
    assert (bad.status_code, bad.json()["field"]) == (422, "mention")
    twice = api.post(f"/api/v1/users/{BOB}/contact-methods", json=method, headers=personas.bob.headers)
    assert (twice.status_code, twice.json()["field"]) == (409, "name")
    ok(api.delete(f"/api/v1/users/{BOB}/contact-methods/discord", headers=personas.bob.headers), 204)
    assert ok(api.get(f"/api/v1/users/{BOB}/contact-methods", headers=personas.bob.headers)) == []
    assert api.get("/api/v1/users/eve@example.com/contact-methods", headers=personas.bob.headers).status_code == 404


def test_notification_rules_and_quiet_hours(api: TestClient, personas: Personas) -> None:
    bob = personas.bob.headers
    method = {"name": "phone", "kind": "sms", "address": "+4915112345678", "verified": True, "high_urgency": True}
    ok(api.post(f"/api/v1/users/{BOB}/contact-methods", json=method, headers=bob), 201)
    rule = ok(
        api.post(
            f"/api/v1/users/{BOB}/notification-rules",
            json={"contact_method": "phone", "delay_s": 120, "urgency": "high"},
            headers=bob,
        ),
        201,
    )
    assert rule == {"id": rule["id"], "contact_method": "phone", "delay_s": 120, "urgency": "high"}
    assert ok(api.get(f"/api/v1/users/{BOB}/notification-rules", headers=bob)) == [rule]
    unknown = api.post(f"/api/v1/users/{BOB}/notification-rules", json={"contact_method": "pager"}, headers=bob)
    assert (unknown.status_code, unknown.json()["field"]) == (422, "contact_method")
    ok(api.delete(f"/api/v1/users/{BOB}/notification-rules/{rule['id']}", headers=bob), 204)

    quiet = ok(api.put(f"/api/v1/users/{BOB}/quiet-hours", json={"start": "22:00", "end": "07:00"}, headers=bob))
    assert quiet == {"user": BOB, "time_zone": "UTC", "start": "22:00", "end": "07:00", "weekdays": None}
    assert ok(api.get(f"/api/v1/users/{BOB}/quiet-hours", headers=bob)) == quiet
    bad = api.put(f"/api/v1/users/{BOB}/quiet-hours", json={"start": "22:00", "end": "7"}, headers=bob)
    assert (bad.status_code, bad.json()["field"]) == (422, "end")
    ok(api.delete(f"/api/v1/users/{BOB}/quiet-hours", headers=bob), 204)
    assert api.get(f"/api/v1/users/{BOB}/quiet-hours", headers=bob).status_code == 404


def test_readiness_names_who_is_on_call_and_cannot_be_woken(api: TestClient, personas: Personas) -> None:
    bob = personas.bob.headers
    ok(api.post("/api/v1/schedules", json=ROTATION, headers=bob), 201)
    method = {"name": "phone", "kind": "sms", "address": "+4915112345678", "verified": True, "high_urgency": True}
    ok(api.post(f"/api/v1/users/{CHARLIE}/contact-methods", json=method, headers=bob), 201)
    warnings = ok(api.get("/api/v1/readiness", headers=personas.charlie.headers))
    assert warnings == [
        {
            "user": ALICE,
            "name": "Alice Admin",
            "on_call_from": "2026-11-23T09:00:00Z",
            "message": f"{ALICE} is on call now and has no verified high-urgency contact method",
            "schedules": ["primary"],
        }
    ]


SIGNING_SECRET = "whsec-correct-horse-battery-staple"


def test_a_signing_secret_is_written_never_read(api: TestClient, personas: Personas) -> None:
    method = {
        "name": "hook",
        "kind": "webhook",
        "address": "https://hooks.example.com/tocsin",
        "signing_secret": SIGNING_SECRET,
    }
    created = ok(api.post(f"/api/v1/users/{BOB}/contact-methods", json=method, headers=personas.bob.headers), 201)
    assert created["signed"] is True
    # Not even an admin, who sees addresses in full, reads the secret back.
    listed = api.get(f"/api/v1/users/{BOB}/contact-methods", headers=personas.alice.headers)
    assert ok(listed)[0]["signed"] is True
    assert "horse" not in listed.text

    path = f"/api/v1/users/{BOB}/contact-methods/hook/signing-secret"
    cleared = ok(api.put(path, json={"signing_secret": None}, headers=personas.bob.headers))
    assert cleared["signed"] is False
    rotated = ok(api.put(path, json={"signing_secret": "whsec-rotated-0123456789"}, headers=personas.bob.headers))
    assert rotated["signed"] is True
    assert "rotated" not in str(rotated)

    short = api.put(path, json={"signing_secret": "short"}, headers=personas.bob.headers)
    assert (short.status_code, short.json()["field"]) == (422, "signing_secret")
    discord = {"name": "discord", "kind": "discord", "address": HOOK, "signing_secret": SIGNING_SECRET}
    refused = api.post(f"/api/v1/users/{BOB}/contact-methods", json=discord, headers=personas.bob.headers)
    assert (refused.status_code, refused.json()["field"]) == (422, "signing_secret")
    assert "horse" not in refused.text


def test_a_contact_method_is_verified_with_the_code_it_received(
    api: TestClient, personas: Personas, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    with FakeHTTPServer() as receiver:
        method = {"name": "hook", "kind": "webhook", "address": f"{receiver.url}/tocsin"}
        ok(api.post(f"/api/v1/users/{BOB}/contact-methods", json=method, headers=personas.bob.headers), 201)
        verify = f"/api/v1/users/{BOB}/contact-methods/hook/verify"
        sent = ok(api.post(verify, headers=personas.bob.headers), 202)
        assert (sent["contact_method"], sent["status"]) == ("hook", "pending")
        assert sent["expires_at"] == (clock.now() + timedelta(minutes=15)).isoformat().replace("+00:00", "Z")
        # The engine delivers the code like any notification.
        Runner(sessions, clock, [Deliveries(rng=random.Random(1), timeout=5.0)], holder="test").cycle()
        [request] = receiver.requests
    body = request.json()
    assert body["kind"] == "verify"
    code = {field["name"]: field["value"] for field in body["fields"]}["Code"]
    [delivered] = ok(
        api.get("/api/v1/notifications", params={"ids": sent["notification"]}, headers=personas.bob.headers)
    )
    assert delivered["status"] == "sent"

    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    refused = api.post(f"{verify}/confirm", json={"code": wrong}, headers=personas.bob.headers)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == PROBLEM
    assert (refused.json()["field"], refused.json()["detail"]) == ("code", "wrong code; 4 tries left")
    confirmed = ok(api.post(f"{verify}/confirm", json={"code": code}, headers=personas.bob.headers))
    assert confirmed["verified"] is True
    nothing_waiting = api.post(f"{verify}/confirm", json={"code": code}, headers=personas.bob.headers)
    assert nothing_waiting.status_code == 409
    assert api.post(verify, headers=personas.charlie.headers).status_code == 403
