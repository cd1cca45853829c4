"""The readiness audit from the database, on SQLite and PostgreSQL: a setup built piece by
piece, and the scores moving as each piece lands."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from tests.conftest import Personas
from tocsin.clock import FrozenClock
from tocsin.errors import NotFound
from tocsin.services import incidents, readiness
from tocsin.services.actor import Actor
from tocsin.storage import models


def scores(session: Session, clock: FrozenClock, team: str | None = None) -> dict[str, int | None]:
    return {c.key: c.score for c in readiness.audit(session, clock.now(), team).components}


def service(session: Session, key: str) -> models.Service:
    return session.query(models.Service).filter_by(key=key).one()


def user(session: Session, email: str) -> models.User:
    return session.query(models.User).filter_by(email=email).one()


def add_policy(session: Session, clock: FrozenClock, targets: list[dict[str, str]]) -> models.EscalationPolicy:
    policy = models.EscalationPolicy(key=f"p{uuid.uuid4().hex[:6]}", name="Policy", created_at=clock.now())
    policy.levels = [models.EscalationLevel(position=0, delay_s=300, targets=targets)]
    session.add(policy)
    session.flush()
    return policy


def add_schedule(session: Session, clock: FrozenClock, participants: list[str], hours: tuple[str, str] | None) -> None:
    """A weekly rotation, around the clock or only within `hours` every day."""
    schedule = models.Schedule(key="primary", name="Primary", time_zone="UTC", created_at=clock.now())
    restrictions = (
        []
        if hours is None
        else [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": hours[0], "end": hours[1]}]
    )
    schedule.layers = [
        models.ScheduleLayer(
            position=0,
            name="weekly",
            kind="weekly",
            every=1,
            start="2026-11-01T09:00:00",
            time_zone="UTC",
            participants=participants,
            restrictions=restrictions,
        )
    ]
    session.add(schedule)
    session.flush()


def test_an_empty_setup_scores_low_and_each_piece_moves_its_score(
    session: Session, clock: FrozenClock, personas: Personas
) -> None:
    before = scores(session, clock)
    assert before["escalation_policies"] == 0
    assert before["on_call_coverage"] == 0
    assert before["health_checks"] == 0
    assert before["runbooks"] == 0
    assert before["postmortems_on_time"] is None  # nothing fell due: left out of the total
    first = readiness.audit(session, clock.now())
    assert first.total < 10
    assert first.next_steps[0].component in ("escalation_policies", "on_call_coverage", "on_call_reachable")

    # A policy on one of the two services (api, web), paging a schedule on call 08:00-20:00 only.
    policy = add_policy(session, clock, [{"kind": "schedule", "key": "primary"}])
    service(session, "api").escalation_policy_id = policy.id
    add_schedule(session, clock, ["alice@example.com", "bob@example.com"], ("08:00", "20:00"))
    session.flush()
    moved = scores(session, clock)
    assert moved["escalation_policies"] == 50
    assert moved["on_call_coverage"] == 50  # 12 of 24 hours
    assert moved["on_call_reachable"] == 0  # alice and bob, neither verified

    # Around the clock, the policy on both services, and Alice's verified e-mail.
    session.query(models.ScheduleLayer).one().restrictions = []
    service(session, "web").escalation_policy_id = policy.id
    session.add(
        models.ContactMethod(
            user_id=user(session, "alice@example.com").id,
            name="work",
            kind="email",
            address="alice@example.com",
            verified=True,
            created_at=clock.now(),
        )
    )
    session.flush()
    better = scores(session, clock)
    assert (better["escalation_policies"], better["on_call_coverage"], better["on_call_reachable"]) == (100, 100, 50)
    assert readiness.audit(session, clock.now()).total > first.total


def test_signals_score_when_they_are_set_up_and_arriving(
    session: Session, clock: FrozenClock, personas: Personas
) -> None:
    api = service(session, "api")
    session.add(
        models.Check(
            service_id=api.id,
            name="api-health",
            kind="http",
            spec={"url": "https://api.example.com/healthz"},
            interval_s=60,
            timeout_s=10,
            failures_before_down=2,
            successes_before_up=1,
            status="up",
            created_at=clock.now(),
        )
    )
    session.add(
        models.Heartbeat(
            uuid=str(uuid.uuid4()),
            service_id=api.id,
            name="nightly-backup",
            period_s=86400,
            grace_s=3600,
            status="down",
            created_at=clock.now(),
        )
    )
    channel = models.Channel(
        name="alerts", kind="webhook", address="https://hooks.example.com/x", created_at=clock.now()
    )
    channel.routes = [models.ChannelRoute(events=["ci.failure", "deploy.failed"], created_at=clock.now())]
    github = models.Integration(
        service_id=api.id,
        kind="github",
        name="api repo",
        key_hash="a" * 64,
        key_prefix="abc",
        settings={"failures_in_a_row": 0, "failures_in_window": 0},
        created_at=clock.now(),
    )
    session.add_all([channel, github])
    session.flush()
    got = scores(session, clock)
    assert got["health_checks"] == 50  # api, not web
    assert got["heartbeats"] == 0  # one, down
    assert got["failure_notifications"] == 80  # both routed, GitHub set up but silent
    assert got["repeated_failure_alerts"] == 0  # both thresholds turned off
    assert got["crash_reporting"] == 0

    session.add(
        models.GithubDelivery(integration_id=github.id, delivery_id="d1", event="workflow_run", received_at=clock.now())
    )
    github.settings = {"failures_in_a_row": 3}
    session.query(models.Heartbeat).one().status = "up"
    session.flush()
    got = scores(session, clock)
    assert (got["failure_notifications"], got["repeated_failure_alerts"], got["heartbeats"]) == (100, 100, 100)

    # Eight days later the webhook has gone quiet.
    clock.advance(timedelta(days=8))
    assert scores(session, clock)["failure_notifications"] == 80


def test_a_team_audit_counts_only_its_services(session: Session, clock: FrozenClock, personas: Personas) -> None:
    session.add(models.Team(key="data", name="Data", created_at=clock.now()))
    session.flush()
    audit = readiness.audit(session, clock.now(), "data")
    assert audit.team == "data"
    escalation = next(c for c in audit.components if c.key == "escalation_policies")
    assert escalation.evidence == ["no services"]
    with pytest.raises(NotFound):
        readiness.audit(session, clock.now(), "nope")


def test_runbooks_postmortems_and_action_items_move_their_scores(
    session: Session, clock: FrozenClock, personas: Personas
) -> None:
    now = clock.now()
    session.add(models.Runbook(key="api-outage", name="API outage", services=["api"], created_at=now, updated_at=now))
    first, second, drill = (
        incidents.declare(session, Actor.system("tests"), now, title=title, severity="P1", services=["api"], drill=d)
        for title, d in (("Checkout 500s", False), ("Login slow", False), ("Practice", True))
    )
    day = timedelta(days=1)
    session.add_all(
        [
            # Due yesterday, published two hours before; due two days ago, still a draft.
            models.Postmortem(
                incident_id=first.id,
                status="published",
                due_at=now - day,
                published_at=now - day - timedelta(hours=2),
                created_at=now,
                updated_at=now,
            ),
            models.Postmortem(
                incident_id=second.id, status="draft", due_at=now - 2 * day, created_at=now, updated_at=now
            ),
            models.Postmortem(incident_id=drill.id, status="draft", due_at=now - day, created_at=now, updated_at=now),
        ]
    )
    for status, due, completed in (
        ("done", now - day, now - 2 * day),  # on time
        ("done", now - 2 * day, now - day),  # late, still closed
        ("open", now - day, None),  # overdue
        ("wont_do", now - day, now - day),  # left out
        ("open", now + day, None),  # not due yet
    ):
        session.add(
            models.ActionItem(
                incident_id=first.id,
                title="Add a retry",
                priority="P1",
                status=status,
                due_at=due,
                completed_at=completed,
                created_at=now - 3 * day,
                updated_at=now,
            )
        )
    session.flush()

    got = scores(session, clock)
    assert got["runbooks"] == 50  # api, not web
    assert got["postmortems_on_time"] == 50  # the drill's is left out
    assert got["action_items_closed"] == 66  # 2 of 3 due
    web_only = readiness.audit(session, now, "platform")
    assert {c.key: c.score for c in web_only.components}["postmortems_on_time"] == 50
