"""Benchmark: the public status page under load, against a real `tocsin serve`.

A realistic page is made in a fresh database: 2 component groups and 8 components
linked to 4 services and 4 checks with 90 days of hourly rollups, 60 resolved public
incidents over those 90 days (3 public updates each), one open incident with its
public updates, and announced maintenance. Then `wrk` (Debian package) GETs, from
the same 2-core machine, for `--seconds` each:

- `/status` (the HTML page, uptime bars and all),
- `/api/v2/summary.json`,
- `/api/v2/summary.json` while a writer changes the page every second through the
  API (a component's status set by hand, then cleared), so every process's cache is
  thrown away and rendered again once a second: the price of invalidation.

Every answer must be a 200 with the page; errors are counted.

    flock /tmp/tocsin-bench.lock .venv/bin/python bench/status_page.py [--seconds 10] [--connections 64]
    TOCSIN_BENCH_PG_URL=postgresql://tocsin:tocsin@127.0.0.1:5432/tocsin_bench .venv/bin/python bench/status_page.py
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import Load, wrk  # noqa: E402
from tests.support.server import spawn  # noqa: E402

from tocsin.services import bootstrap, checks, directory, incidents, status_page, tokens  # noqa: E402
from tocsin.services.actor import Actor  # noqa: E402
from tocsin.services.status_page import ComponentSpec  # noqa: E402
from tocsin.storage import migrate, models  # noqa: E402
from tocsin.storage.db import make_engine, make_sessionmaker  # noqa: E402

GET = ROOT / "bench" / "wrk" / "get.lua"
START = datetime.now(UTC).replace(microsecond=0)
SERVICES = ("api", "web", "search", "billing")


@dataclass
class Run:
    html: Load
    summary: Load
    changing: Load
    changes: int
    first_ms: float  # the first /status of a fresh server: rendering it, uncached


def prepare(url: str) -> str:
    """A fresh database with a realistic status page; an admin API token."""
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        with engine.connect() as connection:
            connection.execute(text("CHECKPOINT"))
    migrate.upgrade(engine)
    system = Actor.system("bench")
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        bootstrap.first_start(session, START, "bench@example.com")
        token = tokens.create(session, system, START, user_email="bench@example.com", name="bench", scope="admin")
        for key in SERVICES:
            directory.create_service(session, system, START, key=key, name=key.title())
        for key in SERVICES:
            definition = checks.Definition(kind="tcp", spec={"host": f"{key}.internal", "port": 443})
            check = checks.create(session, system, START, service_key=key, name=f"{key}-port", definition=definition)
            checks.pause(session, system, START, check.name)  # rollups, but no probes during the run
            hour = START.replace(minute=0, second=0) - timedelta(days=90)
            while hour < START:
                down = 6 if hour.day % 17 == 0 and hour.hour == 3 else 0
                session.add(
                    models.CheckRollup(check_id=check.id, hour=hour, count=60, up=60 - down, held=0, max_ms=80,
                                       histogram=[])
                )  # fmt: skip
                hour += timedelta(hours=1)
        status_page.configure(session, system, START, name="Acme", description="Acme's public services")
        status_page.save_group(session, system, START, key="platform", name="Platform", position=1)
        status_page.save_group(session, system, START, key="business", name="Business", position=2)
        for n, key in enumerate(SERVICES):
            group = "platform" if n < 2 else "business"
            spec = ComponentSpec(key.title(), f"The {key} service", group, n, [key], [f"{key}-port"])
            status_page.create_component(session, system, START, key, spec)
            status_page.create_component(
                session, system, START, f"{key}-eu", ComponentSpec(f"{key.title()} (EU)", "", group, 10 + n, [key])
            )
        session.commit()
        for n in range(60):
            at = START - timedelta(days=89) + timedelta(hours=35 * n)
            incident = incidents.declare(
                session, system, at, title=f"Elevated errors #{n}", severity=("P1", "P2", "P3")[n % 3],
                services=[SERVICES[n % 4]],
            )  # fmt: skip
            for step, words in enumerate(("Investigating.", "Found it; fixing.", "Fixed; watching.")):
                incidents.post_update(session, system, at + timedelta(minutes=10 * step), incident, words, public=True)
            incidents.change_status(session, system, at + timedelta(minutes=40), incident, "resolved")
            session.commit()
        incident = incidents.declare(
            session, system, START - timedelta(minutes=30), title="Slow searches", severity="P2", services=["search"]
        )
        incidents.post_update(session, system, START - timedelta(minutes=20), incident, "Looking into it.", public=True)
        incidents.post_update(session, system, START - timedelta(minutes=5), incident, "A bad index.", public=True)
        status_page.schedule_maintenance(
            session, system, START, title="Database upgrade", description="Postgres 17",
            starts_at=START + timedelta(days=2), ends_at=START + timedelta(days=2, hours=1), components=["billing"],
        )  # fmt: skip
        session.commit()
        secret = token.secret
    engine.dispose()
    return secret


def changer(base: str, token: str, stop: threading.Event, made: list[int]) -> None:
    """Change the page once a second through the API, as a responder would."""
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
        status: str | None = "degraded_performance"
        while not stop.wait(1.0):
            answer = client.post("/api/v1/status-page/components/web/status", json={"status": status})
            answer.raise_for_status()
            made[0] += 1
            status = None if status else "degraded_performance"


def run_tocsin(name: str, url: str, workdir: Path, seconds: int, connections: int, workers: int) -> Run:
    token = prepare(url)
    clock = workdir / f"{name}.clock"
    clock.write_text(START.isoformat())
    env = {
        "TOCSIN_TEST_CLOCK_FILE": "",  # the real clock, as in production
        "TOCSIN_LOG_LEVEL": "warning",
        "TOCSIN_WORKERS": str(workers),
        "TOCSIN_ENGINE_INTERVAL": "5",
    }
    server = spawn(url, workdir, clock, START, name=name, env_extra=env)
    try:
        began = time.perf_counter()
        first = httpx.get(f"{server.url}/status", timeout=30)
        first_ms = (time.perf_counter() - began) * 1000
        if first.status_code != 200 or "Slow searches" not in first.text:
            raise RuntimeError(f"the page is not right: {first.status_code} {first.text[:300]}")
        html = wrk(f"{server.url}/status", seconds, connections, {}, GET)
        summary = wrk(f"{server.url}/api/v2/summary.json", seconds, connections, {}, GET)
        stop = threading.Event()
        made = [0]
        thread = threading.Thread(target=changer, args=(server.url, token, stop, made))
        thread.start()
        try:
            changing = wrk(f"{server.url}/api/v2/summary.json", seconds, connections, {}, GET)
        finally:
            stop.set()
            thread.join()
    finally:
        server.stop()
    return Run(html, summary, changing, made[0], first_ms)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--pg-workers", type=int, default=2, help="tocsin serve processes on PostgreSQL")
    parser.add_argument("--sqlite-workers", default="1,2", help="comma-separated HTTP worker counts on SQLite")
    args = parser.parse_args()
    runs: dict[str, Run] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for workers in (int(n) for n in args.sqlite_workers.split(",") if n):
            name = f"sqlite-{workers}w"
            runs[name] = run_tocsin(
                name, f"sqlite:///{workdir}/{name}.db", workdir, args.seconds, args.connections, workers
            )
        if pg := os.environ.get("TOCSIN_BENCH_PG_URL"):
            name = f"postgresql-{args.pg_workers}w"
            runs[name] = run_tocsin(name, pg, workdir, args.seconds, args.connections, args.pg_workers)
    print("| target | /status req/s | p50 / p99 ms | summary.json req/s | p50 / p99 ms "
          "| changing every 1 s: req/s | p99 ms | changes | errors | first render ms |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, run in runs.items():
        errors = run.html.errors + run.summary.errors + run.changing.errors
        print(
            f"| tocsin {name} | {run.html.requests_per_s:.0f} | {run.html.p50_ms:.1f} / {run.html.p99_ms:.1f} "
            f"| {run.summary.requests_per_s:.0f} | {run.summary.p50_ms:.1f} / {run.summary.p99_ms:.1f} "
            f"| {run.changing.requests_per_s:.0f} | {run.changing.p99_ms:.1f} | {run.changes} | {errors} "
            f"| {run.first_ms:.0f} |"
        )
    subprocess.run(["uname", "-srm"], check=False)


if __name__ == "__main__":
    main()
