"""`tocsin contact verify` against the app in-process; the engine runs between the command's polls."""

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
from tocsin.cli import contacts
from tocsin.clock import FrozenClock
from tocsin.engine.deliveries import Deliveries
from tocsin.storage import models

BOB = "bob@example.com"


@pytest.fixture
def receiver(sessions: sessionmaker[Session], clock: FrozenClock) -> Iterator[FakeHTTPServer]:
    """Bob's webhook contact method `hook`, not verified yet, and what it receives."""
    with FakeHTTPServer() as server:
        with sessions() as db:
            user = db.scalars(select(models.User).where(models.User.email == BOB)).one()
            db.add(
                models.ContactMethod(
                    user_id=user.id, name="hook", kind="webhook", address=f"{server.url}/hook", created_at=clock.now()
                )
            )
            db.commit()
        yield server


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
    monkeypatch.setattr(contacts, "_sleep", lambda _seconds: module.run_with(sessions, clock))
    return cli_for(api, personas.bob.token, tmp_path, monkeypatch)


def received_code(receiver: FakeHTTPServer) -> str:
    body = receiver.requests[-1].json()
    return str({field["name"]: field["value"] for field in body["fields"]}["Code"])


def verified(sessions: sessionmaker[Session]) -> bool:
    with sessions() as db:
        return db.scalars(select(models.ContactMethod.verified).where(models.ContactMethod.name == "hook")).one()


def test_a_code_is_sent_then_confirmed(cli: Cli, receiver: FakeHTTPServer, sessions: sessionmaker[Session]) -> None:
    shown = cli("contact", "verify", BOB, "hook").stdout
    assert "A code went to hook; it works until 2026-11-23 09:15 UTC" in shown
    assert "tocsin contact verify bob@example.com hook --code CODE" in shown
    code = received_code(receiver)
    assert not verified(sessions)

    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert "wrong code; 4 tries left" in cli("contact", "verify", BOB, "hook", "--code", wrong, exit_code=1).stderr
    assert not verified(sessions)
    assert (
        "bob@example.com's contact method hook is verified."
        in cli("contact", "verify", BOB, "hook", "--code", code).stdout
    )
    assert verified(sessions)


def test_a_code_that_cannot_be_sent_says_why_and_exits_1(cli: Cli, receiver: FakeHTTPServer) -> None:
    receiver.default = Answer(410, "gone")
    answer = cli("contact", "verify", BOB, "hook", "--json", exit_code=1).stdout
    result = json.loads(answer)
    assert (result["contact_method"], result["status"]) == ("hook", "failed")
    assert result["error"] == "127.0.0.1 refused the message: HTTP 410"


def test_an_unknown_method_is_an_error(cli: Cli, receiver: FakeHTTPServer) -> None:
    assert "has no contact method 'pager'" in cli("contact", "verify", BOB, "pager", exit_code=1).stderr
