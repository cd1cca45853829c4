"""How the incident's use cases keep its communication reminders: a new severity's cadence, a
reopening, and a new alert while the fix is monitored re-opening the response."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import START, Personas
from tests.support.communication import SYSTEM
from tocsin.clock import FrozenClock
from tocsin.services import incidents, integrations
from tocsin.storage import models


def rows(sessions: sessionmaker[Session], incident_id: int) -> list[tuple[str, str, str]]:
    """(kind, status, due HH:MM) of the incident's reminders."""
    with sessions() as db:
        found = db.scalars(
            select(models.CommunicationReminder)
            .where(models.CommunicationReminder.incident_id == incident_id)
            .order_by(models.CommunicationReminder.id)
        )
        return [(r.kind, r.status, f"{r.due_at:%H:%M}") for r in found]


def declare(sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock, severity: str = "P2") -> int:
    with sessions() as db:
        incident = incidents.declare(db, personas.bob.actor, clock.now(), title="Search is slow", severity=severity)
        db.commit()
        return incident.id


def run(sessions: sessionmaker[Session], incident_id: int, what: str, *args: object, **kwargs: object) -> None:
    with sessions() as db:
        incident = db.get(models.Incident, incident_id)
        assert incident is not None
        getattr(incidents, what)(db, SYSTEM, kwargs.pop("now"), incident, *args, **kwargs)
        db.commit()


def test_a_p2_owes_an_update_every_hour_and_no_customer_notice(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    incident_id = declare(sessions, personas, clock)
    assert rows(sessions, incident_id) == [("update", "pending", "10:00")]


def test_raising_the_severity_brings_its_cadence_and_customer_notice(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    incident_id = declare(sessions, personas, clock)
    clock.advance(timedelta(minutes=10))
    run(sessions, incident_id, "post_update", "Looking into it.", now=clock.now())  # next due 10:10
    run(sessions, incident_id, "change_severity", "P0", now=clock.now())
    assert rows(sessions, incident_id) == [
        ("update", "met", "10:00"),
        ("update", "pending", "09:25"),  # 15 min after the last update
        ("customer_notice", "pending", "09:10"),  # P0: at once, so now
    ]
    run(sessions, incident_id, "change_severity", "P3", now=clock.now())
    assert [(kind, status) for kind, status, _ in rows(sessions, incident_id)] == [
        ("update", "met"),
        ("update", "canceled"),
        ("customer_notice", "canceled"),
    ]


def test_a_resolved_incident_reopened_owes_updates_again(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    incident_id = declare(sessions, personas, clock)
    run(sessions, incident_id, "change_status", "resolved", now=clock.now())
    clock.advance(timedelta(minutes=30))
    run(sessions, incident_id, "change_status", "investigating", "it is back", now=clock.now())
    assert rows(sessions, incident_id) == [("update", "canceled", "10:00"), ("update", "pending", "10:30")]


def test_a_new_alert_while_the_fix_is_monitored_reopens_the_response(
    client: TestClient, sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    with sessions() as db:
        key = integrations.create(
            db, SYSTEM, clock.now(), service_key="api", kind="native", settings={"group_window_s": 3600}
        ).key
        db.commit()
    fire = {"action": "trigger", "dedup_key": "errors", "summary": "Error rate 20%", "severity": "critical"}
    assert client.post(f"/api/v1/events/{key}", json=fire).json()["incident"] == "INC-2026-11-23-001"
    client.post(f"/api/v1/events/{key}", json={"action": "resolve", "dedup_key": "errors"})  # all clear: monitoring
    ref = "/api/v1/incidents/INC-2026-11-23-001"
    incident = client.get(ref, headers=personas.bob.headers).json()
    assert incident["status"] == "monitoring"
    assert incident["communication"]["resolvable_at"] == "2026-11-23T10:00:00Z"  # P1 watches for an hour

    clock.advance(timedelta(minutes=20))
    again = {"action": "trigger", "dedup_key": "errors-2", "summary": "Error rate 25%"}
    assert client.post(f"/api/v1/events/{key}", json=again).json()["incident"] == "INC-2026-11-23-001"
    incident = client.get(ref, headers=personas.bob.headers).json()
    assert incident["status"] == "investigating"
    assert incident["mitigated_at"] is None
    assert incident["communication"]["resolvable_at"] is None
    timeline = client.get(f"{ref}/timeline", headers=personas.bob.headers).json()
    assert [e["summary"] for e in timeline][-2:] == [
        "Alert attached: Error rate 25%",
        "Status monitoring → investigating: new alert while monitoring the fix: Error rate 25%",
    ]
    assert timeline[-1]["actor"] == "engine"
    assert timeline[-1]["at"] == (START + timedelta(minutes=20)).isoformat().replace("+00:00", "Z")
