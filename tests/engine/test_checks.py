"""Health-check scenarios against real servers on 127.0.0.1: make them fail, slow, stop; run the
scheduler's pass at the check's slot (the clock moved, never slept for); read the alerts."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, sessionmaker

from tests.conftest import Personas
from tests.support.probe_servers import (
    HttpTarget,
    closed_port,
    dns_server,
    http_target,
    self_signed,
    tcp_listener,
    tls_server,
)
from tocsin.clock import FrozenClock
from tocsin.engine.checks import CheckSettings, Connectivity, Scheduler
from tocsin.storage.models import Alert, Check, CheckResult, Incident

OFFLINE_OFF = CheckSettings(connectivity=())


@pytest.fixture
def target() -> Iterator[HttpTarget]:
    with http_target() as server:
        yield server


def create(client: TestClient, personas: Personas, name: str, kind: str, spec: dict[str, Any], **fields: Any) -> None:
    answer = client.post(
        "/api/v1/checks",
        json={"service": "api", "name": name, "kind": kind, "spec": spec, "interval_s": 60, "timeout_s": 2, **fields},
        headers=personas.bob.headers,
    )
    assert answer.status_code == 201, answer.text


def scheduler(sessions: sessionmaker[Session], clock: FrozenClock, holder: str = "test", **kwargs: Any) -> Scheduler:
    return Scheduler(sessions, clock, holder, OFFLINE_OFF, **kwargs)


def check(session: Session, name: str) -> Check:
    session.expire_all()
    row = session.scalars(select(Check).where(Check.name == name)).one()
    session.commit()
    return row


def at_next_slot(session: Session, clock: FrozenClock, name: str) -> None:
    due = check(session, name).next_run_at
    assert due is not None
    clock.set(due)


def runs(session: Session, clock: FrozenClock, name: str, sched: Scheduler, times: int) -> None:
    for _ in range(times):
        at_next_slot(session, clock, name)
        assert sched.run_once() == 1


def run_all(clock: FrozenClock, sched: Scheduler, expected: int) -> None:
    """A minute on: every check's next slot has come, and one pass runs each once."""
    clock.advance(timedelta(seconds=61))
    assert sched.run_once() == expected


def alerts_of(session: Session, name: str) -> list[Alert]:
    session.expire_all()
    query = select(Alert).options(joinedload(Alert.integration)).where(Alert.dedup_key == f"check:{name}")
    found = list(session.scalars(query.order_by(Alert.id)))
    session.commit()
    return found


def results_of(session: Session, name: str) -> list[CheckResult]:
    session.expire_all()
    row = check(session, name)
    found = list(session.scalars(select(CheckResult).where(CheckResult.check_id == row.id).order_by(CheckResult.id)))
    session.commit()
    return found


def test_a_failing_http_service_opens_an_incident_after_three_failures_and_recovery_resolves_it(
    client: TestClient,
    personas: Personas,
    session: Session,
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    target: HttpTarget,
) -> None:
    create(client, personas, "api-health", "http", {"url": f"{target.url}/healthz", "conditions": ['$.status == "ok"']})
    sched = scheduler(sessions, clock)
    runs(session, clock, "api-health", sched, 1)
    assert check(session, "api-health").status == "up"

    target.behaviour.status = 500
    runs(session, clock, "api-health", sched, 2)
    assert alerts_of(session, "api-health") == []  # two failures: not yet
    runs(session, clock, "api-health", sched, 1)
    [alert] = alerts_of(session, "api-health")
    assert alert.status == "firing"
    assert alert.summary == "Check api-health is down: status 500"
    assert alert.labels == {"check": "api-health", "kind": "http", "target": f"GET {target.url}/healthz"}
    assert alert.integration.kind == "check"
    assert alert.incident_id is not None  # the pipeline opened an incident on the service
    assert check(session, "api-health").status == "down"

    target.behaviour.status = 200
    runs(session, clock, "api-health", sched, 1)
    assert alerts_of(session, "api-health")[0].status == "firing"  # one success is not a recovery
    runs(session, clock, "api-health", sched, 1)
    [resolved] = alerts_of(session, "api-health")
    assert resolved.status == "resolved"
    incident = session.get(Incident, resolved.incident_id)
    assert incident is not None
    assert incident.status == "resolved"  # a check's recovery resolves its incident outright
    session.commit()
    assert [r.up for r in results_of(session, "api-health")] == [True, False, False, False, True, True]


