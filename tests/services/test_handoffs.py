"""Hand-off notifications: move the clock past a hand-off, look at the rows the incoming person gets.

The rotation: `primary` hands over every Monday at 09:00 Europe/Berlin, alice first
(from 2026-11-23, before the schedule was created), bob from 2026-11-30 09:00 CET
(08:00 UTC), alice again a week later. Bob reads times in Berlin; everyone else in UTC.
Bob has Discord and e-mail, verified, and an SMS number nobody has verified.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tocsin.clock import FrozenClock
from tocsin.services import contacts, directory, handoffs, schedules
from tocsin.services.actor import Actor
from tocsin.storage.models import Notification
from tocsin.storage.repositories import directory as directory_repo

SYSTEM = Actor.system("tests")
BOB_COMES_ON = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # Monday 09:00 CET


def seed(sessions: sessionmaker[Session], clock: FrozenClock, *, verified: bool = True) -> None:
    with sessions() as db:
        layer = schedules.LayerSpec(
            "weekly", ["alice@example.com", "bob@example.com"], datetime(2026, 11, 23, 9, 0), time_zone="Europe/Berlin"
        )
        schedules.create_schedule(
            db, SYSTEM, clock.now(), key="primary", name="Primary on-call", time_zone="Europe/Berlin", layers=[layer]
        )
        # The directory has no way to change a user's zone yet; the row is what the module reads.
        directory.get_user(db, "bob@example.com").time_zone = "Europe/Berlin"
        methods = [
            ("chat", "discord", "https://discord.com/api/webhooks/1/bob", verified),
            ("mail", "email", "bob@example.com", verified),
            ("phone", "sms", "+4915112345678", False),
        ]
        for name, kind, address, is_verified in methods:
            contacts.add_contact_method(
                db, SYSTEM, clock.now(), "bob@example.com", name=name, kind=kind, address=address, verified=is_verified
            )
        contacts.add_rule(db, SYSTEM, clock.now(), "bob@example.com", contact_method="phone", delay_s=0)
        contacts.add_rule(db, SYSTEM, clock.now(), "bob@example.com", contact_method="chat", delay_s=60)
        contacts.add_rule(db, SYSTEM, clock.now(), "bob@example.com", contact_method="mail", delay_s=300)
        for email in ("alice@example.com", "charlie@example.com"):
            contacts.add_contact_method(
                db, SYSTEM, clock.now(), email, name="mail", kind="email", address=email, verified=True
            )
            contacts.add_rule(db, SYSTEM, clock.now(), email, contact_method="mail")
        db.commit()


def notify(sessions: sessionmaker[Session], clock: FrozenClock, lead: timedelta = timedelta(0)) -> int:
    with sessions() as db:
        count = handoffs.notify_due(db, clock.now(), lead=lead, public_url="https://tocsin.example")
        db.commit()
        return count


def rows(sessions: sessionmaker[Session]) -> list[Notification]:
    with sessions() as db:
        return list(db.scalars(select(Notification).where(Notification.kind == "handoff").order_by(Notification.id)))


def owners(sessions: sessionmaker[Session]) -> list[tuple[str, str]]:
    with sessions() as db:
        names = {user.id: user.email.partition("@")[0] for user in directory_repo.list_users(db)}
    return [(names[row.user_id or 0], row.channel) for row in rows(sessions)]


def test_the_person_coming_on_is_told_once_per_verified_contact_method(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock)
    clock.set(BOB_COMES_ON + timedelta(minutes=1))

    assert notify(sessions, clock) == 2

    chat, mail = rows(sessions)
    # In the order of bob's rules, at once whatever their delays; the unverified phone gets nothing.
    assert owners(sessions) == [("bob", "discord"), ("bob", "email")]
    with sessions() as db:
        schedule_id = schedules.get_schedule(db, "primary").id
        bob = directory.get_user(db, "bob@example.com")
        method_ids = [m.id for m in contacts.list_contact_methods(db, "bob@example.com") if m.name in ("chat", "mail")]
    at = int(BOB_COMES_ON.timestamp())
    assert {chat.idempotency_key, mail.idempotency_key} == {
        f"handoff:{schedule_id}:{at}:{bob.id}:{method_id}" for method_id in method_ids
    }
    assert (chat.status, chat.due_at, chat.incident_id) == ("pending", clock.now(), None)
    assert chat.payload == mail.payload
    starts, ends = "Mon 2026-11-30 09:00 CET (08:00 UTC)", "Mon 2026-12-07 09:00 CET (08:00 UTC)"
    assert chat.payload == {
        "title": "You are on call: Primary on-call",
        "text": (
            f"You are on call in Primary on-call from {starts} until {ends};"
            " Alice Admin (alice@example.com) hands over to you."
        ),
        "fields": [
            ["Schedule", "Primary on-call"],
            ["From", starts],
            ["Until", ends],
            ["Handed over by", "Alice Admin (alice@example.com)"],
        ],
        "url": "https://tocsin.example/api/v1/schedules/primary",
    }


def test_running_again_in_the_same_window_inserts_nothing(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock)
    clock.set(BOB_COMES_ON + timedelta(minutes=1))
    assert notify(sessions, clock) == 2

    assert notify(sessions, clock) == 0
    clock.advance(timedelta(minutes=10))  # still within the lookback
    assert notify(sessions, clock) == 0
    assert len(rows(sessions)) == 2


def test_a_handoff_older_than_the_lookback_is_not_announced_late(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock)
    clock.set(BOB_COMES_ON + timedelta(minutes=15, seconds=1))  # the engine was down until now

    assert notify(sessions, clock) == 0
    assert rows(sessions) == []


def test_a_handoff_exactly_at_now_is_announced_and_not_before(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock)
    clock.set(BOB_COMES_ON - timedelta(microseconds=1))
    assert notify(sessions, clock) == 0
    clock.set(BOB_COMES_ON)
    assert notify(sessions, clock) == 2


def test_unverified_contact_methods_get_nothing(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock, verified=False)
    clock.set(BOB_COMES_ON + timedelta(minutes=1))

    assert notify(sessions, clock) == 0
    assert rows(sessions) == []


def test_an_override_that_puts_charlie_on_tells_charlie_and_then_alice_coming_back(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock)
    start, end = datetime(2026, 11, 24, 12, 0, tzinfo=UTC), datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
    with sessions() as db:
        schedules.add_override(db, SYSTEM, clock.now(), "primary", user="charlie@example.com", start=start, end=end)
        db.commit()

    clock.set(start + timedelta(minutes=5))
    assert notify(sessions, clock) == 1
    [told] = rows(sessions)
    assert owners(sessions) == [("charlie", "email")]
    assert told.payload["text"] == (
        "You are on call in Primary on-call from Tue 2026-11-24 12:00 UTC until Tue 2026-11-24 18:00 UTC;"
        " Alice Admin (alice@example.com) hands over to you."
    )

    clock.set(end + timedelta(minutes=5))
    assert notify(sessions, clock) == 1
    assert owners(sessions) == [("charlie", "email"), ("alice", "email")]
    back = rows(sessions)[-1]
    assert back.payload["fields"][-1] == ["Handed over by", "Charlie Viewer (charlie@example.com)"]
    assert back.payload["fields"][2] == ["Until", "Mon 2026-11-30 08:00 UTC"]


def test_a_heads_up_before_the_handoff_does_not_replace_the_announcement(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock)
    clock.set(BOB_COMES_ON - timedelta(minutes=30))

    assert notify(sessions, clock, lead=timedelta(hours=1)) == 2
    assert notify(sessions, clock, lead=timedelta(hours=1)) == 0
    heads_up = rows(sessions)[0]
    assert heads_up.idempotency_key.startswith("handoff-soon:")
    assert heads_up.payload["title"] == "You go on call soon: Primary on-call"

    clock.set(BOB_COMES_ON + timedelta(minutes=1))
    assert notify(sessions, clock, lead=timedelta(hours=1)) == 2
    assert [row.payload["title"] for row in rows(sessions)[2:]] == ["You are on call: Primary on-call"] * 2


def test_without_a_lead_nothing_is_said_ahead_of_time(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock)
    clock.set(BOB_COMES_ON - timedelta(minutes=1))
    assert notify(sessions, clock) == 0


def test_the_first_shift_of_a_schedule_created_as_it_starts_is_not_announced(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    with sessions() as db:
        contacts.add_contact_method(
            db, SYSTEM, clock.now(), "alice@example.com", name="mail", kind="email", address="a@example.com",
            verified=True,
        )  # fmt: skip
        contacts.add_rule(db, SYSTEM, clock.now(), "alice@example.com", contact_method="mail")
        layer = schedules.LayerSpec("weekly", ["alice@example.com"], clock.now())
        schedules.create_schedule(db, SYSTEM, clock.now(), key="fresh", layers=[layer])
        db.commit()

    clock.advance(timedelta(minutes=1))
    assert notify(sessions, clock) == 0
