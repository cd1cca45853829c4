from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import START, Personas
from tests.support.claims import drain_in_two_threads
from tests.support.server import spawn
from tocsin.clock import FrozenClock
from tocsin.engine.response_targets import ResponseTargets
from tocsin.engine.runner import Runner
from tocsin.services import incidents
from tocsin.storage.models import TimelineEntry
from tocsin.storage.repositories import incidents as repo
from tocsin.storage.repositories import leases


def runner(sessions: sessionmaker[Session], clock: FrozenClock, holder: str = "test") -> Runner:
    return Runner(sessions, clock, [ResponseTargets()], holder=holder)


def missed(session: Session, incident_id: int) -> list[TimelineEntry]:
    session.expire_all()
    entries = [e for e in repo.timeline(session, incident_id) if e.kind == "target_missed"]
    # End the read transaction: on SQLite it holds the write lock the engine needs.
    session.commit()
    return entries


def declare(sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock, severity: str = "P1") -> int:
    with sessions() as db:
        incident = incidents.declare(db, personas.bob.actor, clock.now(), title="Checkout 500s", severity=severity)
        db.commit()
        return incident.id


def test_it_records_a_missed_acknowledge_target_once_the_clock_passes_it(
    sessions: sessionmaker[Session], session: Session, personas: Personas, clock: FrozenClock
) -> None:
    incident_id = declare(sessions, personas, clock)
    engine = runner(sessions, clock)
    clock.advance(timedelta(minutes=14, seconds=59))
    assert engine.cycle() == {"response_targets": 0}
    assert missed(session, incident_id) == []

    clock.advance(timedelta(seconds=1))
    assert engine.cycle() == {"response_targets": 1}
    [entry] = missed(session, incident_id)
    assert entry.summary == "Acknowledge target missed: P1 expects it within 15 min"
    assert entry.actor_name == "engine"
    assert entry.at == clock.now()
    assert entry.data["target"] == "acknowledge"

    engine.cycle()
    assert len(missed(session, incident_id)) == 1


def test_the_resolve_target_is_missed_later_and_separately(
    sessions: sessionmaker[Session], session: Session, personas: Personas, clock: FrozenClock
) -> None:
    incident_id = declare(sessions, personas, clock, severity="P0")
    engine = runner(sessions, clock)
    clock.advance(timedelta(hours=1))
    engine.cycle()
    assert [e.data["target"] for e in missed(session, incident_id)] == ["acknowledge", "resolve"]


def test_an_incident_acknowledged_in_time_records_no_breach(
    sessions: sessionmaker[Session], session: Session, personas: Personas, clock: FrozenClock
) -> None:
    incident_id = declare(sessions, personas, clock)
    clock.advance(timedelta(minutes=10))
    with sessions() as db:
        incidents.change_status(
            db, personas.bob.actor, clock.now(), incidents.get(db, str(incident_id)), "acknowledged"
        )
        db.commit()
    clock.advance(timedelta(minutes=10))
    runner(sessions, clock).cycle()
    assert missed(session, incident_id) == []


def test_a_resolved_incident_misses_nothing(
    sessions: sessionmaker[Session], session: Session, personas: Personas, clock: FrozenClock
) -> None:
    incident_id = declare(sessions, personas, clock)
    with sessions() as db:
        incidents.change_status(db, personas.bob.actor, clock.now(), incidents.get(db, str(incident_id)), "resolved")
        db.commit()
    clock.advance(timedelta(days=3))
    runner(sessions, clock).cycle()
    assert missed(session, incident_id) == []


def test_a_busy_module_is_skipped_not_waited_on(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    declare(sessions, personas, clock)
    clock.advance(timedelta(minutes=20))
    with sessions() as db:
        assert leases.try_acquire(db, "response_targets", "other", clock.now(), clock.now() + timedelta(minutes=1))
        db.commit()
    engine = runner(sessions, clock)
    assert engine.cycle() == {"response_targets": None}
    # A crashed holder's lease runs out, and the module is picked up again.
    clock.advance(timedelta(minutes=2))
    assert engine.cycle() == {"response_targets": 1}


def test_a_failing_module_does_not_stop_the_cycle(sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    class Broken:
        name = "broken"

        def run(self, session: Session, clock: object) -> int:
            raise RuntimeError("boom")

    engine = Runner(sessions, clock, [Broken(), ResponseTargets()], holder="test")
    assert engine.cycle() == {"broken": 0, "response_targets": 0}


def test_two_claimers_racing_record_each_breach_exactly_once(
    sessions: sessionmaker[Session], session: Session, personas: Personas, clock: FrozenClock
) -> None:
    ids = [declare(sessions, personas, clock) for _ in range(25)]
    clock.advance(timedelta(minutes=16))
    # The module itself, without the lease, in two threads with tiny batches: the
    # claims alone must keep a breach from being recorded twice.
    module = ResponseTargets(batch=3)
    assert drain_in_two_threads(sessions, module, clock) == 25
    for incident_id in ids:
        assert len(missed(session, incident_id)) == 1


@pytest.mark.slow
@pytest.mark.xdist_group("e2e")  # two servers: with the e2e tests on one xdist worker (tests/conftest.py)
def test_two_serve_processes_record_each_breach_exactly_once(db_url: str, personas: Personas, tmp_path: Path) -> None:
    clock_file = tmp_path / "clock"
    clock_file.write_text(START.isoformat())
    servers = [spawn(db_url, tmp_path, clock_file, START, name=f"serve-{n}") for n in (1, 2)]
    try:
        headers = personas.bob.headers
        human_ids = []
        for n in range(12):
            answer = httpx.post(
                f"{servers[n % 2].url}/api/v1/incidents",
                json={"title": f"Incident {n}", "severity": "P1"},
                headers=headers,
                timeout=10,
            )
            assert answer.status_code == 201, answer.text
            human_ids.append(answer.json()["human_id"])
        for server in servers:
            server.advance(timedelta(minutes=15))

        def breaches(server_url: str, human_id: str) -> int:
            timeline = httpx.get(f"{server_url}/api/v1/incidents/{human_id}/timeline", headers=headers, timeout=10)
            return sum(1 for e in timeline.json() if e["kind"] == "target_missed")

        # The engines poll every 0.1 s; wait (bounded) until every breach is in, then
        # give them more cycles to prove nothing is recorded twice.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(breaches(servers[0].url, h) == 0 for h in human_ids):
            time.sleep(0.1)
        time.sleep(1.0)
        counts = [breaches(servers[1].url, h) for h in human_ids]
        assert counts == [1] * len(human_ids)
        for server in servers:
            assert server.process.poll() is None, server.log()
    finally:
        for server in servers:
            server.stop()
    # Shut down gracefully: the engine finished its cycle and said so.
    for server in servers:
        assert '"event": "engine stopped"' in server.log()


def test_engine_breach_counts_are_visible_in_the_database(
    sessions: sessionmaker[Session], session: Session, personas: Personas, clock: FrozenClock
) -> None:
    for _ in range(3):
        declare(sessions, personas, clock, severity="P0")
    clock.advance(timedelta(minutes=5))
    runner(sessions, clock).cycle()
    count = session.scalar(select(func.count()).select_from(TimelineEntry).where(TimelineEntry.kind == "target_missed"))
    session.commit()
    assert count == 3
