"""Action items: due dates by priority, status moves, the reminders they owe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from tests.conftest import Personas
from tocsin.clock import FrozenClock
from tocsin.errors import InvalidTransition, ValidationFailed
from tocsin.services import action_items, incidents
from tocsin.storage.repositories import postmortems as repo


def incident_ref(session: Session, personas: Personas, clock: FrozenClock) -> str:
    incident = incidents.declare(session, personas.bob.actor, clock.now(), title="Checkout 500s", severity="P1")
    session.commit()
    return incident.human_id


@pytest.mark.parametrize(
    ("priority", "due_in"),
    [("P0", timedelta(hours=48)), ("P1", timedelta(weeks=1)), ("P2", timedelta(weeks=2)), ("P3", timedelta(days=30))],
)
def test_action_items_are_due_by_priority(
    session: Session, personas: Personas, clock: FrozenClock, priority: str, due_in: timedelta
) -> None:
    ref = incident_ref(session, personas, clock)
    item = action_items.add(session, personas.bob.actor, clock.now(), ref, title="Fix it", priority=priority)
    assert item.due_at == clock.now() + due_in
    assert item.status == "open"


def test_a_due_date_given_overrides_the_priority(session: Session, personas: Personas, clock: FrozenClock) -> None:
    ref = incident_ref(session, personas, clock)
    due = datetime(2026, 12, 24, 12, 0, tzinfo=UTC)
    item = action_items.add(session, personas.bob.actor, clock.now(), ref, title="Fix", priority="p2", due_at=due)
    assert (item.priority, item.due_at) == ("P2", due)
    for wrong in (datetime(2026, 12, 24, 12, 0), datetime(9999, 12, 31, tzinfo=UTC)):
        with pytest.raises(ValidationFailed) as refused:
            action_items.add(session, personas.bob.actor, clock.now(), ref, title="Fix", priority="P1", due_at=wrong)
        assert refused.value.field == "due_at"
    with pytest.raises(ValidationFailed) as refused:
        action_items.add(session, personas.bob.actor, clock.now(), ref, title="Fix", priority="P9")
    assert refused.value.field == "priority"
    with pytest.raises(ValidationFailed) as refused:
        action_items.add(session, personas.bob.actor, clock.now(), ref, title="Fix", priority="P1", owner="nobody@x")
    assert refused.value.field == "owner"


def test_it_plans_reminders_before_due_when_overdue_and_for_p0_p1_an_escalation(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    ref = incident_ref(session, personas, clock)
    p1 = action_items.add(session, personas.bob.actor, clock.now(), ref, title="Alert on 5xx", priority="P1")
    p3 = action_items.add(session, personas.bob.actor, clock.now(), ref, title="Tidy the runbook", priority="P3")
    session.flush()
    planned = {(r.kind, r.due_at) for r in repo.reminders_of(session, p1.id)}
    assert planned == {
        ("due_soon", p1.due_at - timedelta(hours=24)),
        ("overdue", p1.due_at),
        ("escalation", p1.due_at + timedelta(hours=24)),
    }
    assert {r.kind for r in repo.reminders_of(session, p3.id)} == {"due_soon", "overdue"}


def test_finishing_cancels_reminders_and_reopening_plans_them_again(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    ref = incident_ref(session, personas, clock)
    item = action_items.add(session, personas.bob.actor, clock.now(), ref, title="Alert on 5xx", priority="P1")
    action_items.change_status(session, personas.bob.actor, clock.now(), item, "in_progress")
    clock.advance(timedelta(days=1))
    action_items.change_status(session, personas.bob.actor, clock.now(), item, "done")
    session.flush()
    assert item.completed_at == clock.now()
    assert {r.status for r in repo.reminders_of(session, item.id)} == {"canceled"}
    with pytest.raises(InvalidTransition):
        action_items.change_status(session, personas.bob.actor, clock.now(), item, "done")
    action_items.change_status(session, personas.bob.actor, clock.now(), item, "open")
    session.flush()
    assert item.completed_at is None
    assert {r.status for r in repo.reminders_of(session, item.id)} == {"pending"}


def test_a_new_priority_moves_the_due_date_and_the_reminders(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    ref = incident_ref(session, personas, clock)
    item = action_items.add(session, personas.bob.actor, clock.now(), ref, title="Alert on 5xx", priority="P1")
    action_items.edit(session, personas.bob.actor, clock.now(), item, priority="P3")
    session.flush()
    assert item.due_at == clock.now() + timedelta(days=30)
    rows = {r.kind: r for r in repo.reminders_of(session, item.id)}
    assert rows["overdue"].due_at == item.due_at
    assert rows["escalation"].status == "canceled"


def test_listing_open_and_overdue_items(session: Session, personas: Personas, clock: FrozenClock) -> None:
    ref = incident_ref(session, personas, clock)
    actor = personas.bob.actor
    urgent = action_items.add(session, actor, clock.now(), ref, title="Urgent", priority="P0", owner=personas.bob.email)
    later = action_items.add(session, actor, clock.now(), ref, title="Later", priority="P3")
    done = action_items.add(session, actor, clock.now(), ref, title="Done", priority="P0")
    action_items.change_status(session, actor, clock.now(), done, "done")
    clock.advance(timedelta(days=3))
    open_items, total = action_items.list_items(session, clock.now())
    assert ([i.id for i in open_items], total) == ([urgent.id, later.id], 2)
    overdue, _ = action_items.list_items(session, clock.now(), overdue=True)
    assert [i.id for i in overdue] == [urgent.id]
    assert action_items.is_overdue(urgent, clock.now())
    assert not action_items.is_overdue(done, clock.now())
    mine, _ = action_items.list_items(session, clock.now(), owner=personas.bob.email, status="all")
    assert [i.id for i in mine] == [urgent.id]
    with pytest.raises(ValidationFailed):
        action_items.list_items(session, clock.now(), status="closed")
