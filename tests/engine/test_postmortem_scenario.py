"""Issue 7's follow-up, end to end with the whole engine and the clock moved: a declared P1
resolves into a postmortem draft; its action item gets a due date, a GitHub issue, reminders
on the owner's phone-equivalent (a webhook on a fake server), and, overdue, the commander's."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.support.fake_http import Answer, FakeHTTPServer
from tocsin.clock import FrozenClock
from tocsin.config import Settings
from tocsin.engine.modules import default_modules
from tocsin.engine.runner import Runner
from tocsin.services import action_items, contacts, incidents, postmortems
from tocsin.services.actor import Actor

SYSTEM = Actor.system("tests")


@pytest.fixture
def phones() -> Iterator[FakeHTTPServer]:
    with FakeHTTPServer() as server:
        yield server


@pytest.fixture
def github() -> Iterator[FakeHTTPServer]:
    with FakeHTTPServer(Answer(201, {"number": 7, "html_url": "https://github.com/acme/shop/issues/7"})) as server:
        yield server


def test_a_resolved_p1_gets_its_draft_and_its_action_item_is_chased_until_done(
    sessions: sessionmaker[Session],
    personas: Personas,
    clock: FrozenClock,
    settings: Settings,
    phones: FakeHTTPServer,
    github: FakeHTTPServer,
) -> None:
    with sessions() as db:
        for who in ("alice", "bob"):
            contacts.add_contact_method(
                db, SYSTEM, clock.now(), f"{who}@example.com", name="hook", kind="webhook",
                address=f"{phones.url}/{who}", verified=True,
            )  # fmt: skip
            contacts.add_rule(db, SYSTEM, clock.now(), f"{who}@example.com", contact_method="hook")
        db.commit()
    configured = replace(settings, github_token="ghp_" + "x" * 36, github_repo="acme/shop", github_api_url=github.url)
    engine = Runner(sessions, clock, default_modules(configured), holder="scenario")

    with sessions() as db:
        incident = incidents.declare(
            db, personas.bob.actor, clock.now(), title="Checkout 500s", severity="P1", commander=personas.alice.email
        )
        db.commit()
        ref = incident.human_id
    engine.cycle()
    phones.clear()  # the page; what follows is the follow-up
    clock.advance(timedelta(minutes=42))
    with sessions() as db:
        incidents.change_status(db, personas.alice.actor, clock.now(), incidents.get(db, ref), "resolved")
        postmortem = postmortems.get(db, ref)
        assert (postmortem.status, postmortem.due_at) == ("draft", clock.now() + timedelta(days=2))
        item = action_items.add(
            db, personas.alice.actor, clock.now(), ref, title="Alert on the 5xx rate", priority="P1",
            owner=personas.bob.email, sync=True,
        )  # fmt: skip
        assert item.due_at == clock.now() + timedelta(weeks=1)
        db.commit()
        item_id = item.id
    engine.cycle()
    assert [(r.method, r.route) for r in github.requests] == [("POST", "/repos/acme/shop/issues")]

    def heard() -> list[tuple[str, str]]:
        return [(r.route, r.json()["title"]) for r in phones.requests]

    clock.advance(timedelta(days=6))
    engine.cycle()
    assert heard() == [("/bob", "Action item due soon: Alert on the 5xx rate")]
    clock.advance(timedelta(days=1))
    engine.cycle()
    assert heard()[1:] == [("/bob", "Action item overdue: Alert on the 5xx rate")]
    clock.advance(timedelta(days=1))
    engine.cycle()
    assert heard()[2:] == [("/alice", f"Overdue P1 action item of {ref}")]
    engine.cycle()
    assert len(phones.requests) == 3  # each once

    with sessions() as db:
        action_items.change_status(db, personas.bob.actor, clock.now(), action_items.get(db, item_id), "done")
        db.commit()
    github.default = Answer(200, {})
    engine.cycle()
    assert [(r.method, r.route) for r in github.requests][1:] == [("PATCH", "/repos/acme/shop/issues/7")]
