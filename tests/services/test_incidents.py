from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tocsin.clock import FrozenClock
from tocsin.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from tocsin.services import incidents
from tocsin.storage.models import TimelineEntry
from tocsin.storage.repositories import incidents as repo
from tocsin.storage.repositories import targets as targets_repo


def kinds(session: Session, incident_id: int) -> list[str]:
    return [e.kind for e in repo.timeline(session, incident_id)]


def declare(session: Session, personas: Personas, clock: FrozenClock, **kwargs: object) -> int:
    options: dict[str, object] = {"title": "Checkout 500s", "severity": "P1", "services": ["api"], **kwargs}
    incident = incidents.declare(session, personas.bob.actor, clock.now(), **options)  # type: ignore[arg-type]
    session.commit()
    return incident.id


def test_it_numbers_incidents_per_day(session: Session, personas: Personas, clock: FrozenClock) -> None:
    first = incidents.declare(session, personas.bob.actor, clock.now(), title="a", severity="P2")
    second = incidents.declare(session, personas.bob.actor, clock.now(), title="b", severity="P2")
    clock.advance(timedelta(days=1))
    third = incidents.declare(session, personas.bob.actor, clock.now(), title="c", severity="P2")
    assert [first.human_id, second.human_id, third.human_id] == [
        "INC-2026-11-23-001",
        "INC-2026-11-23-002",
        "INC-2026-11-24-001",
    ]


