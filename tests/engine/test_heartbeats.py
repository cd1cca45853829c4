"""Heartbeat scenarios: ping through the app, move the clock, run the engine, read the alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, sessionmaker

from tests.conftest import Personas
from tests.support.claims import drain_in_two_threads
from tocsin.clock import FrozenClock
from tocsin.engine.heartbeats import Heartbeats
from tocsin.engine.runner import Runner
from tocsin.storage.models import Alert, Incident


def create(client: TestClient, personas: Personas, name: str = "nightly-backup", **body: Any) -> str:
    fields = {"period_s": 3600, "grace_s": 300, **body}
    answer = client.post(
        "/api/v1/heartbeats", json={"service": "api", "name": name, **fields}, headers=personas.bob.headers
    )
    assert answer.status_code == 201, answer.text
    code: str = answer.json()["uuid"]
    return code


def ping(client: TestClient, code: str, suffix: str = "", **params: str) -> None:
    answer = client.get(f"/ping/{code}{suffix}", params=params)
    assert answer.status_code == 200, answer.text


def alerts_of(session: Session, code: str) -> list[Alert]:
    session.expire_all()
    query = select(Alert).options(joinedload(Alert.integration)).where(Alert.dedup_key == f"heartbeat:{code}")
    found = list(session.scalars(query.order_by(Alert.id)))
    session.commit()  # end the read: on SQLite it holds the write lock
    return found


def status(client: TestClient, personas: Personas, code: str) -> str:
    found: str = client.get(f"/api/v1/heartbeats/{code}", headers=personas.charlie.headers).json()["status"]
    return found


@pytest.fixture
def engine_runner(sessions: sessionmaker[Session], clock: FrozenClock) -> Runner:
    return Runner(sessions, clock, [Heartbeats()], holder="test")


def test_a_heartbeat_never_pinged_raises_nothing(
    client: TestClient, personas: Personas, session: Session, clock: FrozenClock, engine_runner: Runner
) -> None:
    code = create(client, personas)
    clock.advance(timedelta(days=10))
    assert engine_runner.cycle() == {"heartbeats": 0}
    assert alerts_of(session, code) == []
    assert status(client, personas, code) == "new"


def test_a_missed_ping_is_late_then_raises_one_alert_once_the_grace_is_over(
    client: TestClient, personas: Personas, session: Session, clock: FrozenClock, engine_runner: Runner
) -> None:
    code = create(client, personas)
    ping(client, code)
    clock.advance(timedelta(hours=1, minutes=1))
    assert engine_runner.cycle() == {"heartbeats": 0}
    assert status(client, personas, code) == "late"
    clock.advance(timedelta(minutes=3, seconds=59))
    assert engine_runner.cycle() == {"heartbeats": 0}
    assert alerts_of(session, code) == []

    clock.advance(timedelta(seconds=1))
    assert engine_runner.cycle() == {"heartbeats": 1}
    [alert] = alerts_of(session, code)
    assert alert.status == "firing"
    assert alert.summary == "Heartbeat nightly-backup is down: no ping since 2026-11-23 09:00 UTC"
    assert alert.labels == {"heartbeat": "nightly-backup"}
    assert alert.integration.kind == "heartbeat"
    assert alert.incident_id is not None  # the same pipeline: it opened an incident on the service
    assert status(client, personas, code) == "down"

    clock.advance(timedelta(hours=5))
    assert engine_runner.cycle() == {"heartbeats": 0}
    [again] = alerts_of(session, code)
    assert again.count == 1


def test_the_next_good_ping_resolves_the_alert_and_a_later_miss_raises_a_new_one(
    client: TestClient, personas: Personas, session: Session, clock: FrozenClock, engine_runner: Runner
) -> None:
    code = create(client, personas)
    ping(client, code)
    clock.advance(timedelta(hours=2))
    engine_runner.cycle()
    ping(client, code)
    [resolved] = alerts_of(session, code)
    assert (resolved.status, resolved.resolved_at) == ("resolved", clock.now())
    incident = session.get(Incident, resolved.incident_id)
    assert incident is not None
    assert incident.status == "resolved"  # every alert of it cleared, and a good ping is a recovery
    session.commit()
    assert status(client, personas, code) == "up"

    clock.advance(timedelta(hours=1, minutes=5))
    assert engine_runner.cycle() == {"heartbeats": 1}
    assert [a.status for a in alerts_of(session, code)] == ["resolved", "firing"]


def test_a_fail_ping_raises_at_once_and_a_success_resolves_it(
    client: TestClient, personas: Personas, session: Session, clock: FrozenClock, engine_runner: Runner
) -> None:
    code = create(client, personas)
    ping(client, code, "/fail")
    [alert] = alerts_of(session, code)  # before any engine cycle
    assert alert.status == "firing"
    assert alert.summary == "Heartbeat nightly-backup failed: the job reported a failure"
    clock.advance(timedelta(minutes=1))
    ping(client, code, "/3")
    [alert] = alerts_of(session, code)
    assert (alert.count, alert.summary) == (2, "Heartbeat nightly-backup failed: exit status 3")
    assert engine_runner.cycle() == {"heartbeats": 0}  # down already: nothing more is owed
    ping(client, code, "/0")
    assert [a.status for a in alerts_of(session, code)] == ["resolved"]


def test_a_paused_heartbeat_never_raises(
    client: TestClient, personas: Personas, session: Session, clock: FrozenClock, engine_runner: Runner
) -> None:
    code = create(client, personas)
    ping(client, code)
    assert client.post(f"/api/v1/heartbeats/{code}/pause", headers=personas.bob.headers).status_code == 200
    clock.advance(timedelta(days=3))
    ping(client, code, "/fail")
    ping(client, code, "/start")
    clock.advance(timedelta(days=3))
    assert engine_runner.cycle() == {"heartbeats": 0}
    assert alerts_of(session, code) == []


def test_a_run_that_never_finishes_is_down_after_the_grace(
    client: TestClient, personas: Personas, session: Session, clock: FrozenClock, engine_runner: Runner
) -> None:
    code = create(client, personas, period_s=86400)
    ping(client, code)
    clock.advance(timedelta(hours=3))
    ping(client, code, "/start")
    clock.advance(timedelta(minutes=4, seconds=59))
    assert engine_runner.cycle() == {"heartbeats": 0}
    clock.advance(timedelta(seconds=1))
    assert engine_runner.cycle() == {"heartbeats": 1}
    [alert] = alerts_of(session, code)
    assert alert.summary == (
        "Heartbeat nightly-backup is down: the run started at 2026-11-23 12:00 UTC has not finished after 5 min"
    )


def test_a_run_outside_its_bounds_is_a_failure(
    client: TestClient, personas: Personas, session: Session, clock: FrozenClock, engine_runner: Runner
) -> None:
    code = create(client, personas, min_run_s=60, max_run_s=1800)
    ping(client, code, "/start")
    clock.advance(timedelta(seconds=10))
    ping(client, code)
    [alert] = alerts_of(session, code)
    assert alert.summary == "Heartbeat nightly-backup failed: the run took 10 s, shorter than the 1 min lower bound"
    clock.advance(timedelta(minutes=10))
    ping(client, code, "/start")
    clock.advance(timedelta(minutes=20))
    ping(client, code)
    assert [a.status for a in alerts_of(session, code)] == ["resolved"]  # 20 min is within the bounds

    clock.advance(timedelta(minutes=10))
    ping(client, code, "/start")
    clock.advance(timedelta(minutes=30, seconds=1))
    assert engine_runner.cycle() == {"heartbeats": 1}  # past the upper bound: no need to wait for the finish
    assert alerts_of(session, code)[-1].summary.endswith("has not finished after 30 min")


def test_a_cron_heartbeat_is_expected_at_the_next_time_of_its_expression(
    client: TestClient, personas: Personas, session: Session, clock: FrozenClock, engine_runner: Runner
) -> None:
    # 03:00 Berlin is 02:00 UTC in November.
    code = create(client, personas, period_s=None, cron="0 3 * * *", time_zone="Europe/Berlin", grace_s=600)
    clock.set(datetime(2026, 11, 23, 2, 1, tzinfo=UTC))
    ping(client, code)
    clock.set(datetime(2026, 11, 24, 2, 9, 59, tzinfo=UTC))
    assert engine_runner.cycle() == {"heartbeats": 0}
    assert status(client, personas, code) == "late"
    clock.set(datetime(2026, 11, 24, 2, 10, tzinfo=UTC))
    assert engine_runner.cycle() == {"heartbeats": 1}
    [alert] = alerts_of(session, code)
    assert alert.summary == "Heartbeat nightly-backup is down: no ping since 2026-11-23 02:01 UTC"


def test_two_engines_on_one_database_raise_each_alert_once(
    client: TestClient, personas: Personas, sessions: sessionmaker[Session], session: Session, clock: FrozenClock
) -> None:
    codes = [create(client, personas, name=f"job-{n}") for n in range(12)]
    for code in codes:
        ping(client, code)
    clock.advance(timedelta(hours=2))
    # The module itself in two threads, without the runner's lease, with small batches:
    # the claims alone must keep an alert from being raised twice.
    module = Heartbeats(batch=2)
    assert drain_in_two_threads(sessions, module, clock) == len(codes)
    for code in codes:
        [alert] = alerts_of(session, code)
        assert alert.count == 1
