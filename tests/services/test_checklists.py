from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import Personas
from tocsin.clock import FrozenClock
from tocsin.domain.alerts import Action, Signal
from tocsin.domain.runbooks import DEFAULT_RUNBOOK, Item, Link, Phase, Runbook
from tocsin.errors import Conflict, Forbidden, InvalidTransition, NotFound
from tocsin.services import alerts, checklists, incidents, integrations, runbooks
from tocsin.services.actor import Actor
from tocsin.storage import models
from tocsin.storage.repositories import incidents as incidents_repo

API_RUNBOOK = Runbook(
    key="api-p1",
    name="API P1",
    phases=(
        Phase("Triage", (Item("Check the API dashboard", "scribe"), Item("Tell support", "communications")), "0-5m"),
        Phase("Fix", (Item("Roll back"),)),
    ),
    links=(Link("API runbook", "https://wiki.example.com/api"),),
    services=frozenset({"api"}),
    severities=frozenset({"P1"}),
)


def declare(session: Session, personas: Personas, clock: FrozenClock, service: str = "api") -> models.Incident:
    incident = incidents.declare(
        session,
        personas.bob.actor,
        clock.now(),
        title="Checkout 500s",
        severity="P1",
        services=[service],
        commander=personas.alice.email,
    )
    session.commit()
    return incident


def test_a_declared_incident_gets_the_default_checklist_when_no_runbook_fits(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    incident = declare(session, personas, clock)
    view = checklists.view(session, incident)
    assert view is not None
    assert view.runbook_key == "default"
    assert [p.time_frame for p in view.phases] == [p.time_frame for p in DEFAULT_RUNBOOK.phases]
    assert [i.number for i in view.items] == list(range(1, len(view.items) + 1))
    assert view.done == 0


def test_the_checklist_is_a_copy_that_later_runbook_edits_leave_alone(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    runbooks.create(session, personas.alice.actor, clock.now(), API_RUNBOOK)
    incident = declare(session, personas, clock)
    runbooks.update(
        session, personas.alice.actor, clock.now(), Runbook("api-p1", "Changed", (Phase("Other", (Item("x"),)),))
    )
    runbooks.delete(session, personas.alice.actor, clock.now(), "api-p1")
    session.commit()
    view = checklists.view(session, incident)
    assert view is not None
    assert (view.runbook_key, view.runbook_name) == ("api-p1", "API P1")
    assert view.links == [{"title": "API runbook", "url": "https://wiki.example.com/api"}]
    assert [(p.name, p.time_frame, [i.text for i in p.items]) for p in view.phases] == [
        ("Triage", "0-5m", ["Check the API dashboard", "Tell support"]),
        ("Fix", "", ["Roll back"]),
    ]
    assert [i.role_key for i in view.items] == ["scribe", "communications", None]


def test_the_role_holder_ticks_and_the_tick_lands_on_the_timeline(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    runbooks.create(session, personas.alice.actor, clock.now(), API_RUNBOOK)
    incident = declare(session, personas, clock)
    incidents.assign_role(session, personas.alice.actor, clock.now(), incident, "scribe", personas.bob.email)
    clock.advance(timedelta(minutes=2))
    item = checklists.tick(session, personas.bob.actor, clock.now(), incident, "1")
    assert (item.ticked_at, item.ticked_by_name) == (clock.now(), personas.bob.email)
    entry = incidents_repo.timeline(session, incident.id)[-1]
    assert entry.kind == "checklist"
    assert entry.summary == "Ticked item 1: Check the API dashboard (0-5m)"
    assert entry.data == {
        "item": 1,
        "text": "Check the API dashboard",
        "phase": "Triage",
        "role": "scribe",
        "ticked": True,
    }
    with pytest.raises(Conflict):
        checklists.tick(session, personas.bob.actor, clock.now(), incident, 1)
    checklists.tick(session, personas.bob.actor, clock.now(), incident, 1, done=False)
    assert item.ticked_at is None
    assert item.ticked_by_name == ""
    assert incidents_repo.timeline(session, incident.id)[-1].summary.startswith("Unticked item 1")
    with pytest.raises(Conflict):
        checklists.tick(session, personas.bob.actor, clock.now(), incident, 1, done=False)


def test_someone_without_the_role_is_refused_with_the_reason(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    runbooks.create(session, personas.alice.actor, clock.now(), API_RUNBOOK)
    incident = declare(session, personas, clock)
    with pytest.raises(Forbidden) as refused:
        checklists.tick(session, personas.bob.actor, clock.now(), incident, 2)
    assert "Communications lead (nobody holds it yet)" in refused.value.message
    incidents.assign_role(session, personas.alice.actor, clock.now(), incident, "communications", personas.alice.email)
    with pytest.raises(Forbidden) as refused:
        checklists.tick(session, personas.bob.actor, clock.now(), incident, 2)
    assert "you do not hold it" in refused.value.message
    with pytest.raises(Forbidden):
        checklists.tick(session, personas.charlie.actor, clock.now(), incident, 3)


def test_the_commander_an_admin_and_for_roleless_items_any_responder_may_tick(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    runbooks.create(session, personas.alice.actor, clock.now(), API_RUNBOOK)
    incident = declare(session, personas, clock)
    checklists.tick(session, personas.bob.actor, clock.now(), incident, 3)  # no role
    incidents.assign_role(session, personas.alice.actor, clock.now(), incident, "commander", personas.bob.email)
    checklists.tick(session, personas.bob.actor, clock.now(), incident, 1)  # bob commands now
    checklists.tick(session, personas.alice.actor, clock.now(), incident, 2)  # alice's token is an admin's
    view = checklists.view(session, incident)
    assert view is not None
    assert view.done == 3


def test_an_unknown_item_or_a_canceled_incident_is_refused(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    incident = declare(session, personas, clock)
    with pytest.raises(NotFound):
        checklists.tick(session, personas.alice.actor, clock.now(), incident, 999)
    incidents.change_status(session, personas.alice.actor, clock.now(), incident, "canceled")
    with pytest.raises(InvalidTransition):
        checklists.tick(session, personas.alice.actor, clock.now(), incident, 1)


def test_an_incident_an_alert_declares_gets_the_checklist_of_its_service_and_severity(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    runbooks.create(session, personas.alice.actor, clock.now(), API_RUNBOOK)
    created = integrations.create(session, Actor.system(), clock.now(), service_key="api", kind="native")
    session.commit()
    ref = integrations.find_by_key(session, created.key)
    assert ref is not None
    signal = Signal(action=Action.TRIGGER, dedup_key="db-down", summary="DB down", severity="critical")  # → P1
    alerts.ingest(session, clock.now(), ref, [signal])
    session.commit()
    [incident] = session.scalars(select(models.Incident)).all()
    assert incident.severity == "P1"
    view = checklists.view(session, incident)
    assert view is not None
    assert view.runbook_key == "api-p1"