def test_a_stopped_server_and_a_slow_one_are_down_results_never_a_crash(
    client: TestClient,
    personas: Personas,
    session: Session,
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    target: HttpTarget,
) -> None:
    create(client, personas, "api-health", "http", {"url": target.url}, timeout_s=1)
    sched = scheduler(sessions, clock)
    target.stop()
    runs(session, clock, "api-health", sched, 1)
    target.start()
    target.behaviour.delay_s = 1.5
    runs(session, clock, "api-health", sched, 1)
    target.behaviour.delay_s = 0
    target.behaviour.body = b"x" * 10
    runs(session, clock, "api-health", sched, 1)
    stopped, slow, fine = results_of(session, "api-health")
    assert (stopped.up, slow.up, fine.up) == (False, False, True)
    assert stopped.reason.startswith("connection refused or unreachable")
    assert stopped.response_ms is None
    assert slow.reason == "no answer within 1 s"
    assert fine.response_ms is not None
    assert fine.response_ms < 1000


def test_method_headers_and_body_are_sent_and_a_response_time_limit_applies(
    client: TestClient,
    personas: Personas,
    session: Session,
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    target: HttpTarget,
) -> None:
    spec = {
        "url": f"{target.url}/hooks", "method": "POST", "headers": {"X-Probe": "tocsin"}, "body": '{"ping":1}',
        "expect_status": [200], "keyword": "ok", "max_response_ms": 200,
    }  # fmt: skip
    create(client, personas, "hook", "http", spec)
    sched = scheduler(sessions, clock)
    runs(session, clock, "hook", sched, 1)
    target.behaviour.delay_s = 0.4
    runs(session, clock, "hook", sched, 1)
    method, path, headers, body = target.behaviour.requests[0]
    assert (method, path, headers["X-Probe"], body) == ("POST", "/hooks", "tocsin", b'{"ping":1}')
    assert headers["User-Agent"] == "Tocsin-Check/1"
    first, second = results_of(session, "hook")
    assert first.up
    assert not second.up
    assert second.reason.endswith("over the 200 ms limit")


