"""Drills run end to end through the real pipeline: the scenario's payloads are parsed by the
integrations, ingested, declared as a drill incident and paged; the response is measured."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tocsin.clock import FrozenClock
from tocsin.domain.alerts import Action, Signal
from tocsin.domain.drills import Milestone, Scenario, Verdict
from tocsin.errors import Conflict, NotFound, ValidationFailed
from tocsin.services import alerts, channel_posts, channels, contacts, drills, escalation_steps, incidents, policies
from tocsin.services import integrations as integration_service
from tocsin.services.actor import Actor
from tocsin.services.channels import RouteSpec
from tocsin.services.policies import LevelSpec, TargetSpec
from tocsin.storage import models

SYSTEM = Actor.system("tests")
PUBLIC_URL = "https://tocsin.example"


def on_call(sessions: sessionmaker[Session], clock: FrozenClock, service: str = "api") -> None:
    """Bob is on call for the service, paged on Discord."""
    with sessions() as db:
        now = clock.now()
        contacts.add_contact_method(
            db, SYSTEM, now, "bob@example.com", name="chat", kind="discord",
            address="https://discord.com/api/webhooks/1/bob", verified=True, high_urgency=True,
        )  # fmt: skip
        contacts.add_rule(db, SYSTEM, now, "bob@example.com", contact_method="chat", delay_s=0)
        levels = [LevelSpec(600, [TargetSpec("user", "bob@example.com")])]
        policies.create_policy(db, SYSTEM, now, key=f"{service}-ladder", levels=levels)
        policies.set_service_policy(db, SYSTEM, now, service, f"{service}-ladder")
        db.commit()


def start(sessions: sessionmaker[Session], clock: FrozenClock, actor: Actor, scenario: str, **extra: str) -> int:
    with sessions() as db:
        drill = drills.start(db, actor, clock.now(), scenario=scenario, **extra)
        db.commit()
        return drill.id


def engine_cycle(sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    with sessions() as db:
        escalation_steps.due(db, clock.now(), 100, public_url=PUBLIC_URL)
        db.commit()


def act(sessions: sessionmaker[Session], clock: FrozenClock, bob: Actor, minutes: int, what: str, *args: str) -> None:
    """Bob responds to the one drill's incident, `minutes` after the last step."""
    clock.advance(timedelta(minutes=minutes))
    with sessions() as db:
        [drill] = drills.list_drills(db)
        incident = drill.incident
        assert incident is not None
        if what == "status":
            incidents.change_status(db, bob, clock.now(), incident, args[0])
        elif what == "role":
            incidents.assign_role(db, bob, clock.now(), incident, args[0], args[1])
        else:
            incidents.post_update(db, bob, clock.now(), incident, args[0])
        db.commit()


