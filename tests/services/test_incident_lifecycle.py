"""A stateful property test: random walks through the response, against the database."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy.orm import Session

from tests.conftest import Personas
from tocsin.clock import FrozenClock
from tocsin.domain.incidents import IncidentStatus, can_transition
from tocsin.errors import InvalidTransition
from tocsin.services import incidents
from tocsin.storage.repositories import incidents as repo
from tocsin.storage.repositories import targets as targets_repo


def test_random_walks_keep_milestones_timeline_and_targets_consistent(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    class Lifecycle(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.incident = incidents.declare(
                session, personas.bob.actor, clock.now(), title="walk", severity="P1", services=["api"]
            )
            self.status = IncidentStatus.TRIGGERED
            self.entries = 1
            self.ever_acknowledged = False

        @rule(to=st.sampled_from(list(IncidentStatus)), minutes=st.integers(min_value=0, max_value=90))
        def move(self, to: IncidentStatus, minutes: int) -> None:
            clock.advance(timedelta(minutes=minutes))
            allowed = can_transition(self.status, to) and not (
                to == IncidentStatus.ACKNOWLEDGED and self.ever_acknowledged
            )
            try:
                incidents.change_status(session, personas.bob.actor, clock.now(), self.incident, to.value)
            except InvalidTransition:
                assert not allowed
                return
            assert allowed
            self.status = to
            self.entries += 1
            if to not in (IncidentStatus.TRIGGERED, IncidentStatus.CANCELED):
                self.ever_acknowledged = True

        @invariant()
        def consistent(self) -> None:
            incident = self.incident
            assert incident.status == self.status.value
            assert (incident.acknowledged_at is not None) == self.ever_acknowledged
            assert (incident.resolved_at is not None) == (self.status == IncidentStatus.RESOLVED)
            assert (incident.canceled_at is not None) == (self.status == IncidentStatus.CANCELED)
            if self.status in (IncidentStatus.MONITORING, IncidentStatus.RESOLVED):
                assert incident.mitigated_at is not None
            assert len(repo.timeline(session, incident.id)) == self.entries
            statuses = {t.kind: t.status for t in targets_repo.targets_for(session, incident.id)}
            if self.status == IncidentStatus.CANCELED:
                assert set(statuses.values()) <= {"canceled", "met"}
            if self.status == IncidentStatus.RESOLVED:
                assert statuses["resolve"] == "met"
            if self.ever_acknowledged:
                assert statuses["acknowledge"] in ("met", "canceled")

    run_state_machine_as_test(Lifecycle, settings=settings(max_examples=25, stateful_step_count=12, deadline=None))
