"""`tocsin serve` with several worker processes: PostgreSQL only, one first start, clean stop."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
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

pytestmark = pytest.mark.slow
TOKEN = re.compile(r"tcn_[A-Za-z0-9_-]{20,}")


def workers_of(pid: int) -> list[int]:
    """The worker processes uvicorn spawned (not multiprocessing's resource tracker)."""
    with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as listing:
        children = [int(child) for child in listing.read().split()]
    return [child for child in children if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]


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


@pytest.mark.parametrize("backend", ["postgresql"])
def test_two_workers_on_postgresql_store_concurrent_events_exactly_once(
    db_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with start_server(db_url, tmp_path, START, env_extra={"TOCSIN_WORKERS": "2"}) as server:
        workers = workers_of(server.process.pid)
        assert len(workers) == 2
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

    # The first start ran once, in the supervisor; every worker logged JSON and stopped its engine.
    log = server.log()
    [token] = set(TOKEN.findall(log))
    records = [json.loads(line) for line in log.split(f"export TOCSIN_TOKEN={token}", 1)[1].splitlines() if line]
    events = [record["event"] for record in records]
    assert sum(event.startswith("Started server process") for event in events) == 2
    assert sum(event.startswith("Finished server process") for event in events) == 2
    holders = {record["holder"] for record in records if record["event"] == "engine stopped"}
    assert len(holders) == 2
    assert all(holder.startswith("server/") for holder in holders)
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
def test_several_workers_on_sqlite_are_refused_at_start(db_url: str) -> None:
    by_env = serve({"TOCSIN_DATABASE_URL": db_url, "TOCSIN_WORKERS": "2"})
    assert by_env.returncode == 1
    assert "TOCSIN_WORKERS=2" in by_env.stderr
    assert "needs PostgreSQL" in by_env.stderr
    by_flag = serve({"TOCSIN_DATABASE_URL": db_url}, "--workers", "3")
    assert by_flag.returncode == 1
    assert "TOCSIN_WORKERS=3" in by_flag.stderr
    assert "Uvicorn running" not in by_env.stderr + by_flag.stderr


def test_a_worker_count_below_one_is_refused(tmp_path: Path) -> None:
    result = serve({"TOCSIN_DATABASE_URL": f"sqlite:///{tmp_path}/t.db", "TOCSIN_WORKERS": "0"})
    assert result.returncode == 1
    assert "TOCSIN_WORKERS (or --workers) must be 1 or more" in result.stderr
