"""Escalation scenarios in GoAlert's style: seed a policy, move the clock, look at the pages.

The organisation: Bob is on call in `primary`, Alice is the manager, Cleo the
CTO; policy `api-default` pages primary → Alice → Cleo, five minutes apart,
on service `api`. Everyone has Discord at once and e-mail after 2 minutes.
A "page" here is a notification row; sending them is the deliveries module's job.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import START, Personas
from tocsin.clock import FrozenClock
from tocsin.engine.escalations import Escalations
from tocsin.engine.response_targets import ResponseTargets
from tocsin.engine.runner import Module, Runner
from tocsin.services import contacts, directory, escalation_steps, escalations, incidents, policies, schedules
from tocsin.services.actor import Actor
from tocsin.services.policies import LevelSpec, TargetSpec, VariantSpec
from tocsin.storage.db import make_engine, make_sessionmaker
from tocsin.storage.models import Escalation, Incident, Notification, SeverityLevel, TimelineEntry
from tocsin.storage.repositories import directory as directory_repo

PUBLIC_URL = "https://tocsin.example"
SYSTEM = Actor.system("tests")
Page = tuple[str, str, int, str]  # who, channel, minutes after START it is due, status


def seed(
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    *,
    delay_s: int = 300,
    variants: dict[str, VariantSpec] | None = None,
) -> None:
    with sessions() as db:
        directory.create_user(db, SYSTEM, clock.now(), email="cleo@example.com", name="Cleo CTO")
        layer = schedules.LayerSpec("weekly", ["bob@example.com"], datetime(2026, 11, 23, 9, 0))
        schedules.create_schedule(db, SYSTEM, clock.now(), key="primary", layers=[layer])
        for email in ("bob@example.com", "alice@example.com", "cleo@example.com"):
            name = email.partition("@")[0]
            contacts.add_contact_method(
                db, SYSTEM, clock.now(), email, name="chat", kind="discord",
                address=f"https://discord.com/api/webhooks/1/{name}", verified=True, high_urgency=True,
            )  # fmt: skip
            contacts.add_contact_method(
                db, SYSTEM, clock.now(), email, name="mail", kind="email", address=email, verified=True
            )
            contacts.add_rule(db, SYSTEM, clock.now(), email, contact_method="chat", delay_s=0)
            contacts.add_rule(db, SYSTEM, clock.now(), email, contact_method="mail", delay_s=120)
        levels = [
            LevelSpec(delay_s, [TargetSpec("schedule", "primary")]),
            LevelSpec(delay_s, [TargetSpec("user", "alice@example.com")]),
            LevelSpec(delay_s, [TargetSpec("user", "cleo@example.com")]),
        ]
        policies.create_policy(db, SYSTEM, clock.now(), key="api-default", levels=levels, variants=variants)
        policies.set_service_policy(db, SYSTEM, clock.now(), "api", "api-default")
        db.commit()


def declare(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock, severity: str = "P2", service: str = "api"
) -> int:
    with sessions() as db:
        incident = incidents.declare(
            db, personas.bob.actor, clock.now(), title="Checkout 500s", severity=severity, services=[service]
        )
        db.commit()
        return incident.id


def engine(sessions: sessionmaker[Session], clock: FrozenClock, *extra: Module, holder: str = "test") -> Runner:
    return Runner(sessions, clock, [*extra, Escalations(PUBLIC_URL)], holder=holder)


def run_until(runner: Runner, clock: FrozenClock, minute: int) -> None:
    """One engine cycle a minute, up to and including `minute` after START."""
    while True:
        runner.cycle()
        if clock.now() >= START + timedelta(minutes=minute):
            return
        clock.advance(timedelta(minutes=1))


def pages(sessions: sessionmaker[Session], incident_id: int) -> list[Page]:
    with sessions() as db:
        rows = db.scalars(
            select(Notification).where(Notification.incident_id == incident_id).order_by(Notification.id)
        ).all()
        names = {user.id: user.email.partition("@")[0] for user in directory_repo.list_users(db)}
        return [
            (names[row.user_id or 0], row.channel, int((row.due_at - START).total_seconds() // 60), row.status)
            for row in rows
        ]


def timeline(sessions: sessionmaker[Session], incident_id: int) -> list[str]:
    with sessions() as db:
        return list(
            db.scalars(
                select(TimelineEntry.summary)
                .where(TimelineEntry.incident_id == incident_id)
                .order_by(TimelineEntry.at, TimelineEntry.id)
            )
        )


def escalation(sessions: sessionmaker[Session], incident_id: int) -> Escalation:
    with sessions() as db:
        found = escalations.for_incident(db, incident_id)
        assert found is not None
        return found


def acknowledge(sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock, incident_id: int) -> None:
    with sessions() as db:
        incident = incidents.get(db, str(incident_id))
        incidents.change_status(db, personas.bob.actor, clock.now(), incident, "acknowledged")
        db.commit()


def test_it_pages_on_call_then_manager_then_cto_five_minutes_apart_until_exhausted(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock)
    incident_id = declare(sessions, personas, clock)
    runner = engine(sessions, clock)

    run_until(runner, clock, 0)
    assert pages(sessions, incident_id) == [("bob", "discord", 0, "pending"), ("bob", "email", 2, "pending")]
    run_until(runner, clock, 4)
    assert len(pages(sessions, incident_id)) == 2
    run_until(runner, clock, 5)
    assert pages(sessions, incident_id)[2:] == [("alice", "discord", 5, "pending"), ("alice", "email", 7, "pending")]
    run_until(runner, clock, 10)
    assert pages(sessions, incident_id)[4:] == [("cleo", "discord", 10, "pending"), ("cleo", "email", 12, "pending")]

    run_until(runner, clock, 30)
    assert len(pages(sessions, incident_id)) == 6
    row = escalation(sessions, incident_id)
    assert (row.status, row.next_due_at) == ("exhausted", None)
    entries = timeline(sessions, incident_id)
    assert "Paged bob (on call in primary) via discord, e-mail (level 1 of 3 in api-default)" in entries
    assert "Paged alice via discord, e-mail (level 2 of 3 in api-default)" in entries
    assert entries[-1] == "Escalation exhausted: every level of api-default was paged and nobody acknowledged"


def test_an_acknowledgement_at_minute_seven_cancels_pending_pages_and_pages_nobody_after(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock)
    incident_id = declare(sessions, personas, clock)
    runner = engine(sessions, clock)
    run_until(runner, clock, 6)
    # The deliveries module sent Bob's Discord page and Alice's is on its way.
    with sessions() as db:
        db.execute(update(Notification).where(Notification.channel == "discord", Notification.due_at == START)
                   .values(status="sent"))  # fmt: skip
        db.execute(
            update(Notification)
            .where(Notification.channel == "discord", Notification.due_at > START)
            .values(status="sending")
        )
        db.commit()

    clock.advance(timedelta(minutes=1))
    acknowledge(sessions, personas, clock, incident_id)
    assert pages(sessions, incident_id) == [
        ("bob", "discord", 0, "sent"),
        ("bob", "email", 2, "canceled"),  # due, but no sender had claimed it
        ("alice", "discord", 5, "sending"),  # a sender's claim is the sender's business
        ("alice", "email", 7, "canceled"),
    ]
    run_until(runner, clock, 60)
    assert len(pages(sessions, incident_id)) == 4
    row = escalation(sessions, incident_id)
    assert (row.status, row.next_due_at) == ("acknowledged", None)
    assert "Paging stopped: incident acknowledged; 2 pending pages canceled" in timeline(sessions, incident_id)


def test_quiet_hours_hold_a_non_emergency_page_and_the_next_level_gets_it_at_once(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock)
    with sessions() as db:
        contacts.set_quiet_hours(db, SYSTEM, clock.now(), "bob@example.com", start="08:00", end="10:00")
        db.commit()
    incident_id = declare(sessions, personas, clock)
    runner = engine(sessions, clock)

    run_until(runner, clock, 0)
    assert pages(sessions, incident_id) == [("alice", "discord", 0, "pending"), ("alice", "email", 2, "pending")]
    # The levels after keep their spacing from the one that took over.
    run_until(runner, clock, 4)
    assert len(pages(sessions, incident_id)) == 2
    run_until(runner, clock, 5)
    assert [p[:3] for p in pages(sessions, incident_id)[2:]] == [("cleo", "discord", 5), ("cleo", "email", 7)]
    assert (
        "Paged nobody; bob (on call in primary) held by quiet hours until 10:00 UTC (level 1 of 3 in api-default)"
        in timeline(sessions, incident_id)
    )


def test_a_p0_pages_every_level_at_once_and_through_quiet_hours(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock, variants={"P0": VariantSpec("all_at_once")})
    with sessions() as db:
        contacts.set_quiet_hours(db, SYSTEM, clock.now(), "bob@example.com", start="08:00", end="10:00")
        db.commit()
    incident_id = declare(sessions, personas, clock, severity="P0")
    run_until(engine(sessions, clock), clock, 0)
    assert [p[:3] for p in pages(sessions, incident_id)] == [
        ("bob", "discord", 0),
        ("bob", "email", 2),
        ("alice", "discord", 0),
        ("alice", "email", 2),
        ("cleo", "discord", 0),
        ("cleo", "email", 2),
    ]
    assert (
        "Paged bob (on call in primary) via discord, e-mail, through quiet hours (level 1 of 3 in api-default)"
        in timeline(sessions, incident_id)
    )


def test_a_record_only_severity_pages_nobody_and_says_why(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock, variants={"P3": VariantSpec("record_only")})
    incident_id = declare(sessions, personas, clock, severity="P3")
    run_until(engine(sessions, clock), clock, 30)
    assert pages(sessions, incident_id) == []
    row = escalation(sessions, incident_id)
    assert row.status == "recorded"
    assert row.reason == "P3 is record-only in escalation policy 'api-default': nobody is paged"
    assert f"Not paging: {row.reason}" in timeline(sessions, incident_id)


def test_a_service_without_a_policy_records_the_reason_and_adds_nothing_to_the_timeline(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock)
    incident_id = declare(sessions, personas, clock, service="web")
    run_until(engine(sessions, clock), clock, 5)
    assert pages(sessions, incident_id) == []
    row = escalation(sessions, incident_id)
    assert (row.status, row.reason) == ("recorded", "service 'web' has no escalation policy: nobody is paged")
    assert timeline(sessions, incident_id) == ["Declared P2: Checkout 500s"]


def test_a_replayed_cycle_creates_no_duplicate_pages(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock)
    incident_id = declare(sessions, personas, clock)
    with sessions() as db, db.begin():
        assert escalation_steps.due(db, clock.now(), 10, public_url=PUBLIC_URL) == 1
    with sessions() as db, db.begin():
        assert escalation_steps.due(db, clock.now(), 10, public_url=PUBLIC_URL) == 0
    # A crash after the pages were written but with the escalation not moved on (or two
    # processes that both read it): the step runs again and the idempotency keys hold.
    with sessions() as db, db.begin():
        db.execute(update(Escalation).values(next_step=0, next_due_at=START))
    with sessions() as db, db.begin():
        assert escalation_steps.due(db, clock.now(), 10, public_url=PUBLIC_URL) == 1
    assert pages(sessions, incident_id) == [("bob", "discord", 0, "pending"), ("bob", "email", 2, "pending")]
    assert sum(entry.startswith("Paged bob") for entry in timeline(sessions, incident_id)) == 1


def test_a_missed_acknowledge_target_pages_the_next_level_at_once(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock, delay_s=30 * 60)
    incident_id = declare(sessions, personas, clock, severity="P1")  # P1: acknowledge within 15 min
    runner = engine(sessions, clock, ResponseTargets())
    run_until(runner, clock, 14)
    assert [p[0] for p in pages(sessions, incident_id)] == ["bob", "bob"]
    run_until(runner, clock, 15)
    assert [p[:3] for p in pages(sessions, incident_id)[2:]] == [("alice", "discord", 15), ("alice", "email", 17)]
    # The level after keeps its full delay from there.
    run_until(runner, clock, 44)
    assert len(pages(sessions, incident_id)) == 4
    run_until(runner, clock, 45)
    assert [p[:3] for p in pages(sessions, incident_id)[4:]] == [("cleo", "discord", 45), ("cleo", "email", 47)]


def test_a_restarted_engine_picks_up_where_the_last_one_stopped(
    db_url: str, sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock)
    incident_id = declare(sessions, personas, clock)
    run_until(engine(sessions, clock, holder="first"), clock, 3)

    # A new process: its own database engine, sessions and runner; nothing kept in memory.
    fresh = make_engine(db_url)
    try:
        fresh_sessions = make_sessionmaker(fresh)
        clock.advance(timedelta(minutes=3))
        run_until(engine(fresh_sessions, clock, holder="second"), clock, 6)
    finally:
        fresh.dispose()
    assert [p[:3] for p in pages(sessions, incident_id)] == [
        ("bob", "discord", 0),
        ("bob", "email", 2),
        ("alice", "discord", 5),
        ("alice", "email", 7),
    ]


def test_resolving_stops_paging_and_reopening_starts_over_from_the_first_level(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock)
    incident_id = declare(sessions, personas, clock)
    runner = engine(sessions, clock)
    run_until(runner, clock, 1)
    with sessions() as db:
        incidents.change_status(db, personas.bob.actor, clock.now(), incidents.get(db, str(incident_id)), "resolved")
        db.commit()
    assert escalation(sessions, incident_id).status == "resolved"
    assert [p[3] for p in pages(sessions, incident_id)] == ["canceled", "canceled"]

    run_until(runner, clock, 20)
    with sessions() as db:
        incident = incidents.get(db, str(incident_id))
        incidents.change_status(db, personas.alice.actor, clock.now(), incident, "investigating", "it is back")
        db.commit()
    run_until(runner, clock, 20)
    assert [p[:3] for p in pages(sessions, incident_id)[2:]] == [("bob", "discord", 20), ("bob", "email", 22)]
    assert "Paging starts over: level 1 of api-default" in timeline(sessions, incident_id)


def test_an_incident_declared_by_an_alert_pages_too(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock)
    with sessions() as db:
        incident = incidents.declare(
            db, Actor.system("integration:alertmanager"), clock.now(), title="HighErrorRate", severity="P1",
            services=["api"],
        )  # fmt: skip
        db.commit()
    run_until(engine(sessions, clock), clock, 0)
    [first, _] = pages(sessions, incident.id)
    assert first == ("bob", "discord", 0, "pending")
    with sessions() as db:
        row = db.scalars(select(Notification).where(Notification.incident_id == incident.id)).first()
        assert row is not None
        assert row.payload["incident"] == incident.human_id
        assert row.payload["ack_url"].startswith(f"{PUBLIC_URL}/ack/")
        assert row.payload["url"] == f"{PUBLIC_URL}/api/v1/incidents/{incident.human_id}"
        assert row.idempotency_key.startswith(f"page:{incident.id}:{int(START.timestamp())}:0:0:")


# ---- emergencies -------------------------------------------------------------------------------


def quiet_bob(sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    with sessions() as db:
        contacts.set_quiet_hours(db, SYSTEM, clock.now(), "bob@example.com", start="08:00", end="10:00")
        db.commit()


def test_a_severity_marked_emergency_pages_through_quiet_hours_whatever_its_rank(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock)
    quiet_bob(sessions, clock)
    with sessions() as db:
        db.execute(update(SeverityLevel).where(SeverityLevel.name == "P1").values(emergency=True))
        db.commit()
    incident_id = declare(sessions, personas, clock, severity="P1")
    run_until(engine(sessions, clock), clock, 0)
    assert [p[:3] for p in pages(sessions, incident_id)] == [("bob", "discord", 0), ("bob", "email", 2)]
    assert (
        "Paged bob (on call in primary) via discord, e-mail, through quiet hours (level 1 of 3 in api-default)"
        in timeline(sessions, incident_id)
    )


def test_a_service_marked_emergency_pages_through_quiet_hours_at_a_low_severity(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock)
    quiet_bob(sessions, clock)
    quiet_p2 = declare(sessions, personas, clock, severity="P2")
    with sessions() as db:
        directory.edit_service(db, SYSTEM, clock.now(), "api", emergency=True)
        db.commit()
    urgent_p2 = declare(sessions, personas, clock, severity="P2")
    run_until(engine(sessions, clock), clock, 0)
    # Declared before the flag, the first one's page waits for no one: the flag is read when a step pages.
    assert [p[0] for p in pages(sessions, quiet_p2)] == ["bob", "bob"]
    assert [p[:3] for p in pages(sessions, urgent_p2)] == [("bob", "discord", 0), ("bob", "email", 2)]


def test_the_default_p0_is_an_emergency_and_p1_is_not(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock)
    quiet_bob(sessions, clock)
    p0 = declare(sessions, personas, clock, severity="P0")
    p1 = declare(sessions, personas, clock, severity="P1")
    run_until(engine(sessions, clock), clock, 0)
    assert [p[0] for p in pages(sessions, p0)] == ["bob", "bob"]
    assert [p[0] for p in pages(sessions, p1)] == ["alice", "alice"]  # bob held, level 2 at once


# ---- changes while an escalation runs ----------------------------------------------------------


def sent_discord(sessions: sessionmaker[Session]) -> None:
    """The deliveries module sent the Discord pages made so far (the e-mails wait two minutes)."""
    with sessions() as db:
        db.execute(update(Notification).where(Notification.channel == "discord").values(status="sent"))
        db.commit()


MATRIX = {
    "P0": VariantSpec("all_at_once"),
    "P1": VariantSpec("step_delay", 15 * 60),
    "P2": VariantSpec("step_delay", 60 * 60),
    "P3": VariantSpec("record_only"),
}


def change_severity(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock, incident_id: int, to: str
) -> None:
    with sessions() as db:
        incidents.change_severity(db, personas.bob.actor, clock.now(), incidents.get(db, str(incident_id)), to)
        db.commit()


def test_a_p2_raised_to_p0_mid_escalation_pages_every_level_left_at_once(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock, variants=MATRIX)
    incident_id = declare(sessions, personas, clock, severity="P2")
    runner = engine(sessions, clock)
    run_until(runner, clock, 20)
    assert [p[0] for p in pages(sessions, incident_id)] == ["bob", "bob"]  # level 2 would come at minute 60

    change_severity(sessions, personas, clock, incident_id, "P0")
    run_until(runner, clock, 20)
    assert [p[:3] for p in pages(sessions, incident_id)[2:]] == [
        ("alice", "discord", 20),
        ("alice", "email", 22),
        ("cleo", "discord", 20),
        ("cleo", "email", 22),
    ]
    assert "Paging follows severity P0: level 2 of api-default is paged now" in timeline(sessions, incident_id)
    assert escalation(sessions, incident_id).severity == "P0"


def test_a_p2_raised_to_p1_pages_the_next_level_fifteen_minutes_after_the_last(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock, variants=MATRIX)
    incident_id = declare(sessions, personas, clock, severity="P2")
    runner = engine(sessions, clock)
    run_until(runner, clock, 5)
    change_severity(sessions, personas, clock, incident_id, "P1")
    run_until(runner, clock, 14)
    assert len(pages(sessions, incident_id)) == 2
    run_until(runner, clock, 15)
    assert [p[:3] for p in pages(sessions, incident_id)[2:]] == [("alice", "discord", 15), ("alice", "email", 17)]
    assert "Paging follows severity P1: level 2 of api-default is paged at 09:15 UTC" in timeline(sessions, incident_id)


def test_a_p1_lowered_to_a_record_only_p3_stops_paging_and_cancels_what_is_pending(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock, variants=MATRIX)
    incident_id = declare(sessions, personas, clock, severity="P1")
    runner = engine(sessions, clock)
    run_until(runner, clock, 1)
    sent_discord(sessions)
    change_severity(sessions, personas, clock, incident_id, "P3")
    run_until(runner, clock, 60)
    assert pages(sessions, incident_id) == [("bob", "discord", 0, "sent"), ("bob", "email", 2, "canceled")]
    row = escalation(sessions, incident_id)
    assert (row.status, row.next_due_at) == ("recorded", None)
    assert (
        "Paging stopped: P3 is record-only in escalation policy 'api-default': nobody is paged; 1 pending page canceled"
        in timeline(sessions, incident_id)
    )


def test_a_recorded_p3_raised_to_p1_starts_paging_from_the_first_level(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock, variants=MATRIX)
    incident_id = declare(sessions, personas, clock, severity="P3")
    runner = engine(sessions, clock)
    run_until(runner, clock, 30)
    assert pages(sessions, incident_id) == []
    change_severity(sessions, personas, clock, incident_id, "P1")
    run_until(runner, clock, 45)
    assert [p[:3] for p in pages(sessions, incident_id)] == [
        ("bob", "discord", 30),
        ("bob", "email", 32),
        ("alice", "discord", 45),
        ("alice", "email", 47),
    ]


def test_an_acknowledged_incident_is_not_paged_again_when_its_severity_changes(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock, variants=MATRIX)
    incident_id = declare(sessions, personas, clock, severity="P2")
    runner = engine(sessions, clock)
    run_until(runner, clock, 3)
    acknowledge(sessions, personas, clock, incident_id)
    change_severity(sessions, personas, clock, incident_id, "P0")
    run_until(runner, clock, 60)
    assert [p[0] for p in pages(sessions, incident_id)] == ["bob", "bob"]
    assert escalation(sessions, incident_id).status == "acknowledged"


def edit_policy(sessions: sessionmaker[Session], clock: FrozenClock, levels: list[LevelSpec]) -> None:
    with sessions() as db:
        policies.update_policy(db, SYSTEM, clock.now(), "api-default", levels=levels)
        db.commit()


def test_an_edited_policy_decides_who_is_paged_next_and_when(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock)
    incident_id = declare(sessions, personas, clock)
    runner = engine(sessions, clock)
    run_until(runner, clock, 2)
    # Level 1 gets ten minutes now, and level 2 is Cleo instead of Alice.
    edit_policy(
        sessions,
        clock,
        [
            LevelSpec(600, [TargetSpec("schedule", "primary")]),
            LevelSpec(300, [TargetSpec("user", "cleo@example.com")]),
        ],
    )
    run_until(runner, clock, 9)
    assert len(pages(sessions, incident_id)) == 2
    run_until(runner, clock, 10)
    assert [p[:3] for p in pages(sessions, incident_id)[2:]] == [("cleo", "discord", 10), ("cleo", "email", 12)]
    assert "Paging follows the edited escalation policy api-default: level 2 of api-default is paged at 09:10 UTC" in (
        timeline(sessions, incident_id)
    )
    run_until(runner, clock, 30)
    assert len(pages(sessions, incident_id)) == 4  # two levels now: exhausted after Cleo
    assert escalation(sessions, incident_id).status == "exhausted"


def test_a_policy_cut_below_the_level_that_was_next_ends_the_escalation(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock)
    incident_id = declare(sessions, personas, clock)
    runner = engine(sessions, clock)
    run_until(runner, clock, 6)  # levels 1 and 2 paged; level 3 is next
    edit_policy(sessions, clock, [LevelSpec(300, [TargetSpec("schedule", "primary")])])
    run_until(runner, clock, 30)
    assert [p[0] for p in pages(sessions, incident_id)] == ["bob", "bob", "alice", "alice"]
    row = escalation(sessions, incident_id)
    assert (row.status, row.next_due_at) == ("exhausted", None)
    assert timeline(sessions, incident_id)[-1] == (
        "Escalation exhausted: every level of api-default was paged and nobody acknowledged"
    )


def test_a_service_given_another_policy_pages_its_next_level_from_that_policy(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock)
    with sessions() as db:
        levels = [LevelSpec(300, [TargetSpec("user", "cleo@example.com")])] * 2
        policies.create_policy(db, SYSTEM, clock.now(), key="cto-first", levels=levels)
        db.commit()
    incident_id = declare(sessions, personas, clock)
    runner = engine(sessions, clock)
    run_until(runner, clock, 1)
    with sessions() as db:
        policies.set_service_policy(db, SYSTEM, clock.now(), "api", "cto-first")
        db.commit()
    run_until(runner, clock, 5)
    assert [p[:3] for p in pages(sessions, incident_id)[2:]] == [("cleo", "discord", 5), ("cleo", "email", 7)]
    assert "Paging follows escalation policy cto-first of service api: level 2 of cto-first is paged at 09:05 UTC" in (
        timeline(sessions, incident_id)
    )


def test_an_incident_moved_to_another_service_pages_its_next_level_from_that_services_policy(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock)
    with sessions() as db:
        levels = [LevelSpec(300, [TargetSpec("user", "cleo@example.com")])] * 2
        policies.create_policy(db, SYSTEM, clock.now(), key="cto-first", levels=levels)
        directory.create_service(db, SYSTEM, clock.now(), key="payments", name="Payments")
        policies.set_service_policy(db, SYSTEM, clock.now(), "payments", "cto-first")
        db.commit()
    incident_id = declare(sessions, personas, clock)
    runner = engine(sessions, clock)
    run_until(runner, clock, 1)
    with sessions() as db:
        incident = db.get(Incident, incident_id)
        assert incident is not None
        incidents.edit(db, personas.bob.actor, clock.now(), incident, services=["payments"])
        db.commit()
    run_until(runner, clock, 5)
    assert [p[:3] for p in pages(sessions, incident_id)[2:]] == [("cleo", "discord", 5), ("cleo", "email", 7)]
    assert (
        "Paging follows escalation policy cto-first of service payments: level 2 of cto-first is paged at 09:05 UTC"
        in timeline(sessions, incident_id)
    )


def test_a_service_left_without_a_policy_stops_paging_its_open_incidents(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock)
    incident_id = declare(sessions, personas, clock)
    runner = engine(sessions, clock)
    run_until(runner, clock, 1)
    sent_discord(sessions)
    with sessions() as db:
        policies.set_service_policy(db, SYSTEM, clock.now(), "api", None)
        db.commit()
    run_until(runner, clock, 30)
    assert [p[3] for p in pages(sessions, incident_id)] == ["sent", "canceled"]
    row = escalation(sessions, incident_id)
    assert (row.status, row.reason) == ("recorded", "service 'api' has no escalation policy: nobody is paged")
