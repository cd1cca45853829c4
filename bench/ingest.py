"""Benchmark: alert ingestion, Tocsin beside Prometheus Alertmanager on the same alerts.

For each database (SQLite file; PostgreSQL when TOCSIN_BENCH_PG_URL is set) a real
`tocsin serve` is started and loaded with `wrk` (Debian package) from the same
machine: single-alert POSTs, batches of 100, the same alert repeated (the dedup
path), and an alert storm (100,000 alerts in one minute). Alertmanager (Debian's
`prometheus-alertmanager`, in memory) takes the same single and batched alerts,
and the table shows Tocsin's rate as a share of it. Every 202 from Tocsin means
the alert was committed; afterwards the stored alerts are counted to show none
was lost.

    .venv/bin/python bench/ingest.py [--seconds 10] [--connections 64]
    TOCSIN_BENCH_PG_URL=postgresql://tocsin:tocsin@127.0.0.1:5432/tocsin_bench .venv/bin/python bench/ingest.py
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.server import free_port, spawn  # noqa: E402
from tocsin.services import bootstrap, directory, integrations  # noqa: E402
from tocsin.services.actor import Actor  # noqa: E402
from tocsin.storage import migrate  # noqa: E402
from tocsin.storage.db import make_engine, make_sessionmaker  # noqa: E402

LUA = ROOT / "bench" / "wrk" / "events.lua"
KEY = "benchbenchbenchbenchbenchbench01"
START = datetime.now(UTC)


@dataclass
class Load:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def wrk(url: str, seconds: int, connections: int, env: dict[str, str], script: Path = LUA) -> Load:
    result = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    out = result.stdout

    def ms(label: str) -> float:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)", out, re.M)
        if match is None:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors_match = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: .*", out)
    errors = int(errors_match.group(1)) if errors_match else 0
    if socket_errors:
        print("   ", socket_errors.group(0), file=sys.stderr)
    return Load(rps, ms("50"), ms("99"), total, errors)


def prepare(url: str) -> None:
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        with engine.connect() as connection:
            # A previous run's storm leaves a gigabyte of WAL whose checkpoint would
            # otherwise write its pages out during this run: each run starts without one
            # pending (back-to-back runs had varied from 3,250 to 5,500 single/s).
            connection.execute(text("CHECKPOINT"))
    migrate.upgrade(engine)
    system = Actor.system("bench")
    with make_sessionmaker(engine)() as session:
        bootstrap.first_start(session, START, "bench@example.com")
        directory.create_service(session, system, START, key="api", name="API")
        integrations.create(
            session, system, START, service_key="api", kind="native", key=KEY, settings={"group_window_s": 300}
        )
        session.commit()
    engine.dispose()


def count(url: str, sql: str) -> int:
    engine = make_engine(url)
    with engine.connect() as connection:
        value = int(connection.execute(text(sql)).scalar_one())
    engine.dispose()
    return value


def start_alertmanager(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("prometheus-alertmanager")
    if binary is None:
        sys.exit("prometheus-alertmanager is missing: apt-get install prometheus-alertmanager")
    config = workdir / "am.yml"
    config.write_text("route:\n  receiver: none\nreceivers:\n  - name: none\n")
    port = free_port()
    process = subprocess.Popen(
        [
            binary, f"--config.file={config}", f"--storage.path={workdir / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("alertmanager did not start")


def run_tocsin(
    name: str, url: str, workdir: Path, seconds: int, connections: int, workers: int = 1
) -> dict[str, Load | int]:
    prepare(url)
    clock = workdir / f"{name}.clock"
    clock.write_text(START.isoformat())
    env = {
        # The real clock, as in production (the test clock reads a file per call).
        "TOCSIN_TEST_CLOCK_FILE": "",
        "TOCSIN_LOG_LEVEL": "warning",
        "TOCSIN_INGEST_RATE": "1000000",
        "TOCSIN_INGEST_BURST": "1000000",
        "TOCSIN_WORKERS": str(workers),
        # The engine at its default interval, as in production (tests run it every 0.1 s).
        "TOCSIN_ENGINE_INTERVAL": "5",
    }
    server = spawn(url, workdir, clock, START, name=name, env_extra=env)
    results: dict[str, Load | int] = {}
    try:
        events = f"{server.url}/api/v1/events/{KEY}"
        results["single"] = wrk(events, seconds, connections, {"BENCH_FORMAT": "tocsin", "BENCH_BATCH": "1"})
        results["batch"] = wrk(events, seconds, 8, {"BENCH_FORMAT": "tocsin", "BENCH_BATCH": "100"})
        results["repeat"] = wrk(events, seconds, connections, {"BENCH_FORMAT": "tocsin", "BENCH_REPEAT": "1"})
        before = count(url, "SELECT count(*) FROM alerts")
        # The storm: 100,000 alerts within a minute, in batches of 100.
        storm = wrk(events, 60, 8, {"BENCH_FORMAT": "tocsin", "BENCH_BATCH": "100"})
        results["storm"] = storm
        stored = count(url, "SELECT count(*) FROM alerts") - before
        results["storm_stored"] = stored
        results["storm_accepted"] = (storm.requests - storm.errors) * 100
        results["incidents"] = count(url, "SELECT count(*) FROM incidents")
    finally:
        server.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--pg-workers", type=int, default=2, help="tocsin serve processes on PostgreSQL")
    parser.add_argument(
        "--sqlite-workers",
        default="1,2",
        help="comma-separated HTTP worker counts to run on SQLite (2 or more adds the writer process)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        process, am_url = start_alertmanager(workdir)
        try:
            am_single = wrk(f"{am_url}/api/v2/alerts", args.seconds, args.connections, {"BENCH_FORMAT": "alertmanager"})
            am_batch = wrk(
                f"{am_url}/api/v2/alerts", args.seconds, 8, {"BENCH_FORMAT": "alertmanager", "BENCH_BATCH": "100"}
            )
        finally:
            process.terminate()
            process.wait()
        runs = {}
        for count in (int(n) for n in args.sqlite_workers.split(",")):
            name = f"sqlite-{count}w"
            url = f"sqlite:///{workdir}/{name}.db"
            runs[name] = run_tocsin(name, url, workdir, args.seconds, args.connections, count)
        if pg := os.environ.get("TOCSIN_BENCH_PG_URL"):
            name = f"postgresql-{args.pg_workers}w"
            runs[name] = run_tocsin(name, pg, workdir, args.seconds, args.connections, args.pg_workers)

    print(f"| target | single alerts/s | p50 ms | p99 ms | batched alerts/s | repeat/s | vs AM single | vs AM batch |")
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| alertmanager (memory) | {am_single.requests_per_s:.0f} | {am_single.p50_ms:.1f} | {am_single.p99_ms:.1f} "
        f"| {am_batch.requests_per_s * 100:.0f} | – | 1.00 | 1.00 |"
    )
    for name, result in runs.items():
        single, batch, repeat = result["single"], result["batch"], result["repeat"]
        assert isinstance(single, Load) and isinstance(batch, Load) and isinstance(repeat, Load)
        print(
            f"| tocsin {name} | {single.requests_per_s:.0f} | {single.p50_ms:.1f} | {single.p99_ms:.1f} "
            f"| {batch.requests_per_s * 100:.0f} | {repeat.requests_per_s:.0f} "
            f"| {single.requests_per_s / am_single.requests_per_s:.2f} "
            f"| {batch.requests_per_s / am_batch.requests_per_s:.2f} |"
        )
    print()
    # `stored` can exceed `accepted`: a request wrk gave up on (its 2 s timeout) may
    # still have been committed. `lost` counts 202s whose alert is not in the database.
    print("| storm | accepted (202) | stored | lost | errors | incidents |")
    print("|---|---|---|---|---|---|")
    for name, result in runs.items():
        storm = result["storm"]
        assert isinstance(storm, Load)
        accepted, stored = result["storm_accepted"], result["storm_stored"]
        assert isinstance(accepted, int) and isinstance(stored, int)
        lost = max(0, accepted - stored)
        print(f"| {name} | {accepted} | {stored} | {lost} | {storm.errors} | {result['incidents']} |")
    subprocess.run(["uname", "-srm"], check=False)


if __name__ == "__main__":
    main()
