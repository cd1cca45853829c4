"""The engine reminds owners before and at the due date, and tells the commander of overdue P0/P1 items."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.support.claims import drain_in_two_threads
from tocsin.clock import FrozenClock
from tocsin.engine.action_item_reminders import ActionItemReminders
from tocsin.engine.runner import Runner
from tocsin.services import action_items, contacts, incidents
from tocsin.services.actor import Actor
from tocsin.storage.models import Notification

SYSTEM = Actor.system("tests")


@pytest.fixture(autouse=True)
def reachable(sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock) -> None:
    with sessions() as db:
        for who in ("alice", "bob"):
            contacts.add_contact_method(
                db, SYSTEM, clock.now(), f"{who}@example.com", name="chat", kind="discord",
                address=f"https://discord.com/api/webhooks/1/{who}", verified=True,
            )  # fmt: skip
            contacts.add_rule(db, SYSTEM, clock.now(), f"{who}@example.com", contact_method="chat")
        db.commit()


def seed(sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock, priority: str = "P1") -> int:
    """Bob owns an action item of Alice's incident (she commands it); both can be reached."""
    with sessions() as db:
        incident = incidents.declare(
            db, personas.bob.actor, clock.now(), title="Checkout 500s", severity="P1", commander=personas.alice.email
        )
        incidents.change_status(db, personas.bob.actor, clock.now(), incident, "resolved")
        item = action_items.add(
            db, personas.bob.actor, clock.now(), incident.human_id, title="Alert on 5xx", priority=priority,
            owner=personas.bob.email,
        )  # fmt: skip
        db.commit()
        return item.id


def reminders(sessions: sessionmaker[Session]) -> list[tuple[str, str, str]]:
    with sessions() as db:
        rows = db.scalars(
            select(Notification)
            .where(Notification.idempotency_key.startswith("action-item:"))
            .order_by(Notification.id)
        )
        return [(row.step, str(row.payload["title"]), str(row.payload["text"])) for row in rows]


def test_it_reminds_the_owner_a_day_before_due_and_when_overdue(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, personas, clock)
    engine = Runner(sessions, clock, [ActionItemReminders()], holder="test")
    assert engine.cycle() == {"action_item_reminders": 0}

    clock.advance(timedelta(days=6))  # a day before the week is up
    assert engine.cycle() == {"action_item_reminders": 1}
    text = "Your P1 action item #1 of INC-2026-11-23-001 is due 2026-11-30 09:00 UTC."
    assert reminders(sessions) == [("due_soon", "Action item due soon: Alert on 5xx", text)]
    assert engine.cycle() == {"action_item_reminders": 0}

    clock.advance(timedelta(days=1))
    engine.cycle()
    assert [step for step, _, _ in reminders(sessions)] == ["due_soon", "overdue"]
    with sessions() as db:
        [overdue] = db.scalars(select(Notification).where(Notification.step == "overdue"))
        assert (overdue.user_id, overdue.status, overdue.channel) == (personas.bob.actor.user_id, "pending", "discord")


def test_an_overdue_p1_escalates_to_the_commander(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, personas, clock)
    engine = Runner(sessions, clock, [ActionItemReminders()], holder="test")
    clock.advance(timedelta(weeks=1, hours=23))
    engine.cycle()
    assert [step for step, _, _ in reminders(sessions)] == ["due_soon", "overdue"]
    clock.advance(timedelta(hours=1))
    engine.cycle()
    with sessions() as db:
        [escalated] = db.scalars(select(Notification).where(Notification.step == "escalation"))
        assert escalated.user_id == personas.alice.actor.user_id
        assert escalated.payload["title"] == "Overdue P1 action item of INC-2026-11-23-001"
        assert "(Bob Responder) was due 2026-11-30 09:00 UTC and is still open" in escalated.payload["text"]


def test_a_p2_is_not_escalated_and_a_finished_item_is_not_reminded(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, personas, clock, priority="P2")
    engine = Runner(sessions, clock, [ActionItemReminders()], holder="test")
    clock.advance(timedelta(weeks=3))
    engine.cycle()
    assert [step for step, _, _ in reminders(sessions)] == ["due_soon", "overdue"]

    item_id = seed(sessions, personas, clock, priority="P0")
    with sessions() as db:
        action_items.change_status(db, personas.bob.actor, clock.now(), action_items.get(db, item_id), "done")
        db.commit()
    clock.advance(timedelta(weeks=3))
    engine.cycle()
    assert len(reminders(sessions)) == 2


def test_two_processes_remind_once(sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock) -> None:
    for _ in range(5):
        seed(sessions, personas, clock, priority="P0")
    clock.advance(timedelta(days=4))
    assert drain_in_two_threads(sessions, ActionItemReminders(batch=2), clock) == 15  # 5 items, 3 reminders each
    assert len(reminders(sessions)) == 15  # one contact method each: owners' 10, the commander's 5
