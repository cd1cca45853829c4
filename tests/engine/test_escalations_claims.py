from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.services.test_escalations import PUBLIC_URL, declare, seed
from tests.support.claims import drain_in_two_threads
from tocsin.clock import FrozenClock
from tocsin.engine.escalations import Escalations
from tocsin.services import escalation_steps
from tocsin.storage.models import Notification, TimelineEntry


def test_two_claimers_racing_page_each_step_exactly_once(
    sessions: sessionmaker[Session], session: Session, personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock)
    ids = [declare(sessions, personas, clock) for _ in range(20)]
    # The module itself, without the lease, in two threads with tiny batches: the
    # claims alone must keep a step from being paged twice.
    module = Escalations(PUBLIC_URL, batch=3)
    assert drain_in_two_threads(sessions, module, clock) == 20
    per_incident = {
        incident_id: count
        for incident_id, count in session.execute(
            select(Notification.incident_id, func.count()).group_by(Notification.incident_id)
        )
    }
    paged_entries = {
        incident_id: count
        for incident_id, count in session.execute(
            select(TimelineEntry.incident_id, func.count())
            .where(TimelineEntry.summary.startswith("Paged "))
            .group_by(TimelineEntry.incident_id)
        )
    }
    session.commit()
    assert per_incident == {incident_id: 2 for incident_id in ids}
    assert paged_entries == {incident_id: 1 for incident_id in ids}


def _pages_per_incident(session: Session) -> dict[int, int]:
    rows = session.execute(select(Notification.incident_id, func.count()).group_by(Notification.incident_id))
    found = {incident_id: count for incident_id, count in rows if incident_id is not None}
    session.commit()
    return found


def test_on_postgresql_a_backlog_is_paged_by_two_transactions_at_once_each_step_once(
    sessions: sessionmaker[Session],
    session: Session,
    personas: Personas,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed(sessions, clock)
    ids = [declare(sessions, personas, clock) for _ in range(12)]
    postgres = session.get_bind().dialect.name == "postgresql"
    # Each batch of a worker waits, inside its transaction, for another batch to be in flight
    # too: it only comes when two workers hold batches at once. (The first batch of a run is
    # the module's own, in the engine's thread; on SQLite, which has one writer, every one is.)
    together = threading.Barrier(2, timeout=5)
    overlapped: list[str] = []
    batch = escalation_steps.due_batch

    def due_batch(db: Session, now: datetime, size: int, **options: Any) -> escalation_steps.Progress:
        progress = batch(db, now, size, **options)
        if progress.claimed and threading.current_thread().name.startswith("escalations"):
            try:
                together.wait()
                overlapped.append(threading.current_thread().name)
            except threading.BrokenBarrierError:
                pass  # the last batch has no partner
        return progress

    monkeypatch.setattr(escalation_steps, "due_batch", due_batch)
    module = Escalations(PUBLIC_URL, batch=2, workers=2)

    assert module.run_with(sessions, clock) == 12
    assert _pages_per_incident(session) == {incident_id: 2 for incident_id in ids}
    if postgres:
        assert len(overlapped) >= 2, "no two batches were in flight at once"
    else:
        assert overlapped == [], "SQLite has one writer: the batches follow each other in the engine's thread"


def test_the_workers_of_one_run_share_its_bound_on_batches(
    sessions: sessionmaker[Session], session: Session, personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock)
    for _ in range(12):
        declare(sessions, personas, clock)
    module = Escalations(PUBLIC_URL, batch=2, max_batches=3, workers=2)

    assert module.run_with(sessions, clock) == 6, "three batches of two, whatever the number of workers"
    assert len(_pages_per_incident(session)) == 6
    assert module.run_with(sessions, clock) == 6, "the next run goes on with the rest"
