"""Benchmark: heartbeat pings, durable, against a real `tocsin serve`.

For each database (SQLite file with 1 and 2 HTTP workers; PostgreSQL when
TOCSIN_BENCH_PG_URL is set) 1,000 heartbeats are made, a real `tocsin serve`
is started and `wrk` (Debian package) GETs their ping URLs (`/ping/<uuid>`,
a heartbeat picked at random per request) from the same machine. Every 200
means the ping was committed; afterwards the heartbeats' ping counts are
summed and compared with the 200s, to show none was lost.

    .venv/bin/python bench/heartbeats.py [--seconds 10] [--connections 64]
    TOCSIN_BENCH_PG_URL=postgresql://tocsin:tocsin@127.0.0.1:5432/tocsin_bench .venv/bin/python bench/heartbeats.py
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import Load, count, wrk  # noqa: E402
from tests.support.server import spawn  # noqa: E402

from tocsin.domain import heartbeats as domain  # noqa: E402
from tocsin.services import bootstrap, directory, heartbeats  # noqa: E402
from tocsin.services.actor import Actor  # noqa: E402
from tocsin.storage import migrate  # noqa: E402
from tocsin.storage.db import make_engine, make_sessionmaker  # noqa: E402

LUA = ROOT / "bench" / "wrk" / "pings.lua"
START = datetime.now(UTC)


@dataclass
class Run:
    load: Load
    accepted: int  # 200s
    stored: int  # the heartbeats' ping counts, summed
    kept: int  # ping rows kept (the newest 100 or so per heartbeat)


def prepare(url: str, workdir: Path, heartbeat_count: int) -> Path:
    """A fresh database with `heartbeat_count` heartbeats; the file of their uuids."""
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        with engine.connect() as connection:
            connection.execute(text("CHECKPOINT"))  # as bench/ingest.py: no earlier run's WAL to write out
    migrate.upgrade(engine)
    system = Actor.system("bench")
    uuids = []
    with make_sessionmaker(engine)() as session:
        bootstrap.first_start(session, START, "bench@example.com")
        directory.create_service(session, system, START, key="api", name="API")
        # Pinged every few seconds in the run; an hour's period keeps every heartbeat up.
        schedule = domain.Schedule(grace=timedelta(minutes=5), period=timedelta(hours=1))
        for number in range(heartbeat_count):
            row = heartbeats.create(session, system, START, service_key="api", name=f"job-{number}", schedule=schedule)
            uuids.append(row.uuid)
        session.commit()
    engine.dispose()
    path = workdir / "uuids.txt"
    path.write_text("\n".join(uuids) + "\n")
    return path


def run_tocsin(
    name: str, url: str, workdir: Path, seconds: int, connections: int, workers: int, heartbeat_count: int
) -> Run:
    uuids = prepare(url, workdir, heartbeat_count)
    clock = workdir / f"{name}.clock"
    clock.write_text(START.isoformat())
    env = {
        "TOCSIN_TEST_CLOCK_FILE": "",  # the real clock, as in production
        "TOCSIN_LOG_LEVEL": "warning",
        "TOCSIN_WORKERS": str(workers),
        "TOCSIN_ENGINE_INTERVAL": "5",  # the engine at its default interval
    }
    server = spawn(url, workdir, clock, START, name=name, env_extra=env)
    try:
        load = wrk(f"{server.url}/", seconds, connections, {"BENCH_UUIDS": str(uuids)}, LUA)
    finally:
        server.stop()
    return Run(
        load,
        accepted=load.requests - load.errors,
        stored=count(url, "SELECT coalesce(sum(n_pings), 0) FROM heartbeats"),
        kept=count(url, "SELECT count(*) FROM heartbeat_pings"),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--heartbeats", type=int, default=1000)
    parser.add_argument("--pg-workers", type=int, default=2, help="tocsin serve processes on PostgreSQL")
    parser.add_argument("--sqlite-workers", default="1,2", help="comma-separated HTTP worker counts on SQLite")
    args = parser.parse_args()
    runs: dict[str, Run] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for workers in (int(n) for n in args.sqlite_workers.split(",") if n):
            name = f"sqlite-{workers}w"
            url = f"sqlite:///{workdir}/{name}.db"
            runs[name] = run_tocsin(name, url, workdir, args.seconds, args.connections, workers, args.heartbeats)
        if pg := os.environ.get("TOCSIN_BENCH_PG_URL"):
            name = f"postgresql-{args.pg_workers}w"
            runs[name] = run_tocsin(name, pg, workdir, args.seconds, args.connections, args.pg_workers, args.heartbeats)
    print("| target | pings/s | p50 ms | p99 ms | 200s | pings stored | lost | errors |")
    print("|---|---|---|---|---|---|---|---|")
    for name, run in runs.items():
        # `stored` can exceed the 200s: a request wrk gave up on (its 2 s timeout) may still have
        # been committed. `lost` counts 200s whose ping is not in the database.
        lost = max(0, run.accepted - run.stored)
        print(
            f"| tocsin {name} | {run.load.requests_per_s:.0f} | {run.load.p50_ms:.1f} | {run.load.p99_ms:.1f} "
            f"| {run.accepted} | {run.stored} | {lost} | {run.load.errors} |"
        )
    subprocess.run(["uname", "-srm"], check=False)  # noqa: S607 - the machine, for the results


if __name__ == "__main__":
    main()
