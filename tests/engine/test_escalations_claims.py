from __future__ import annotations

import threading

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.services.test_escalations import PUBLIC_URL, declare, seed
from tocsin.clock import FrozenClock
from tocsin.engine.escalations import Escalations
from tocsin.storage.models import Notification, TimelineEntry


def test_two_claimers_racing_page_each_step_exactly_once(
    sessions: sessionmaker[Session], session: Session, personas: Personas, clock: FrozenClock
) -> None:
    seed(sessions, clock)
    ids = [declare(sessions, personas, clock) for _ in range(20)]
    # The module itself, without the lease, in two threads with tiny batches: the
    # claims alone must keep a step from being paged twice.
    module = Escalations(PUBLIC_URL, batch=3)
    barrier = threading.Barrier(2)
    handled: list[int] = []

    def drain() -> None:
        barrier.wait()
        while True:
            with sessions() as db, db.begin():
                count = module.run(db, clock)
            handled.append(count)
            if count == 0:
                return

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(handled) == 20
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
