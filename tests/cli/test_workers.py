"""`tocsin serve` with several worker processes: on PostgreSQL each commits its own
signals; on SQLite one writer process commits for all. One first start, clean stop."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import START
from tests.support.server import start_server
from tocsin.services import directory, integrations
from tocsin.services.actor import Actor
from tocsin.storage.models import Alert

# Several server processes a test: with the e2e tests on one xdist worker (tests/conftest.py).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("e2e")]
TOKEN = re.compile(r"tcn_[A-Za-z0-9_-]{20,}")


def workers_of(pid: int) -> list[int]:
    """The worker processes uvicorn spawned (not multiprocessing's resource tracker)."""
    with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as listing:
        children = [int(child) for child in listing.read().split()]
    return [child for child in children if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]


def writer_of(pid: int) -> int | None:
    """The ingest writer process `tocsin serve` starts beside SQLite workers (again by
    a watching thread, whose children /proc lists under that thread)."""
    children = [
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text(encoding="ascii").split()
    ]
    found = [child for child in children if b"ingest-writer" in Path(f"/proc/{child}/cmdline").read_bytes()]
    return found[0] if found else None


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def native_integration(sessions: sessionmaker[Session]) -> str:
    system = Actor.system("tests")
    with sessions() as db:
        directory.create_service(db, system, START, key="api", name="Public API")
        created = integrations.create(db, system, START, service_key="api", kind="native", settings={})
        db.commit()
        return created.key


def test_two_workers_store_concurrent_events_exactly_once(
    backend: str, db_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with start_server(db_url, tmp_path, START, env_extra={"TOCSIN_WORKERS": "2"}) as server:
        workers = workers_of(server.process.pid)
        assert len(workers) == 2
        writer = writer_of(server.process.pid)
        # SQLite: a third process commits for both workers; PostgreSQL: each commits its own.
        assert (writer is not None) == (backend == "sqlite")
        key = native_integration(sessions)
        url = f"{server.url}/api/v1/events/{key}"

        with httpx.Client(timeout=30) as client, ThreadPoolExecutor(max_workers=32) as pool:

            def trigger(dedup_key: str) -> tuple[int, str]:
                answer = client.post(url, json={"action": "trigger", "dedup_key": dedup_key, "summary": dedup_key})
                return answer.status_code, answer.json()["result"]

            unique = list(pool.map(trigger, [f"disk-{n}" for n in range(200)]))
            repeats = list(pool.map(trigger, ["same"] * 50))

        assert unique == [(202, "created")] * 200
        assert sorted(repeats) == [(202, "created")] + [(202, "repeated")] * 49
        with sessions() as db:
            stored = db.execute(select(Alert.dedup_key, Alert.count)).all()
        assert len(stored) == 201
        assert {dedup_key for dedup_key, _count in stored} == {f"disk-{n}" for n in range(200)} | {"same"}
        assert dict(stored)["same"] == 50
        with sessions() as db:
            assert db.scalar(select(func.sum(Alert.count))) == 250

        assert server.stop() == 0
        assert all(gone(worker) for worker in workers)
        assert writer is None or gone(writer)

    # The first start ran once, in the supervisor; every worker logged JSON, and every
    # engine (one per worker on PostgreSQL, the writer process's on SQLite) stopped.
    log = server.log()
    [token] = set(TOKEN.findall(log))
    records = [json.loads(line) for line in log.split(f"export TOCSIN_TOKEN={token}", 1)[1].splitlines() if line]
    events = [record["event"] for record in records]
    assert sum(event.startswith("Started server process") for event in events) == 2
    assert sum(event.startswith("Finished server process") for event in events) == 2
    holders = {record["holder"] for record in records if record["event"] == "engine stopped"}
    if backend == "postgresql":
        assert len(holders) == 2
        assert all(holder.startswith("server/") for holder in holders)
    else:
        assert holders == {"server"}
    assert key not in log


def serve(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tocsin", "serve", *args],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_killed_sqlite_writer_process_is_restarted_and_nothing_is_doubled(
    db_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with start_server(db_url, tmp_path, START, env_extra={"TOCSIN_WORKERS": "2"}) as server:
        key = native_integration(sessions)
        url = f"{server.url}/api/v1/events/{key}"
        first = writer_of(server.process.pid)
        assert first is not None
        with httpx.Client(timeout=30) as client:
            assert client.post(url, json={"action": "trigger", "dedup_key": "a", "summary": "a"}).status_code == 202
            os.kill(first, signal.SIGKILL)
            answers = []
            # Until the supervisor has started it again, the workers say so: 503 with
            # Retry-After, nothing stored. Polling a process restart, not the clock.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                answer = client.post(url, json={"action": "trigger", "dedup_key": "b", "summary": "b"})
                answers.append(answer.status_code)
                if answer.status_code == 202:
                    break
                assert answer.status_code == 503
                assert answer.headers["retry-after"] == "1"
                assert answer.headers["content-type"] == "application/problem+json"
                time.sleep(0.05)
            assert answers[-1] == 202
            again = client.post(url, json={"action": "trigger", "dedup_key": "a", "summary": "a"})
            assert again.json()["result"] == "repeated"
        second = writer_of(server.process.pid)
        assert second is not None
        assert second != first
        with sessions() as db:
            assert dict(db.execute(select(Alert.dedup_key, Alert.count)).all()) == {"a": 2, "b": 1}


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_rule_made_through_a_sqlite_worker_reaches_the_writer_process_at_once(
    db_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with start_server(db_url, tmp_path, START, env_extra={"TOCSIN_WORKERS": "2"}) as server:
        key = native_integration(sessions)
        token = TOKEN.findall(server.log())[0]
        url = f"{server.url}/api/v1/events/{key}"
        with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {token}"}) as client:
            kept = client.post(
                url, json={"action": "trigger", "dedup_key": "before", "summary": "b", "labels": {"env": "dev"}}
            )
            assert kept.json()["result"] == "created"
            # The writer process read the configuration for that alert; the rule is made
            # in a worker, and must apply to the very next alert (not after a cache expires).
            rule = client.post(
                f"{server.url}/api/v1/services/api/rules", json={"matchers": ['env="dev"'], "drop": True}
            )
            assert rule.status_code == 201, rule.text
            # One keep-alive connection: the rule and the alert go through the same worker,
            # whose message to drop the snapshot reaches the writer before the alert does.
            dropped = client.post(
                url, json={"action": "trigger", "dedup_key": "after", "summary": "a", "labels": {"env": "dev"}}
            )
            assert dropped.status_code == 202
            assert dropped.json()["result"] == "dropped"


def test_a_worker_count_below_one_is_refused(tmp_path: Path) -> None:
    result = serve({"TOCSIN_DATABASE_URL": f"sqlite:///{tmp_path}/t.db", "TOCSIN_WORKERS": "0"})
    assert result.returncode == 1
    assert "TOCSIN_WORKERS (or --workers) must be 1 or more" in result.stderr
