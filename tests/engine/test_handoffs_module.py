from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tocsin.clock import FrozenClock
from tocsin.config import Settings
from tocsin.engine.handoffs import Handoffs
from tocsin.engine.modules import default_modules
from tocsin.engine.runner import Runner
from tocsin.services import contacts, schedules
from tocsin.services.actor import Actor
from tocsin.storage.models import Notification

SYSTEM = Actor.system("tests")
BOB_COMES_ON = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # Monday 09:00 in Berlin


def seed(sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    with sessions() as db:
        layer = schedules.LayerSpec(
            "weekly", ["alice@example.com", "bob@example.com"], datetime(2026, 11, 23, 9, 0), time_zone="Europe/Berlin"
        )
        schedules.create_schedule(db, SYSTEM, clock.now(), key="primary", layers=[layer])
        contacts.add_contact_method(
            db, SYSTEM, clock.now(), "bob@example.com", name="chat", kind="discord",
            address="https://discord.com/api/webhooks/1/bob", verified=True,
        )  # fmt: skip
        contacts.add_contact_method(
            db, SYSTEM, clock.now(), "bob@example.com", name="mail", kind="email", address="bob@example.com",
            verified=True,
        )  # fmt: skip
        contacts.add_rule(db, SYSTEM, clock.now(), "bob@example.com", contact_method="chat")
        contacts.add_rule(db, SYSTEM, clock.now(), "bob@example.com", contact_method="mail", delay_s=120)
        db.commit()


def handoff_rows(sessions: sessionmaker[Session]) -> list[tuple[str, str]]:
    with sessions() as db:
        found = db.scalars(select(Notification).where(Notification.kind == "handoff").order_by(Notification.id))
        return [(row.channel, row.status) for row in found]


def test_the_module_writes_the_handoff_rows_once_per_handoff(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock)
    engine = Runner(sessions, clock, [Handoffs()], holder="test")
    assert engine.cycle() == {"handoffs": 0}

    clock.set(BOB_COMES_ON + timedelta(seconds=30))
    assert engine.cycle() == {"handoffs": 2}
    assert handoff_rows(sessions) == [("discord", "pending"), ("email", "pending")]

    clock.advance(timedelta(minutes=1))
    assert engine.cycle() == {"handoffs": 0}
    assert len(handoff_rows(sessions)) == 2


def test_two_engines_running_the_same_cycle_write_each_row_once(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock)
    clock.set(BOB_COMES_ON + timedelta(seconds=30))
    one = Runner(sessions, clock, [Handoffs()], holder="one")
    two = Runner(sessions, clock, [Handoffs()], holder="two")
    assert (one.cycle(), two.cycle()) == ({"handoffs": 2}, {"handoffs": 0})
    assert len(handoff_rows(sessions)) == 2


def test_the_default_cycle_runs_handoffs_after_escalations_and_before_deliveries(settings: Settings) -> None:
    names = [module.name for module in default_modules(settings)]
    assert names.index("escalations") < names.index("handoffs") < names.index("deliveries")