def test_declaring_records_who_and_what_on_the_timeline(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    incident_id = declare(session, personas, clock, impact="Customers cannot pay")
    [entry] = repo.timeline(session, incident_id)
    assert entry.kind == "declared"
    assert entry.actor_name == personas.bob.email
    assert entry.actor_id == personas.bob.actor.user_id
    assert entry.data == {"severity": "P1", "services": ["api"], "drill": False, "impact": "Customers cannot pay"}
    targets = {t.kind: t.due_at for t in targets_repo.targets_for(session, incident_id)}
    assert targets == {"acknowledge": clock.now() + timedelta(minutes=15), "resolve": clock.now() + timedelta(hours=4)}


def test_an_unknown_severity_names_the_field_and_the_levels(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        incidents.declare(session, personas.bob.actor, clock.now(), title="x", severity="SEV1")
    assert caught.value.field == "severity"
    assert "P0, P1, P2, P3" in caught.value.message


def test_an_unknown_service_is_refused_and_nothing_is_written(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        incidents.declare(session, personas.bob.actor, clock.now(), title="x", severity="P1", services=["nope"])
    assert caught.value.field == "services"
    session.rollback()
    assert session.scalar(select(func.count()).select_from(TimelineEntry)) == 0


def test_acknowledging_meets_the_acknowledge_target(session: Session, personas: Personas, clock: FrozenClock) -> None:
    incident = incidents.get(session, str(declare(session, personas, clock)))
    clock.advance(timedelta(minutes=3))
    incidents.change_status(session, personas.bob.actor, clock.now(), incident, "acknowledged")
    session.commit()
    assert incident.acknowledged_at == clock.now()
    statuses = {t.kind: t.status for t in targets_repo.targets_for(session, incident.id)}
    assert statuses == {"acknowledge": "met", "resolve": "pending"}
    with pytest.raises(InvalidTransition, match="already acknowledged"):
        incidents.change_status(session, personas.bob.actor, clock.now(), incident, "acknowledged")


def test_skipping_straight_to_resolved_stamps_every_milestone(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    incident = incidents.get(session, str(declare(session, personas, clock)))
    clock.advance(timedelta(minutes=2))
    incidents.change_status(session, personas.bob.actor, clock.now(), incident, "resolved", "false positive in LB")
    assert incident.acknowledged_at == incident.mitigated_at == incident.resolved_at == clock.now()
    statuses = {t.kind: t.status for t in targets_repo.targets_for(session, incident.id)}
    assert statuses == {"acknowledge": "met", "resolve": "met"}
    last = repo.timeline(session, incident.id)[-1]
    assert last.summary == "Status triggered → resolved: false positive in LB"


def test_moving_back_is_refused_with_the_reason_and_changes_nothing(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    incident = incidents.get(session, str(declare(session, personas, clock)))
    incidents.change_status(session, personas.bob.actor, clock.now(), incident, "identified")
    session.commit()
    with pytest.raises(InvalidTransition, match="cannot move back from identified to investigating"):
        incidents.change_status(session, personas.bob.actor, clock.now(), incident, "investigating")
    session.rollback()
    assert kinds(session, incident.id) == ["declared", "status"]


def test_an_unknown_status_lists_the_valid_ones(session: Session, personas: Personas, clock: FrozenClock) -> None:
    incident = incidents.get(session, str(declare(session, personas, clock)))
    with pytest.raises(ValidationFailed, match="expected one of triggered, acknowledged") as caught:
        incidents.change_status(session, personas.bob.actor, clock.now(), incident, "fixed")
    assert caught.value.field == "status"


def test_canceling_cancels_the_pending_targets(session: Session, personas: Personas, clock: FrozenClock) -> None:
    incident = incidents.get(session, str(declare(session, personas, clock)))
    incidents.change_status(session, personas.bob.actor, clock.now(), incident, "canceled", "false alarm")
    assert incident.canceled_at == clock.now()
    assert {t.status for t in targets_repo.targets_for(session, incident.id)} == {"canceled"}
    with pytest.raises(InvalidTransition, match="canceled incident cannot change status"):
        incidents.change_status(session, personas.bob.actor, clock.now(), incident, "resolved")


def test_reopening_owes_a_resolution_again(session: Session, personas: Personas, clock: FrozenClock) -> None:
    incident = incidents.get(session, str(declare(session, personas, clock)))
    incidents.change_status(session, personas.bob.actor, clock.now(), incident, "resolved")
    clock.advance(timedelta(minutes=10))
    incidents.change_status(session, personas.bob.actor, clock.now(), incident, "investigating", "errors are back")
    assert incident.resolved_at is None
    assert incident.mitigated_at is None
    resolve = next(t for t in targets_repo.targets_for(session, incident.id) if t.kind == "resolve")
    assert resolve.status == "pending"
    assert resolve.due_at == incident.declared_at + timedelta(hours=4)


def test_a_role_hand_off_keeps_who_held_it_when(session: Session, personas: Personas, clock: FrozenClock) -> None:
    incident = incidents.get(session, str(declare(session, personas, clock, commander=personas.alice.email)))
    clock.advance(timedelta(minutes=30))
    incidents.assign_role(session, personas.alice.actor, clock.now(), incident, "commander", personas.bob.email)
    session.commit()
    history = [(a.user.email, a.assigned_at, a.released_at) for a in incident.roles]
    start = clock.now() - timedelta(minutes=30)
    assert history == [
        (personas.alice.email, start, clock.now()),
        (personas.bob.email, clock.now(), None),
    ]
    last = repo.timeline(session, incident.id)[-1]
    assert last.kind == "role"
    assert last.data == {"role": "commander", "from": personas.alice.email, "to": personas.bob.email}
    with pytest.raises(Conflict, match="already holds"):
        incidents.assign_role(session, personas.alice.actor, clock.now(), incident, "commander", personas.bob.email)


def test_an_unknown_role_lists_the_configured_ones(session: Session, personas: Personas, clock: FrozenClock) -> None:
    incident = incidents.get(session, str(declare(session, personas, clock)))
    with pytest.raises(ValidationFailed, match="roles are commander, communications, scribe, ops, dev"):
        incidents.assign_role(session, personas.bob.actor, clock.now(), incident, "boss", personas.bob.email)


def test_a_severity_change_moves_the_pending_targets(session: Session, personas: Personas, clock: FrozenClock) -> None:
    incident = incidents.get(session, str(declare(session, personas, clock, severity="P2")))
    clock.advance(timedelta(minutes=4))
    incidents.change_severity(session, personas.bob.actor, clock.now(), incident, "P0", "all regions down")
    due = {t.kind: t.due_at for t in targets_repo.targets_for(session, incident.id)}
    assert due == {
        "acknowledge": incident.declared_at + timedelta(minutes=5),
        "resolve": incident.declared_at + timedelta(hours=1),
    }
    entry = repo.timeline(session, incident.id)[-1]
    assert (entry.kind, entry.summary) == ("severity", "Severity P2 → P0: all regions down")


def test_lowering_to_a_level_without_targets_cancels_them(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    incident = incidents.get(session, str(declare(session, personas, clock)))
    from tocsin.storage.models import SeverityLevel

    p3 = session.scalars(select(SeverityLevel).where(SeverityLevel.name == "P3")).one()
    p3.ack_within_s = None
    session.flush()
    incidents.change_severity(session, personas.bob.actor, clock.now(), incident, "P3")
    statuses = {t.kind: t.status for t in targets_repo.targets_for(session, incident.id)}
    assert statuses == {"acknowledge": "canceled", "resolve": "pending"}


def test_notes_updates_and_edits_land_on_the_timeline(session: Session, personas: Personas, clock: FrozenClock) -> None:
    incident = incidents.get(session, str(declare(session, personas, clock)))
    incidents.add_note(session, personas.bob.actor, clock.now(), incident, "Rolled back deploy 1432")
    incidents.post_update(session, personas.bob.actor, clock.now(), incident, "We are investigating", public=True)
    incidents.edit(session, personas.bob.actor, clock.now(), incident, title="Checkout fails", services=["api", "web"])
    session.commit()
    entries = repo.timeline(session, incident.id)
    assert [(e.kind, e.summary) for e in entries[1:]] == [
        ("note", "Rolled back deploy 1432"),
        ("update", "We are investigating"),
        ("field", "Title changed"),
        ("field", "Services changed"),
    ]
    assert entries[2].data == {"public": True}
    assert [s.key for s in incident.services] == ["api", "web"]
    with pytest.raises(ValidationFailed):
        incidents.add_note(session, personas.bob.actor, clock.now(), incident, "   ")


def test_finding_an_incident_by_either_id(session: Session, personas: Personas, clock: FrozenClock) -> None:
    incident_id = declare(session, personas, clock)
    assert incidents.get(session, "INC-2026-11-23-001").id == incident_id
    assert incidents.get(session, str(incident_id)).id == incident_id
    with pytest.raises(NotFound):
        incidents.get(session, "INC-2026-11-23-999")
    for not_an_id in ("checkout", "¹", "9" * 30):
        with pytest.raises(NotFound):
            incidents.get(session, not_an_id)


def test_concurrent_declarations_never_share_an_id(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    ids: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            for _ in range(5):
                with sessions() as db:
                    incident = incidents.declare(db, personas.bob.actor, clock.now(), title="storm", severity="P3")
                    db.commit()
                    with lock:
                        ids.append(incident.human_id)
        except BaseException as exc:  # surfaced below; a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(ids) == [f"INC-2026-11-23-{n:03d}" for n in range(1, 31)]


_days = itertools.count()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(min_value=0, max_value=2), min_size=1, max_size=12))
def test_each_day_counts_from_one_without_gaps(session: Session, personas: Personas, offsets: list[int]) -> None:
    # A fresh stretch of days per example, so examples do not see each other's counters.
    base = datetime(2100, 1, 1, 12, tzinfo=UTC) + timedelta(days=4 * next(_days))
    seen: dict[int, list[int]] = {}
    for offset in offsets:
        incident = incidents.declare(
            session, personas.bob.actor, base + timedelta(days=offset), title="t", severity="P3"
        )
        seen.setdefault(offset, []).append(int(incident.human_id.rsplit("-", 1)[1]))
    session.commit()
    for numbers in seen.values():
        assert numbers == list(range(1, len(numbers) + 1))
