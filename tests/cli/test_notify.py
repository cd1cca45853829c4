"""`tocsin notify test` against the app in-process; the engine runs between the command's polls."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.cli.test_remote import Cli
from tests.conftest import Personas
from tests.support.fake_http import Answer, FakeHTTPServer
from tests.support.inprocess import cli_for
from tocsin.cli import notify
from tocsin.clock import FrozenClock
from tocsin.engine.deliveries import Deliveries
from tocsin.storage import models

BOB = "bob@example.com"


@pytest.fixture
def cli(
    api: TestClient,
    personas: Personas,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sessions: sessionmaker[Session],
    clock: FrozenClock,
) -> Cli:
    module = Deliveries(rng=random.Random(3), timeout=5.0)
    # Instead of waiting, the engine delivers what is due.
    monkeypatch.setattr(notify, "_sleep", lambda _seconds: module.run_with(sessions, clock))
    return cli_for(api, personas.bob.token, tmp_path, monkeypatch)


@pytest.fixture
def discord() -> Iterator[FakeHTTPServer]:
    with FakeHTTPServer() as server:
        yield server


def add_method(sessions: sessionmaker[Session], clock: FrozenClock, name: str, kind: str, address: str) -> None:
    with sessions() as db:
        user = db.scalars(select(models.User).where(models.User.email == BOB)).one()
        db.add(models.ContactMethod(user_id=user.id, name=name, kind=kind, address=address, created_at=clock.now()))
        db.commit()


def test_every_method_reached_prints_a_table_and_exits_0(
    cli: Cli, sessions: sessionmaker[Session], clock: FrozenClock, discord: FakeHTTPServer
) -> None:
    add_method(sessions, clock, "discord", "discord", f"{discord.url}/api/webhooks/1/tok")
    shown = cli("notify", "test", BOB).stdout
    assert "discord" in shown
    assert "sent" in shown
    assert len(discord.requests) == 1


def test_a_failing_method_shows_its_error_and_exits_1(
    cli: Cli, sessions: sessionmaker[Session], clock: FrozenClock, discord: FakeHTTPServer
) -> None:
    discord.default = Answer(404, {"message": "Unknown Webhook", "code": 10015})
    add_method(sessions, clock, "discord", "discord", f"{discord.url}/api/webhooks/1/tok")
    add_method(sessions, clock, "mail", "email", BOB)
    shown = cli("notify", "test", BOB, exit_code=1).stdout
    assert "Unknown Webhook" in shown
    assert "no SMTP server is configured" in shown
    answer = cli("notify", "test", BOB, "--json", exit_code=1).stdout
    results = {r["contact_method"]: r for r in json.loads(answer)}
    assert results["discord"]["status"] == results["mail"]["status"] == "failed"


def test_a_user_without_contact_methods_is_an_error(cli: Cli) -> None:
    assert "no contact methods" in cli("notify", "test", BOB, exit_code=1).stderr
