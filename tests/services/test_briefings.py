from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import Personas
from tocsin.clock import FrozenClock
from tocsin.domain.briefings import Briefing
from tocsin.errors import ValidationFailed
from tocsin.services import briefings, contacts, incidents
from tocsin.services.actor import Actor
from tocsin.storage import models
from tocsin.storage.repositories import incidents as incidents_repo

SYSTEM = Actor.system("tests")
BRIEFING = Briefing(status="Checkout failing for 30% of users", actions_taken="Rolled back 1.4.2", hypothesis="DB pool")


def declare(session: Session, personas: Personas, clock: FrozenClock) -> models.Incident:
    incident = incidents.declare(
        session, personas.bob.actor, clock.now(), title="Checkout 500s", severity="P1", commander=personas.bob.email
    )
    session.commit()
    return incident


def test_a_handoff_with_a_briefing_is_stored_put_on_the_timeline_and_sent_to_the_new_holder(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    contacts.add_contact_method(
        session, SYSTEM, clock.now(), personas.alice.email, name="mail", kind="email", address="a@x.io", verified=True
    )
    contacts.add_rule(session, SYSTEM, clock.now(), personas.alice.email, contact_method="mail")
    incident = declare(session, personas, clock)
    incidents.assign_role(
        session, personas.bob.actor, clock.now(), incident, "commander", personas.alice.email, BRIEFING
    )
    session.commit()
    [row] = briefings.of_incident(session, incident.id)
    assert (row.status, row.actions_taken, row.hypothesis) == (BRIEFING.status, BRIEFING.actions_taken, "DB pool")
    assert row.assignment.user.email == personas.alice.email
    assert row.given_by_name == personas.bob.email
    entry = incidents_repo.timeline(session, incident.id)[-1]
    assert entry.kind == "role"
    assert entry.data["briefing"] == BRIEFING.as_json()
    assert "Hypothesis: DB pool" in entry.summary
    [sent] = session.scalars(
        select(models.Notification).where(models.Notification.idempotency_key.startswith("briefing:"))
    ).all()
    assert sent.user_id == personas.alice.actor.user_id
    assert sent.status == "pending"
    assert sent.due_at == clock.now()
    assert sent.payload["title"] == f"{incident.human_id}: you are now Incident commander"
    assert ["Hypothesis", "DB pool"] in sent.payload["fields"]


def test_a_briefing_needs_someone_to_hand_over_from_and_something_to_say(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    incident = declare(session, personas, clock)
    with pytest.raises(ValidationFailed) as refused:
        incidents.assign_role(
            session, personas.bob.actor, clock.now(), incident, "scribe", personas.alice.email, BRIEFING
        )
    assert refused.value.field == "briefing"
    assert "nobody holds" in refused.value.message
    with pytest.raises(ValidationFailed) as refused:
        incidents.assign_role(
            session, personas.bob.actor, clock.now(), incident, "commander", personas.alice.email, Briefing(" ")
        )
    assert refused.value.field == "briefing"


def test_a_handoff_without_a_briefing_still_works(session: Session, personas: Personas, clock: FrozenClock) -> None:
    incident = declare(session, personas, clock)
    incidents.assign_role(session, personas.bob.actor, clock.now(), incident, "commander", personas.alice.email)
    assert briefings.of_incident(session, incident.id) == []