def test_a_database_outage_drill_runs_end_to_end_and_its_report_measures_the_response(
    sessions: sessionmaker[Session], clock: FrozenClock, personas: Personas
) -> None:
    on_call(sessions, clock)
    drill_id = start(sessions, clock, personas.alice.actor, "database-outage")

    with sessions() as db:
        drill = drills.get(db, drill_id)
        incident = drill.incident
        assert incident is not None
        assert (drill.scenario, drill.service.key, drill.state, drill.started_by) == (
            "database-outage", "api", "running", "alice@example.com",
        )  # fmt: skip
        assert incident.drill is True
        assert incident.severity == "P1"  # Alertmanager's "critical"
        assert incident.title == "DRILL: PostgreSQL primary for api is down"
        drill_alerts = db.scalars(select(models.Alert).where(models.Alert.incident_id == incident.id)).all()
        assert len(drill_alerts) == 2
        assert all(alert.labels["tocsin_drill"] == str(drill_id) for alert in drill_alerts)
        assert {alert.labels["alertname"] for alert in drill_alerts} == {"PostgresDown", "HighErrorRate"}
        assert all(alert.integration.kind == "drill" for alert in drill_alerts)

    # The engine pages the on-call person, as for a real incident.
    engine_cycle(sessions, clock)
    with sessions() as db:
        [page] = db.scalars(select(models.Notification).where(models.Notification.kind == "page")).all()
        assert page.user_id == db.scalar(select(models.User.id).where(models.User.email == "bob@example.com"))
        assert page.payload["title"].startswith("DRILL: ")

    act(sessions, clock, personas.bob.actor, 4, "status", "acknowledged")
    act(sessions, clock, personas.bob.actor, 3, "role", "commander", "bob@example.com")
    act(sessions, clock, personas.bob.actor, 10, "update", "We fail over to the replica.")
    act(sessions, clock, personas.bob.actor, 23, "status", "monitoring")
    act(sessions, clock, personas.bob.actor, 60, "status", "resolved")

    with sessions() as db:
        assert drills.sync(db, clock.now()) == 1
        db.commit()
    with sessions() as db:
        drill = drills.get(db, drill_id)
        assert (drill.state, drill.finished_at) == ("finished", clock.now())
        firing = db.scalars(select(models.Alert).where(models.Alert.status == "firing")).all()
        assert firing == []
        report = drills.report(db, drill, clock.now())
    assert report is not None
    measured = {m.milestone: (m.took, m.target, m.verdict) for m in report.measures}
    assert measured == {
        Milestone.ACKNOWLEDGE: (timedelta(minutes=4), timedelta(minutes=15), Verdict.MET),
        Milestone.DECLARE: (timedelta(0), timedelta(minutes=15), Verdict.MET),
        Milestone.COMMANDER: (timedelta(minutes=7), timedelta(minutes=15), Verdict.MET),
        Milestone.FIRST_UPDATE: (timedelta(minutes=17), timedelta(minutes=30), Verdict.MET),
        Milestone.MITIGATE: (timedelta(minutes=40), timedelta(hours=4), Verdict.MET),
    }


@pytest.mark.parametrize("scenario", [s.value for s in Scenario])
def test_every_scenario_declares_a_drill_incident_through_its_own_format(
    sessions: sessionmaker[Session], clock: FrozenClock, personas: Personas, scenario: str
) -> None:
    on_call(sessions, clock)
    drill_id = start(sessions, clock, personas.bob.actor, scenario)
    with sessions() as db:
        incident = drills.get(db, drill_id).incident
        assert incident is not None
        assert incident.drill
        sources = set(db.scalars(select(models.Alert.source).where(models.Alert.incident_id == incident.id)))
    expected = {
        "database-outage": {"db-primary:9187", "api:8080"},
        "payment-provider-outage": {"uptime-check-eu-1", "tocsin"},
        "auth-broken": {"sentry"},
        "bad-deploy": {"github", "tocsin"},
    }
    assert sources == expected[scenario]


def test_a_real_alert_during_a_drill_opens_its_own_real_incident_and_a_drill_never_joins_it(
    sessions: sessionmaker[Session], clock: FrozenClock, personas: Personas
) -> None:
    on_call(sessions, clock)
    with sessions() as db:
        created = integration_service.create(db, SYSTEM, clock.now(), service_key="api", kind="native")
        real_door = integration_service.IntegrationRef.of(created.row)
        db.commit()
    first = start(sessions, clock, personas.bob.actor, "database-outage")
    clock.advance(timedelta(minutes=1))
    with sessions() as db:
        [outcome] = alerts.ingest(
            db, clock.now(), real_door,
            [Signal(Action.TRIGGER, "real-db", summary="Real: database slow", severity="critical")],
        )  # fmt: skip
        db.commit()
    assert outcome.opened
    # A second drill during the real incident opens a drill incident of its own too.
    clock.advance(timedelta(minutes=1))
    second = start(sessions, clock, personas.bob.actor, "database-outage")
    with sessions() as db:
        real = incidents.get(db, outcome.incident or "")
        one, two = (drills.get(db, d).incident for d in (first, second))
        assert one is not None
        assert two is not None
        assert real.drill is False
        assert len({real.id, one.id, two.id}) == 3
        attached = db.scalars(select(models.Alert.dedup_key).where(models.Alert.incident_id == real.id)).all()
        assert attached == ["real-db"]