def test_tcp_checks_connect(
    client: TestClient, personas: Personas, session: Session, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    with tcp_listener() as port:
        create(client, personas, "db-port", "tcp", {"host": "127.0.0.1", "port": port})
        create(client, personas, "nothing-there", "tcp", {"host": "127.0.0.1", "port": closed_port()})
        run_all(clock, scheduler(sessions, clock), 2)
    [up] = results_of(session, "db-port")
    [down] = results_of(session, "nothing-there")
    assert up.up
    assert up.response_ms is not None
    assert not down.up
    assert "refused" in down.reason.lower()


def test_dns_checks_resolve_at_the_checks_nameserver(
    client: TestClient, personas: Personas, session: Session, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    records = {("api.test.", "A"): ["10.0.0.7"], ("www.test.", "CNAME"): ["edge.test."]}
    with dns_server(records) as server:
        ns = server.address
        create(client, personas, "api-a", "dns", {"name": "api.test", "expect": "10.0.0.7", "nameserver": ns})
        create(client, personas, "api-moved", "dns", {"name": "api.test", "expect": "10.0.0.9", "nameserver": ns})
        create(client, personas, "www-cname", "dns", {"name": "www.test", "record_type": "CNAME", "nameserver": ns})
        create(client, personas, "gone", "dns", {"name": "gone.test", "nameserver": ns})
        sched = scheduler(sessions, clock)
        run_all(clock, sched, 4)
        server.silent = True
        run_all(clock, sched, 4)
    verdicts = {name: [(r.up, r.reason) for r in results_of(session, name)] for name in ("api-moved", "gone")}
    [answered, silent] = results_of(session, "api-a")
    assert answered.up
    assert not silent.up
    assert silent.reason == "no answer within 2 s" or silent.reason.startswith("no DNS answer for api.test")
    assert results_of(session, "www-cname")[0].up
    assert verdicts["api-moved"][0] == (False, "api.test A is 10.0.0.7, not 10.0.0.9")
    assert verdicts["gone"][0] == (False, "gone.test does not exist (NXDOMAIN)")


def test_tls_checks_read_the_certificates_expiry(
    client: TestClient,
    personas: Personas,
    session: Session,
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    # The certificates are made for the real date: the check's clock is set to it.
    from datetime import UTC, datetime

    clock.set(datetime.now(UTC))
    fresh, fresh_key = self_signed(tmp_path, days=90)
    short, short_key = self_signed(tmp_path, days=5)
    with tls_server(fresh, fresh_key) as good_port, tls_server(short, short_key) as soon_port:
        create(client, personas, "cert-ok", "tls", {"host": "127.0.0.1", "port": good_port, "verify": False})
        create(client, personas, "cert-soon", "tls", {"host": "127.0.0.1", "port": soon_port, "verify": False})
        create(client, personas, "cert-untrusted", "tls", {"host": "127.0.0.1", "port": good_port})
        run_all(clock, scheduler(sessions, clock), 3)
    [ok] = results_of(session, "cert-ok")
    [soon] = results_of(session, "cert-soon")
    [untrusted] = results_of(session, "cert-untrusted")
    assert ok.up
    assert not soon.up
    assert "under the 14 days warning" in soon.reason
    assert soon.reason.startswith("the certificate expires in 4 days") or soon.reason.startswith(
        "the certificate expires in 5 days"
    )
    assert not untrusted.up
    assert untrusted.reason.startswith("TLS certificate not trusted")


def test_without_the_network_failures_are_held_and_nobody_is_paged(
    client: TestClient,
    personas: Personas,
    session: Session,
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    target: HttpTarget,
) -> None:
    create(client, personas, "api-health", "http", {"url": target.url}, failures_before_down=1)
    with tcp_listener() as port:  # the network Tocsin started with
        connectivity = Connectivity((("127.0.0.1", port),), cache_s=0)
        assert asyncio.run(connectivity.connected())
    sched = scheduler(sessions, clock, connectivity=connectivity)  # and now it is gone
    target.stop()
    runs(session, clock, "api-health", sched, 3)
    assert [(r.up, r.held) for r in results_of(session, "api-health")] == [(False, True)] * 3
    assert check(session, "api-health").status == "new"
    assert alerts_of(session, "api-health") == []

    with tcp_listener() as port:  # the network is back: the next failure counts
        sched.connectivity = Connectivity((("127.0.0.1", port),), cache_s=0)
        runs(session, clock, "api-health", sched, 1)
    assert results_of(session, "api-health")[-1].held is False
    assert [a.status for a in alerts_of(session, "api-health")] == ["firing"]


def test_targets_that_never_answered_hold_nothing(
    client: TestClient,
    personas: Personas,
    session: Session,
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    target: HttpTarget,
) -> None:
    """A network without the default public targets: Tocsin never had them, so it has not lost
    them, and a service that stops is paged for (holding would page nobody, ever)."""
    create(client, personas, "api-health", "http", {"url": target.url}, failures_before_down=1)
    unreachable = Connectivity((("127.0.0.1", closed_port()),), cache_s=0)
    sched = scheduler(sessions, clock, connectivity=unreachable)
    target.stop()
    runs(session, clock, "api-health", sched, 1)
    assert [(r.up, r.held) for r in results_of(session, "api-health")] == [(False, False)]
    assert [a.status for a in alerts_of(session, "api-health")] == ["firing"]


def test_the_running_scheduler_learns_the_network_as_it_starts(
    sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    """Before any check fails: the first failure may come with the loss itself."""
    with tcp_listener() as port:
        connectivity = Connectivity((("127.0.0.1", port),))
        sched = scheduler(sessions, clock, connectivity=connectivity)
        loop = threading.Thread(target=sched.run_forever)
        loop.start()
        try:
            learned = threading.Event()
            for _ in range(100):  # polling the loop's thread, not waiting on the clock
                if connectivity.ever_answered:
                    learned.set()
                    break
                learned.wait(0.05)
            assert learned.is_set()
        finally:
            sched.stop()
            loop.join(10)
    assert not loop.is_alive()


def test_two_schedulers_run_each_slot_once(
    client: TestClient,
    personas: Personas,
    session: Session,
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    target: HttpTarget,
) -> None:
    for i in range(20):
        create(client, personas, f"c{i}", "http", {"url": f"{target.url}/{i}"})
    clock.advance(timedelta(seconds=61))  # every check's first slot is due
    one, two = scheduler(sessions, clock, "one"), scheduler(sessions, clock, "two")
    counts: list[int] = []
    barrier = threading.Barrier(2)

    def race(sched: Scheduler) -> None:
        barrier.wait()
        counts.append(sched.run_once())

    threads = [threading.Thread(target=race, args=(s,)) for s in (one, two)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 20
    assert sorted(path for _, path, _, _ in target.behaviour.requests) == sorted(f"/{i}" for i in range(20))
    assert session.scalar(select(func.count()).select_from(CheckResult)) == 20
    session.commit()
    assert (one.run_once(), two.run_once()) == (0, 0)  # next slots are a minute on


def test_a_crashed_schedulers_slot_is_run_by_another_once_its_claim_lapses(
    client: TestClient,
    personas: Personas,
    session: Session,
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    target: HttpTarget,
) -> None:
    create(client, personas, "api-health", "http", {"url": target.url})
    at_next_slot(session, clock, "api-health")
    crashed, other = scheduler(sessions, clock, "crashed"), scheduler(sessions, clock, "other")
    [claimed] = crashed._claim(timedelta(0))  # claimed, then the process died
    assert other.run_once() == 0  # still held
    clock.advance(timedelta(seconds=33))  # timeout 2 s + the 30 s lease
    assert other.run_once() == 1
    [result] = results_of(session, "api-health")
    assert result.slot == claimed.slot
    assert result.up
    assert check(session, "api-health").next_run_at == claimed.slot + timedelta(seconds=60)


def test_rollups_give_uptime_and_percentiles_and_old_data_expires(
    client: TestClient,
    personas: Personas,
    session: Session,
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    target: HttpTarget,
) -> None:
    from tocsin.engine.checks import CheckRetention
    from tocsin.storage.models import CheckRollup

    create(client, personas, "api-health", "http", {"url": target.url})
    sched = scheduler(sessions, clock)
    runs(session, clock, "api-health", sched, 3)
    target.behaviour.status = 503
    runs(session, clock, "api-health", sched, 1)
    shown = client.get("/api/v1/checks/api-health", headers=personas.charlie.headers).json()
    day = shown["uptime"][0]
    assert (day["window"], day["uptime_percent"], day["results"]) == ("24h", 75.0, 4)
    assert day["p50_ms"] is not None
    assert day["p99_ms"] >= day["p50_ms"]
    assert [r["up"] for r in shown["recent_results"]] == [False, True, True, True]

    rollups = list(session.scalars(select(CheckRollup)))
    assert sum(r.count for r in rollups) == 4
    assert sum(r.up for r in rollups) == 3
    session.commit()

    clock.advance(timedelta(days=8))  # past the 7-day retention of raw results
    with sessions() as db, db.begin():
        assert CheckRetention(timedelta(days=7)).run(db, clock) == 4
    assert results_of(session, "api-health") == []
    after = client.get("/api/v1/checks/api-health", headers=personas.charlie.headers).json()
    assert after["uptime"][1]["window"] == "7d"
    assert after["uptime"][1]["results"] == 0
    assert after["uptime"][2]["uptime_percent"] == 75.0  # 30 days: from the rollups
    clock.advance(timedelta(days=90))
    with sessions() as db, db.begin():
        assert CheckRetention().run(db, clock) == len(rollups)


def test_while_a_check_stays_down_its_alert_is_raised_again_at_most_every_reminder_interval(
    client: TestClient,
    personas: Personas,
    session: Session,
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    target: HttpTarget,
) -> None:
    create(client, personas, "api-health", "http", {"url": target.url}, failures_before_down=1, reminder_every_s=180)
    target.behaviour.status = 503
    sched = scheduler(sessions, clock)
    runs(session, clock, "api-health", sched, 7)  # down at the first run, then a minute apart
    [alert] = alerts_of(session, "api-health")
    assert alert.status == "firing"
    assert alert.count == 3  # raised, then reminded 3 and 6 minutes on
