"""The communication module in engine cycles, with the clock moved: the update cadence, its ladder of
reminders up to a page, the customer notice, and the monitoring window.

The acceptance story of issue 7 is the first test: a declared P1 whose commander is reminded when
the 30-minute update is overdue, and whose customer notice is rendered from the template.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.support.claims import drain_in_two_threads
from tests.support.communication import SYSTEM, notes, reachable, reminders_to
from tocsin.clock import FrozenClock
from tocsin.domain.communication import ReminderKind
from tocsin.engine.communication import Communication
from tocsin.engine.runner import Runner
from tocsin.services import communication, incidents, message_templates, policies
from tocsin.services.policies import LevelSpec, TargetSpec
from tocsin.storage import models


def runner(sessions: sessionmaker[Session], clock: FrozenClock) -> Runner:
    return Runner(sessions, clock, [Communication("https://tocsin.example")], holder="test")


def declare(
    sessions: sessionmaker[Session],
    personas: Personas,
    clock: FrozenClock,
    severity: str = "P1",
    commander: str | None = "alice@example.com",
    **options: object,
) -> int:
    with sessions() as db:
        incident = incidents.declare(
            db,
            personas.bob.actor,
            clock.now(),
            title="Checkout returns 500s",
            severity=severity,
            services=["api"],
            impact="A third of checkouts fail.",
            commander=commander,
            **options,  # type: ignore[arg-type]
        )
        db.commit()
        return incident.id


def act(sessions: sessionmaker[Session], incident_id: int, what: str, *args: object, **kwargs: object) -> None:
    with sessions() as db:
        incident = db.get(models.Incident, incident_id)
        assert incident is not None
        getattr(incidents, what)(db, SYSTEM, kwargs.pop("now"), incident, *args, **kwargs)
        db.commit()


def test_a_declared_p1s_commander_is_reminded_when_the_30_minute_update_is_overdue(
    sessions: sessionmaker[Session], session: Session, personas: Personas, clock: FrozenClock
) -> None:
    reachable(sessions, clock, "alice@example.com")
    declared_at = clock.now()
    incident_id = declare(sessions, personas, clock)
    engine = runner(sessions, clock)

    clock.advance(timedelta(minutes=29, seconds=59))
    engine.cycle()
    assert reminders_to(session, incident_id) == []

    clock.advance(timedelta(seconds=1))
    assert engine.cycle() == {"communication": 1}
    assert reminders_to(session, incident_id) == [("alice@example.com", "Update overdue: INC-2026-11-23-001 (P1)")]
    [entry] = notes(session, incident_id, "update_overdue")
    assert entry.at == declared_at + timedelta(minutes=30)
    assert entry.actor_name == "engine"
    assert entry.summary.startswith("Update overdue: P1 expects an update every 30 min")
    assert entry.summary.endswith("reminded Alice Admin (commander)")
    assert entry.data["user"] == "alice@example.com"

    # The customer notice, rendered from the shipped template with this incident's facts.
    with sessions() as db:
        incident = db.get(models.Incident, incident_id)
        text = message_templates.render_for(db, "customer_notice", incident, clock.now(), "https://tocsin.example")
    assert text == (
        "We are investigating an issue affecting Public API.\n"
        "A third of checkouts fail.\n"
        "Our team is working on it and we will post another update soon.\n"
    )

    # Running again reminds nobody twice.
    engine.cycle()
    assert len(reminders_to(session, incident_id)) == 1


def test_an_update_settles_the_reminder_and_the_next_is_owed_a_cadence_later(
    sessions: sessionmaker[Session], session: Session, personas: Personas, clock: FrozenClock
) -> None:
    reachable(sessions, clock, "alice@example.com")
    incident_id = declare(sessions, personas, clock)
    engine = runner(sessions, clock)
    clock.advance(timedelta(minutes=20))
    act(sessions, incident_id, "post_update", "Rolling back the deploy.", now=clock.now())

    clock.advance(timedelta(minutes=30))  # 50 min: the first due time passed, but it was met
    assert engine.cycle() == {"communication": 1}  # the second one, owed at 20 + 30 min
    [entry] = notes(session, incident_id, "update_overdue")
    assert entry.at == clock.now()
    with sessions() as db:
        rows = communication_rows(db, incident_id)
    assert [(r.kind, r.status) for r in rows] == [
        ("update", "met"),
        ("customer_notice", "pending"),
        ("update", "pending"),
    ]


def communication_rows(db: Session, incident_id: int) -> list[models.CommunicationReminder]:
    return list(
        db.scalars(
            select(models.CommunicationReminder)
            .where(models.CommunicationReminder.incident_id == incident_id)
            .order_by(models.CommunicationReminder.id)
        )
    )


def test_an_ignored_reminder_to_the_communications_lead_goes_to_the_commander_then_pages(
    sessions: sessionmaker[Session], session: Session, personas: Personas, clock: FrozenClock
) -> None:
    reachable(sessions, clock, "alice@example.com", "bob@example.com")
    with sessions() as db:
        levels = [LevelSpec(300, [TargetSpec("user", "bob@example.com")])]
        policies.create_policy(db, SYSTEM, clock.now(), key="api-oncall", name="API on-call", levels=levels)
        policies.set_service_policy(db, SYSTEM, clock.now(), "api", "api-oncall")
        db.commit()
    incident_id = declare(sessions, personas, clock)
    act(sessions, incident_id, "assign_role", "communications", "bob@example.com", now=clock.now())
    act(sessions, incident_id, "change_status", "investigating", now=clock.now())  # paging stops
    engine = runner(sessions, clock)

    clock.advance(timedelta(minutes=30))
    engine.cycle()
    assert [who for who, _ in reminders_to(session, incident_id)] == ["bob@example.com"]

    clock.advance(timedelta(minutes=5))
    engine.cycle()
    assert [who for who, _ in reminders_to(session, incident_id)] == ["bob@example.com", "alice@example.com"]

    clock.advance(timedelta(minutes=5))
    engine.cycle()
    [escalated] = notes(session, incident_id, "update_escalated")
    assert "the reminders went unanswered" in escalated.summary
    with sessions() as db:
        escalation = db.scalar(select(models.Escalation).where(models.Escalation.incident_id == incident_id))
        assert escalation is not None
        assert (escalation.status, escalation.next_due_at) == ("active", clock.now())

    # The update that finally comes stops the paging it started.
    act(sessions, incident_id, "post_update", "Fixed the config; watching.", now=clock.now())
    with sessions() as db:
        escalation = db.scalar(select(models.Escalation).where(models.Escalation.incident_id == incident_id))
        assert escalation is not None
        assert escalation.status == "acknowledged"
        assert [r.status for r in communication_rows(db, incident_id) if r.kind == "update"] == ["met", "pending"]


def test_with_nobody_to_remind_it_says_so_once_and_waits_for_someone_to_take_a_role(
    sessions: sessionmaker[Session], session: Session, personas: Personas, clock: FrozenClock
) -> None:
    reachable(sessions, clock, "bob@example.com")
    incident_id = declare(sessions, personas, clock, commander=None)
    engine = runner(sessions, clock)
    clock.advance(timedelta(minutes=30))
    engine.cycle()
    [entry] = notes(session, incident_id, "update_overdue")
    assert entry.summary.endswith("nobody holds the communications or commander role to remind: assign one")
    clock.advance(timedelta(minutes=5))
    engine.cycle()
    assert len(notes(session, incident_id, "update_overdue")) == 1  # said once
    assert notes(session, incident_id, "update_escalated") == []  # and nobody paged for it

    act(sessions, incident_id, "assign_role", "communications", "bob@example.com", now=clock.now())
    clock.advance(timedelta(minutes=5))
    engine.cycle()
    assert reminders_to(session, incident_id) == [("bob@example.com", "Update overdue: INC-2026-11-23-001 (P1)")]


def test_a_p0_owes_customers_a_notice_at_once_and_a_public_update_settles_it(
    sessions: sessionmaker[Session], session: Session, personas: Personas, clock: FrozenClock
) -> None:
    reachable(sessions, clock, "alice@example.com")
    incident_id = declare(sessions, personas, clock, severity="P0")
    engine = runner(sessions, clock)
    engine.cycle()
    assert reminders_to(session, incident_id) == [
        ("alice@example.com", "Customer notice overdue: INC-2026-11-23-001 (P0)")
    ]
    [entry] = notes(session, incident_id, "customer_notice_overdue")
    assert "P0 expects customers to be told at once" in entry.summary

    act(sessions, incident_id, "post_update", "Internal only.", now=clock.now())
    with sessions() as db:
        assert communication.owed_at(communication_rows(db, incident_id), ReminderKind.CUSTOMER_NOTICE)
    act(sessions, incident_id, "post_update", "We are investigating.", public=True, now=clock.now())
    with sessions() as db:
        rows = communication_rows(db, incident_id)
        assert [(r.kind, r.status) for r in rows if r.kind == "customer_notice"] == [("customer_notice", "met")]


def test_a_drill_owes_no_customer_notice_but_keeps_the_update_cadence(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    incident_id = declare(sessions, personas, clock, severity="P0", drill=True)
    with sessions() as db:
        assert [r.kind for r in communication_rows(db, incident_id)] == ["update"]


def test_resolving_stops_every_reminder(
    sessions: sessionmaker[Session], session: Session, personas: Personas, clock: FrozenClock
) -> None:
    reachable(sessions, clock, "alice@example.com")
    incident_id = declare(sessions, personas, clock)
    act(sessions, incident_id, "change_status", "resolved", now=clock.now())
    clock.advance(timedelta(hours=2))
    assert runner(sessions, clock).cycle() == {"communication": 0}
    assert reminders_to(session, incident_id) == []
    with sessions() as db:
        assert {r.status for r in communication_rows(db, incident_id)} == {"canceled"}


def test_the_monitoring_window_passes_and_the_commander_is_told_it_may_be_resolved(
    sessions: sessionmaker[Session], session: Session, personas: Personas, clock: FrozenClock
) -> None:
    reachable(sessions, clock, "alice@example.com")
    incident_id = declare(sessions, personas, clock)
    clock.advance(timedelta(minutes=10))
    act(sessions, incident_id, "post_update", "Mitigated by a rollback.", now=clock.now())
    act(sessions, incident_id, "change_status", "monitoring", now=clock.now())
    mitigated_at = clock.now()
    with sessions() as db:
        assert communication.resolvable_from(communication_rows(db, incident_id)) == mitigated_at + timedelta(hours=1)

    clock.advance(timedelta(minutes=59))
    engine = runner(sessions, clock)
    engine.cycle()
    assert notes(session, incident_id, "monitoring_window_passed") == []
    clock.advance(timedelta(minutes=1))
    engine.cycle()
    [entry] = notes(session, incident_id, "monitoring_window_passed")
    assert entry.summary == (
        "Monitoring window passed: 1 h since the fix; INC-2026-11-23-001 may be resolved (told Alice Admin)"
    )
    assert ("alice@example.com", "Ready to resolve: INC-2026-11-23-001 (P1)") in reminders_to(session, incident_id)


def test_two_processes_remind_once(
    sessions: sessionmaker[Session], session: Session, personas: Personas, clock: FrozenClock
) -> None:
    reachable(sessions, clock, "alice@example.com")
    ids = [declare(sessions, personas, clock) for _ in range(6)]
    clock.advance(timedelta(minutes=30))
    handled = drain_in_two_threads(sessions, Communication(batch=2), clock)
    assert handled == 6
    for incident_id in ids:
        assert len(reminders_to(session, incident_id)) == 1
        assert len(notes(session, incident_id, "update_overdue")) == 1


def test_a_p0_without_roles_does_not_page_again_for_its_customer_notice(
    sessions: sessionmaker[Session], session: Session, personas: Personas, clock: FrozenClock
) -> None:
    with sessions() as db:
        levels = [LevelSpec(300, [TargetSpec("user", "bob@example.com")])] * 2
        policies.create_policy(db, SYSTEM, clock.now(), key="api-oncall", name="API on-call", levels=levels)
        policies.set_service_policy(db, SYSTEM, clock.now(), "api", "api-oncall")
        db.commit()
    incident_id = declare(sessions, personas, clock, severity="P0", commander=None)
    with sessions() as db:
        before = db.scalar(select(models.Escalation.next_due_at).where(models.Escalation.incident_id == incident_id))
    runner(sessions, clock).cycle()  # the customer notice is owed at once
    [entry] = notes(session, incident_id, "customer_notice_overdue")
    assert "nobody holds the communications or commander role" in entry.summary
    with sessions() as db:
        after = db.scalar(select(models.Escalation.next_due_at).where(models.Escalation.incident_id == incident_id))
    assert after == before  # the declaration's paging goes on as planned, not hurried
