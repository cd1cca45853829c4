"""Benchmark: Sentry crash envelopes, durable, against a real `tocsin serve`.

For each database (SQLite file with 1 and 2 HTTP workers; PostgreSQL when
TOCSIN_BENCH_PG_URL is set) a Sentry project is made, a real `tocsin serve` is
started and `wrk` (Debian package) POSTs gzip envelopes to
`/api/<project id>/envelope/` from the same machine: the captured sentry-sdk
error envelope (tests/fixtures/protocols), each with its own event id and one of
10 exception types, so 10 crash groups take the events. Every 200 means the
event was committed; afterwards the stored events are counted against the 200s.

    .venv/bin/python bench/crashes.py [--seconds 10] [--connections 64]
    TOCSIN_BENCH_PG_URL=postgresql://tocsin:tocsin@127.0.0.1:5432/tocsin_bench_b .venv/bin/python bench/crashes.py
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import Load, count, wrk  # noqa: E402
from tests.support.server import spawn  # noqa: E402
from tocsin.services import bootstrap, directory, integrations  # noqa: E402
from tocsin.services.actor import Actor  # noqa: E402
from tocsin.storage import migrate  # noqa: E402
from tocsin.storage.db import make_engine, make_sessionmaker  # noqa: E402

LUA = ROOT / "bench" / "wrk" / "envelopes.lua"
ENVELOPE = ROOT / "tests" / "fixtures" / "protocols" / "sentry_envelope_exception.envelope"
KEY = "benchbenchbenchbenchbenchbench01"
START = datetime.now(UTC)
GROUPS = 10


@dataclass
class Run:
    load: Load
    accepted: int  # 200s
    stored: int  # crash events in the database
    groups: int


def bodies(workdir: Path, how_many: int) -> tuple[Path, Path]:
    """`how_many` gzip envelopes, as the SDK sends them (gzip level 9), each its own event id."""
    header, _item, event = ENVELOPE.read_bytes().split(b"\n")[:3]
    template = json.loads(event)
    blob = workdir / "bodies.bin"
    offsets = workdir / "offsets.txt"
    position = 0
    with blob.open("wb") as out, offsets.open("w") as index:
        for number in range(how_many):
            event_id = uuid.uuid4().hex
            data = {**template, "event_id": event_id}
            data["exception"]["values"][0]["type"] = f"BenchError{number % GROUPS}"
            payload = json.dumps(data).encode()
            envelope = json.loads(header)
            envelope["event_id"] = event_id
            item = json.dumps({"type": "event", "content_type": "application/json", "length": len(payload)}).encode()
            body = gzip.compress(json.dumps(envelope).encode() + b"\n" + item + b"\n" + payload + b"\n", 9)
            out.write(body)
            index.write(f"{position} {len(body)}\n")
            position += len(body)
    return blob, offsets


def prepare(url: str) -> int:
    """A fresh database with one Sentry project on service `api`; its id."""
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        with engine.connect() as connection:
            connection.execute(text("CHECKPOINT"))  # as bench/ingest.py: no earlier run's WAL to write out
    migrate.upgrade(engine)
    system = Actor.system("bench")
    with make_sessionmaker(engine)() as session:
        bootstrap.first_start(session, START, "bench@example.com")
        directory.create_service(session, system, START, key="api", name="API")
        created = integrations.create(session, system, START, service_key="api", kind="sentry", key=KEY)
        session.commit()
        project_id = created.row.id
    engine.dispose()
    return project_id


def run_tocsin(
    name: str, url: str, workdir: Path, seconds: int, connections: int, workers: int, blob: Path, offsets: Path
) -> Run:
    project_id = prepare(url)
    clock = workdir / f"{name}.clock"
    clock.write_text(START.isoformat())
    env = {
        "TOCSIN_TEST_CLOCK_FILE": "",  # the real clock, as in production
        "TOCSIN_LOG_LEVEL": "warning",
        "TOCSIN_INGEST_RATE": "1000000",
        "TOCSIN_INGEST_BURST": "1000000",
        "TOCSIN_WORKERS": str(workers),
        "TOCSIN_ENGINE_INTERVAL": "5",  # the engine at its default interval
    }
    server = spawn(url, workdir, clock, START, name=name, env_extra=env)
    try:
        load = wrk(
            f"{server.url}/",
            seconds,
            connections,
            {
                "BENCH_BODIES": str(blob),
                "BENCH_OFFSETS": str(offsets),
                "BENCH_PATH": f"/api/{project_id}/envelope/",
                "BENCH_AUTH": f"Sentry sentry_key={KEY}, sentry_version=7, sentry_client=sentry.python/2.75.0",
            },
            LUA,
        )
    finally:
        server.stop()
    return Run(
        load,
        accepted=load.requests - load.errors,
        stored=count(url, "SELECT count(*) FROM crash_events"),
        groups=count(url, "SELECT count(*) FROM crash_groups"),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--bodies", type=int, default=60_000, help="distinct envelopes (more than a run sends)")
    parser.add_argument("--pg-workers", type=int, default=2, help="tocsin serve processes on PostgreSQL")
    parser.add_argument("--sqlite-workers", default="1,2", help="comma-separated HTTP worker counts on SQLite")
    args = parser.parse_args()
    runs: dict[str, Run] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        blob, offsets = bodies(workdir, args.bodies)
        for workers in (int(n) for n in args.sqlite_workers.split(",") if n):
            name = f"sqlite-{workers}w"
            url = f"sqlite:///{workdir}/{name}.db"
            runs[name] = run_tocsin(name, url, workdir, args.seconds, args.connections, workers, blob, offsets)
        if pg := os.environ.get("TOCSIN_BENCH_PG_URL"):
            name = f"postgresql-{args.pg_workers}w"
            runs[name] = run_tocsin(name, pg, workdir, args.seconds, args.connections, args.pg_workers, blob, offsets)
    print("| target | envelopes/s | p50 ms | p99 ms | 200s | events stored | lost | groups | errors |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, run in runs.items():
        # `stored` can exceed the 200s: a request wrk gave up on (its 2 s timeout) may still have
        # been committed. `lost` counts 200s whose event is not in the database.
        lost = max(0, run.accepted - run.stored)
        print(
            f"| tocsin {name} | {run.load.requests_per_s:.0f} | {run.load.p50_ms:.1f} | {run.load.p99_ms:.1f} "
            f"| {run.accepted} | {run.stored} | {lost} | {run.groups} | {run.load.errors} |"
        )
    subprocess.run(["uname", "-srm"], check=False)


if __name__ == "__main__":
    main()
