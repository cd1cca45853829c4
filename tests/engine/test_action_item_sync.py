"""GitHub sync: an action item opens an issue and closes it when done, against a fake GitHub on 127.0.0.1."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.support.fake_http import Answer, FakeHTTPServer
from tocsin.channels.github_issues import GithubSettings
from tocsin.clock import FrozenClock
from tocsin.config import Settings
from tocsin.engine.action_item_sync import ActionItemSync
from tocsin.engine.modules import default_modules
from tocsin.engine.runner import Runner
from tocsin.services import action_items, incidents
from tocsin.storage.repositories import postmortems as repo

TOKEN = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"


@pytest.fixture
def github() -> Iterator[FakeHTTPServer]:
    with FakeHTTPServer(Answer(201, {"number": 42, "html_url": "https://github.com/acme/shop/issues/42"})) as server:
        yield server


def module(server: FakeHTTPServer) -> ActionItemSync:
    settings = GithubSettings("acme/shop", TOKEN, server.url + "/api/v3")
    return ActionItemSync(settings, "https://tocsin.example.com", rng=random.Random(7))


def add_item(sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock, *, sync: bool = True) -> int:
    with sessions() as db:
        incident = incidents.declare(db, personas.bob.actor, clock.now(), title="Checkout 500s", severity="P1")
        item = action_items.add(
            db, personas.bob.actor, clock.now(), incident.human_id, title="Alert on 5xx", priority="P1",
            owner=personas.bob.email, description="Page when the 5xx rate passes 1%.", sync=sync,
        )  # fmt: skip
        db.commit()
        return item.id


def finish(sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock, item_id: int) -> None:
    with sessions() as db:
        action_items.change_status(db, personas.bob.actor, clock.now(), action_items.get(db, item_id), "done")
        db.commit()


def test_it_opens_an_issue_and_closes_it_when_the_item_is_done(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock, github: FakeHTTPServer
) -> None:
    item_id = add_item(sessions, personas, clock)
    engine = Runner(sessions, clock, [module(github)], holder="test")
    assert engine.cycle() == {"action_item_sync": 1}

    [opened] = github.requests
    assert (opened.method, opened.path) == ("POST", "/api/v3/repos/acme/shop/issues")
    assert opened.header("Authorization") == f"Bearer {TOKEN}"
    assert opened.header("X-GitHub-Api-Version") == "2022-11-28"
    body = opened.json()
    assert body["title"] == "[P1] Alert on 5xx"
    assert body["labels"] == ["action-item"]
    assert "Page when the 5xx rate passes 1%." in body["body"]
    assert "https://tocsin.example.com/incidents/INC-2026-11-23-001" in body["body"]
    with sessions() as db:
        item = action_items.get(db, item_id)
        assert (item.github_issue_number, item.github_issue_url) == (42, "https://github.com/acme/shop/issues/42")
    assert engine.cycle() == {"action_item_sync": 0}

    finish(sessions, personas, clock, item_id)
    github.default = Answer(200, {"number": 42, "state": "closed"})
    assert engine.cycle() == {"action_item_sync": 1}
    closed = github.requests[-1]
    assert (closed.method, closed.path) == ("PATCH", "/api/v3/repos/acme/shop/issues/42")
    assert closed.json() == {"state": "closed", "state_reason": "completed"}
    with sessions() as db:
        assert [(s.operation, s.status) for s in repo.syncs_of(db, item_id)] == [("create", "done"), ("close", "done")]


def test_a_failed_call_is_retried_with_backoff_and_the_token_never_shows(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock, github: FakeHTTPServer
) -> None:
    item_id = add_item(sessions, personas, clock)
    engine = Runner(sessions, clock, [module(github)], holder="test")
    github.respond(502, {"message": f"bad gateway {TOKEN}"})
    assert engine.cycle() == {"action_item_sync": 1}
    with sessions() as db:
        [sync] = repo.syncs_of(db, item_id)
        assert (sync.status, sync.attempts) == ("pending", 1)
        assert sync.due_at > clock.now()
        assert "502" in sync.last_error
        assert TOKEN not in sync.last_error
    assert engine.cycle() == {"action_item_sync": 0}  # not due yet
    clock.advance(timedelta(minutes=10))
    assert engine.cycle() == {"action_item_sync": 1}
    with sessions() as db:
        [sync] = repo.syncs_of(db, item_id)
        assert (sync.status, sync.attempts) == ("done", 2)
        assert action_items.get(db, item_id).github_issue_number == 42


def test_a_refusal_is_permanent_and_the_close_is_not_attempted(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock, github: FakeHTTPServer
) -> None:
    item_id = add_item(sessions, personas, clock)
    engine = Runner(sessions, clock, [module(github)], holder="test")
    github.respond(401, {"message": "Bad credentials"})
    engine.cycle()
    finish(sessions, personas, clock, item_id)
    engine.cycle()
    assert len(github.requests) == 1
    with sessions() as db:
        assert [(s.operation, s.status, s.last_error) for s in repo.syncs_of(db, item_id)] == [
            ("create", "failed", "127.0.0.1 refused the message: HTTP 401 (Bad credentials)"),
            ("close", "failed", "the GitHub issue was never created"),
        ]


def test_a_close_waits_for_its_issue(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock, github: FakeHTTPServer
) -> None:
    item_id = add_item(sessions, personas, clock)
    finish(sessions, personas, clock, item_id)  # done before the engine ran
    engine = Runner(sessions, clock, [module(github)], holder="test")
    engine.cycle()
    clock.advance(timedelta(minutes=1))
    github.default = Answer(200, {})
    engine.cycle()
    assert [(r.method, r.route) for r in github.requests] == [
        ("POST", "/api/v3/repos/acme/shop/issues"),
        ("PATCH", "/api/v3/repos/acme/shop/issues/42"),
    ]


def test_items_made_without_sync_are_not_mirrored_and_sync_is_off_without_settings(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock, github: FakeHTTPServer, db_url: str
) -> None:
    item_id = add_item(sessions, personas, clock, sync=False)
    finish(sessions, personas, clock, item_id)
    Runner(sessions, clock, [module(github)], holder="test").cycle()
    assert github.requests == []
    names = [m.name for m in default_modules(Settings(database_url=db_url))]
    assert "action_item_reminders" in names
    assert "action_item_sync" not in names
    configured = Settings(database_url=db_url, github_token=TOKEN, github_repo="acme/shop")
    assert "action_item_sync" in [m.name for m in default_modules(configured)]
    assert TOKEN not in repr(configured)


def test_two_processes_open_each_issue_once(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock, github: FakeHTTPServer
) -> None:
    for _ in range(6):
        add_item(sessions, personas, clock)
    syncer = module(github)
    syncer.batch = 2
    barrier = threading.Barrier(2)
    handled: list[int] = []

    def drain() -> None:
        barrier.wait()
        while (count := syncer.run_with(sessions, clock)) > 0:
            handled.append(count)

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(handled) == 6
    assert len(github.requests) == 6
