"""Benchmark: declaring incidents over HTTP, and the engine recording missed targets.

Starts a real `tocsin serve` per database (SQLite file, and PostgreSQL when
TOCSIN_BENCH_PG_URL is set), declares N incidents from C concurrent clients,
then moves the server clock past the acknowledge target and measures how long
the engine takes to record every breach. Prints a Markdown table.

    .venv/bin/python bench/incidents.py [--incidents 2000] [--clients 8]
    TOCSIN_BENCH_PG_URL=$(scripts/test-postgres) .venv/bin/python bench/incidents.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.server import spawn  # noqa: E402
from tocsin.services import bootstrap, tokens  # noqa: E402
from tocsin.services.actor import Actor  # noqa: E402
from tocsin.storage import migrate  # noqa: E402
from tocsin.storage.db import make_engine, make_sessionmaker  # noqa: E402

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def prepare(url: str) -> str:
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(engine)
    with make_sessionmaker(engine)() as session:
        started = bootstrap.first_start(session, START, "bench@example.com")
        assert started is not None
        issued = tokens.create(
            session, Actor.system(), START, user_email="bench@example.com", name="bench", scope="write"
        )
        session.commit()
    engine.dispose()
    return issued.secret


def run(name: str, url: str, count: int, clients: int, workdir: Path) -> dict[str, str]:
    token = prepare(url)
    clock_file = workdir / f"{name}.clock"
    clock_file.write_text(START.isoformat())
    server = spawn(url, workdir, clock_file, START, name=name, env_extra={"TOCSIN_LOG_LEVEL": "warning"})
    latencies: list[float] = []
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:

            def declare(n: int) -> None:
                began = time.perf_counter()
                answer = client.post("/api/v1/incidents", json={"title": f"bench {n}", "severity": "P1"})
                latencies.append(time.perf_counter() - began)
                answer.raise_for_status()

            began = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                list(pool.map(declare, range(count)))
            declare_s = time.perf_counter() - began

            server.advance(timedelta(minutes=16))
            began = time.perf_counter()
            engine = make_engine(url)
            query = text("SELECT count(*) FROM response_targets WHERE status = 'missed'")
            while True:
                with engine.connect() as connection:
                    if connection.execute(query).scalar_one() >= count:
                        break
                time.sleep(0.02)
            breach_s = time.perf_counter() - began
            engine.dispose()
    finally:
        server.stop()
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "database": name,
        "declare/s": f"{count / declare_s:.0f}",
        "p50 ms": f"{cuts[49] * 1000:.1f}",
        "p95 ms": f"{cuts[94] * 1000:.1f}",
        "breaches/s": f"{count / breach_s:.0f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        rows.append(run("sqlite", f"sqlite:///{workdir}/bench.db", args.incidents, args.clients, workdir))
        pg_url = os.environ.get("TOCSIN_BENCH_PG_URL")
        if pg_url:
            rows.append(run("postgresql", pg_url, args.incidents, args.clients, workdir))
    headers = list(rows[0])
    print("| " + " | ".join(headers) + " |")
    print("|" + "---|" * len(headers))
    for row in rows:
        print("| " + " | ".join(row[h] for h in headers) + " |")
    subprocess.run(["uname", "-srm"], check=False)


if __name__ == "__main__":
    main()
