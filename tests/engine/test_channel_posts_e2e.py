"""The whole engine, end to end: an incident's life reaches a team channel, signed, once per event.

The channel is a generic webhook on a fake HTTP server; the engine runs its default
modules, so the posts are planned and sent by the same cycle a server runs.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.support.fake_http import FakeHTTPServer
from tocsin.clock import FrozenClock
from tocsin.config import Settings
from tocsin.engine.modules import default_modules
from tocsin.engine.runner import Runner
from tocsin.services import changes, channels, incidents
from tocsin.services.actor import Actor
from tocsin.services.channels import RouteSpec

SYSTEM = Actor.system("tests")
SECRET = "e2e-signing-secret-0123456789"


@pytest.fixture
def hook() -> Iterator[FakeHTTPServer]:
    with FakeHTTPServer() as server:
        yield server


@pytest.fixture
def engine(
    sessions: sessionmaker[Session], clock: FrozenClock, settings: Settings, personas: Personas, hook: FakeHTTPServer
) -> Runner:
    with sessions() as db:
        channels.create_channel(
            db, SYSTEM, clock.now(), name="alerts", kind="webhook", address=f"{hook.url}/alerts",
            signing_secret=SECRET, routes=[RouteSpec(["incident.*"], min_severity="P2"), RouteSpec(["deploy.*"])],
        )  # fmt: skip
        db.commit()
    runner = Runner(sessions, clock, default_modules(settings), holder="e2e")
    runner.cycle()  # the engine runs before anything happens
    return runner


def test_an_incident_from_declaration_to_resolution_reaches_the_channel(
    engine: Runner, sessions: sessionmaker[Session], clock: FrozenClock, hook: FakeHTTPServer
) -> None:
    with sessions() as db:
        incident = incidents.declare(db, SYSTEM, clock.now(), title="Checkout 500s", severity="P1", services=["api"])
        db.commit()
        ref = incident.human_id
    engine.cycle()
    clock.advance(timedelta(minutes=1))
    with sessions() as db:
        incidents.change_status(db, SYSTEM, clock.now(), incidents.get(db, ref), "resolved")
        db.commit()
    engine.cycle()
    engine.cycle()  # nothing new: nothing sent twice

    bodies = [request.json() for request in hook.requests]
    assert [(body["kind"], body["title"], body["incident"]) for body in bodies] == [
        ("page", "Checkout 500s", ref),
        ("resolved", "Checkout 500s", ref),
    ]
    for request in hook.requests:
        expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
        assert request.header("X-Tocsin-Signature") == expected


def test_a_deploy_and_a_test_post_reach_the_channel(
    engine: Runner, sessions: sessionmaker[Session], clock: FrozenClock, hook: FakeHTTPServer
) -> None:
    with sessions() as db:
        changes.record(
            db,
            clock.now(),
            service_id=None,
            integration_id=None,
            summary="Deploy v42",
            details={"event": "deploy.succeeded"},
        )
        channels.send_test(db, SYSTEM, clock.now(), "alerts")
        db.commit()
    engine.cycle()
    titles = sorted(request.json()["title"] for request in hook.requests)
    assert titles == ["Deploy v42", "Test post"]