def test_stopping_a_drill_cancels_its_incident_and_its_paging(
    sessions: sessionmaker[Session], clock: FrozenClock, personas: Personas
) -> None:
    on_call(sessions, clock)
    drill_id = start(sessions, clock, personas.bob.actor, "bad-deploy")
    clock.advance(timedelta(minutes=20))
    with sessions() as db:
        drill = drills.stop(db, personas.bob.actor, clock.now(), drill_id)
        db.commit()
        assert (drill.state, drill.finished_at) == ("canceled", clock.now())
        assert drill.incident is not None
        assert drill.incident.status == "canceled"
        escalation = db.scalar(select(models.Escalation).where(models.Escalation.incident_id == drill.incident.id))
        assert escalation is not None
        assert escalation.status != "active"
        report = drills.report(db, drill, clock.now())
    assert report is not None
    verdicts = {m.milestone: m.verdict for m in report.measures}
    # P2 (a failed deploy is an "error"): acknowledging within 60 minutes was still possible.
    assert verdicts[Milestone.ACKNOWLEDGE] == Verdict.NOT_REACHED
    assert verdicts[Milestone.DECLARE] == Verdict.MET
    with sessions() as db, pytest.raises(Conflict):
        drills.stop(db, personas.bob.actor, clock.now(), drill_id)


def test_a_drill_incident_is_posted_to_channels_as_a_drill(
    sessions: sessionmaker[Session], clock: FrozenClock, personas: Personas
) -> None:
    on_call(sessions, clock)
    with sessions() as db:
        channels.create_channel(
            db, SYSTEM, clock.now(), name="alerts", kind="discord", address="https://discord.com/api/webhooks/1/a",
            routes=[RouteSpec(["incident.*"])],
        )  # fmt: skip
        db.commit()
    start(sessions, clock, personas.bob.actor, "auth-broken")
    with sessions() as db:
        channel_posts.post_due(db, clock.now(), public_url=PUBLIC_URL)
        db.commit()
        posts = db.scalars(select(models.Notification).where(models.Notification.kind == "post")).all()
    assert posts
    assert {post.payload["title"] for post in posts} == {
        "DRILL: New crash in api: InvalidSignatureError: Signature verification failed: no key matches kid 'k-2026-12'"
    }
    assert all(post.payload["text"].startswith("DRILL, not a real incident.") for post in posts)
    assert all(post.payload["drill"] for post in posts)


def test_bad_input_is_refused_naming_the_field(
    sessions: sessionmaker[Session], clock: FrozenClock, personas: Personas
) -> None:
    with sessions() as db:
        with pytest.raises(ValidationFailed) as no_policy:
            drills.start(db, personas.bob.actor, clock.now(), scenario="database-outage")
        assert no_policy.value.field == "service"
        with pytest.raises(ValidationFailed) as unknown:
            drills.start(db, personas.bob.actor, clock.now(), scenario="fire-in-the-datacenter", service_key="api")
        assert unknown.value.field == "scenario"
        with pytest.raises(NotFound):
            drills.start(db, personas.bob.actor, clock.now(), scenario="bad-deploy", service_key="nope")
        with pytest.raises(NotFound):
            drills.get(db, 999)


def test_without_a_named_service_the_first_with_an_escalation_policy_is_drilled(
    sessions: sessionmaker[Session], clock: FrozenClock, personas: Personas
) -> None:
    on_call(sessions, clock, service="web")
    drill_id = start(sessions, clock, personas.bob.actor, "payment-provider-outage")
    with sessions() as db:
        assert drills.get(db, drill_id).service.key == "web"
