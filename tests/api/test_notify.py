"""Test notifications and who-was-paged through the REST API."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.support.fake_http import FakeHTTPServer
from tocsin.app import create_app
from tocsin.clock import FrozenClock
from tocsin.config import Settings
from tocsin.engine.deliveries import Deliveries
from tocsin.engine.runner import Runner
from tocsin.services import incidents
from tocsin.storage import models

BOB = "bob@example.com"


@pytest.fixture
def api(settings: Settings, clock: FrozenClock, sessions: sessionmaker[Session]) -> Iterator[TestClient]:
    app = create_app(settings, clock, sessions)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def discord() -> Iterator[FakeHTTPServer]:
    with FakeHTTPServer() as server:
        yield server


def ok(answer: Any, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


def add_methods(sessions: sessionmaker[Session], clock: FrozenClock, discord: FakeHTTPServer) -> int:
    with sessions() as db:
        user = db.scalars(select(models.User).where(models.User.email == BOB)).one()
        for name, kind, address in (
            ("discord", "discord", f"{discord.url}/api/webhooks/1/tok"),
            ("mail", "email", BOB),
        ):
            db.add(models.ContactMethod(user_id=user.id, name=name, kind=kind, address=address, created_at=clock.now()))
        db.commit()
        return user.id


def deliver(sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    Runner(sessions, clock, [Deliveries(rng=random.Random(1), timeout=5.0)], holder="test").cycle()


def test_a_user_tests_their_contact_methods_and_sees_each_result(
    api: TestClient, personas: Personas, sessions: sessionmaker[Session], clock: FrozenClock, discord: FakeHTTPServer
) -> None:
    add_methods(sessions, clock, discord)
    made = ok(api.post(f"/api/v1/users/{BOB}/notify-test", headers=personas.bob.headers), 201)
    assert len(made["ids"]) == 2
    assert {(n["contact_method"], n["status"], n["kind"]) for n in made["notifications"]} == {
        ("discord", "pending", "test"),
        ("mail", "pending", "test"),
    }
    deliver(sessions, clock)

    ids = ",".join(str(i) for i in made["ids"])
    found = {
        n["contact_method"]: n for n in ok(api.get(f"/api/v1/notifications?ids={ids}", headers=personas.bob.headers))
    }
    assert (found["discord"]["status"], found["discord"]["error"]) == ("sent", "")
    # No SMTP server configured in this test: the e-mail test fails and says why.
    assert found["mail"]["status"] == "failed"
    assert "no SMTP server is configured" in found["mail"]["error"]
    [request] = discord.requests
    assert request.json()["embeds"][0]["title"] == "Test: Test notification"


def test_only_an_admin_tests_someone_elses_contact_methods(
    api: TestClient, personas: Personas, sessions: sessionmaker[Session], clock: FrozenClock, discord: FakeHTTPServer
) -> None:
    add_methods(sessions, clock, discord)
    assert api.post(f"/api/v1/users/{BOB}/notify-test", headers=personas.charlie.headers).status_code == 403
    alice = api.post("/api/v1/users/alice@example.com/notify-test", headers=personas.bob.headers)
    assert alice.status_code == 403
    ok(api.post(f"/api/v1/users/{BOB}/notify-test", headers=personas.alice.headers), 201)


def test_a_user_without_contact_methods_or_unknown_is_told_so(api: TestClient, personas: Personas) -> None:
    none = api.post(f"/api/v1/users/{BOB}/notify-test", headers=personas.bob.headers)
    assert none.status_code == 422
    assert "no contact methods" in none.json()["detail"]
    assert api.post("/api/v1/users/nobody@example.com/notify-test", headers=personas.alice.headers).status_code == 404


def test_notification_ids_must_be_numbers(api: TestClient, personas: Personas) -> None:
    assert api.get("/api/v1/notifications?ids=1,x", headers=personas.bob.headers).status_code == 422
    assert ok(api.get("/api/v1/notifications?ids=999", headers=personas.bob.headers)) == []


def test_an_incident_lists_who_was_paged_when(
    api: TestClient, personas: Personas, sessions: sessionmaker[Session], clock: FrozenClock, discord: FakeHTTPServer
) -> None:
    user_id = add_methods(sessions, clock, discord)
    with sessions() as db:
        incident = incidents.declare(db, personas.bob.actor, clock.now(), title="Checkout is down", severity="P1")
        method = db.scalars(select(models.ContactMethod).where(models.ContactMethod.name == "discord")).one()
        db.add(
            models.Notification(
                idempotency_key="page-1",
                incident_id=incident.id,
                user_id=user_id,
                contact_method_id=method.id,
                kind="page",
                channel="discord",
                step="round 1, level 1",
                status="pending",
                due_at=clock.now(),
                attempts=0,
                last_error="",
                payload={"title": "Checkout is down"},
                created_at=clock.now(),
            )
        )
        db.commit()
        human_id = incident.human_id
    deliver(sessions, clock)
    [paged] = ok(api.get(f"/api/v1/incidents/{human_id}/notifications", headers=personas.charlie.headers))
    assert paged["user"] == BOB
    assert (paged["contact_method"], paged["channel"], paged["step"]) == ("discord", "discord", "round 1, level 1")
    assert (paged["status"], paged["attempts"]) == ("sent", 1)
    assert paged["sent_at"] is not None
    assert (
        api.get("/api/v1/incidents/INC-2020-01-01-001/notifications", headers=personas.bob.headers).status_code == 404
    )
