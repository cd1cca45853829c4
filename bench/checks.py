"""Benchmark: 5,000 HTTP health checks at a 60 s interval against a local target.

For each database (a SQLite file; PostgreSQL when TOCSIN_BENCH_PG_URL is set)
5,000 HTTP checks are made, pointed at a tiny HTTP server in a process of its
own (asyncio + uvloop, keep-alive, `200 ok`), and a real `tocsin serve` runs
them on the system clock. After a warm-up, for `--seconds` (≥ 120): how late
each run started after its slot (from the results: `at - slot`; p50, p99,
max), whether every slot ran once (runs against 5,000 x seconds / 60; no slot
twice), and the `tocsin serve` process's CPU (utime + stime from /proc over
the window, in cores). The target's CPU, and PostgreSQL's, are not counted.

    .venv/bin/python bench/checks.py [--checks 5000] [--seconds 120] [--warmup 45]
    TOCSIN_BENCH_PG_URL=postgresql://tocsin:tocsin@127.0.0.1:5432/tocsin_bench_a .venv/bin/python bench/checks.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.server import free_port, stop_process  # noqa: E402

from tocsin.clock import as_utc  # noqa: E402
from tocsin.domain import checks as domain  # noqa: E402
from tocsin.services import bootstrap, checks, directory  # noqa: E402
from tocsin.services.actor import Actor  # noqa: E402
from tocsin.storage import migrate  # noqa: E402
from tocsin.storage.db import make_engine, make_sessionmaker  # noqa: E402
from tocsin.storage.models import CheckResult  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


# ---- the target: a separate process ----


class _Answer(asyncio.Protocol):
    RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"

    def connection_made(self, transport: Any) -> None:  # uvloop's transports are not asyncio.Transport
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:  # GETs without bodies: one answer per request head
            _head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            self.transport.write(self.RESPONSE)


def serve_target(port: int) -> None:
    import uvloop

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_Answer, "127.0.0.1", port, backlog=4096)
        async with server:
            await server.serve_forever()

    uvloop.run(main())


# ---- the run ----


@dataclass
class Result:
    database: str
    checks: int
    seconds: float
    runs: int
    expected: int
    doubled: int
    down: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    cpu_cores: float


def prepare(url: str, count: int, target: str) -> None:
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        with engine.connect() as connection:
            connection.execute(text("CHECKPOINT"))
    migrate.upgrade(engine)
    system = Actor.system("bench")
    now = datetime.now(UTC)
    with make_sessionmaker(engine)() as session:
        bootstrap.ensure_defaults(session)
        directory.create_team(session, system, now, key="platform", name="Platform")
        directory.create_service(session, system, now, key="api", name="API", team="platform")
        for i in range(count):
            definition = checks.Definition(kind="http", spec={"url": f"{target}/health/{i}"}, interval_s=60)
            checks.create(session, system, now, service_key="api", name=f"check-{i:05d}", definition=definition)
        session.commit()
    engine.dispose()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(len(ordered) * q / 100 + 0.5) - 1))]


def measure(name: str, url: str, count: int, seconds: float, warmup: float, workdir: Path) -> Result:
    target_port = free_port()
    with open(workdir / f"{name}-target.log", "wb") as target_log:
        target = subprocess.Popen(  # noqa: S603
            [sys.executable, __file__, "--serve-target", str(target_port)], stdout=target_log, stderr=target_log
        )
    server = None
    try:
        prepare(url, count, f"http://127.0.0.1:{target_port}")
        env = {
            **os.environ,
            "TOCSIN_DATABASE_URL": url,
            "TOCSIN_PORT": str(free_port()),
            "TOCSIN_INSTANCE_ID": f"bench-{name}",
            "TOCSIN_ADMIN_EMAIL": "root@example.com",
            "TOCSIN_CHECK_CONNECTIVITY": "off",  # the target never fails: nothing to hold
            "TOCSIN_LOG_LEVEL": "warning",
        }
        env.pop("TOCSIN_TEST_CLOCK_FILE", None)
        with open(workdir / f"{name}.log", "wb") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "tocsin", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir
            )
        time.sleep(warmup)  # a benchmark waits for real time: the scheduler runs on the system clock
        if server.poll() is not None:
            raise RuntimeError((workdir / f"{name}.log").read_text())
        started, cpu_before = datetime.now(UTC), cpu_seconds(server.pid)
        time.sleep(seconds)
        ended, cpu_after = datetime.now(UTC), cpu_seconds(server.pid)
    finally:
        if server is not None:
            stop_process(server, timeout=30)
        target.send_signal(signal.SIGTERM)
        target.wait(timeout=10)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        rows = session.execute(
            select(CheckResult.check_id, CheckResult.slot, CheckResult.at, CheckResult.up).where(
                CheckResult.slot >= started, CheckResult.slot < ended
            )
        ).all()
    engine.dispose()
    late = [(as_utc(at) - as_utc(slot)).total_seconds() * 1000 for _, slot, at, _ in rows]
    slots = {(check_id, as_utc(slot)) for check_id, slot, _, _ in rows}
    return Result(
        database=name,
        checks=count,
        seconds=(ended - started).total_seconds(),
        runs=len(rows),
        expected=sum(_slots_between(f"check-{i:05d}", started, ended) for i in range(count)),
        doubled=len(rows) - len(slots),
        down=sum(1 for *_, up in rows if not up),
        p50_ms=percentile(late, 50) if late else float("nan"),
        p99_ms=percentile(late, 99) if late else float("nan"),
        max_ms=max(late) if late else float("nan"),
        cpu_cores=(cpu_after - cpu_before) / (ended - started).total_seconds(),
    )


def _slots_between(name: str, start: datetime, end: datetime) -> int:
    interval = timedelta(seconds=60)
    n = 0
    slot = domain.next_slot(name, interval, start - timedelta(milliseconds=1))
    while slot < end:
        n += 1
        slot += interval
    return n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checks", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--warmup", type=float, default=45)
    parser.add_argument("--serve-target", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_target is not None:
        serve_target(args.serve_target)
        return
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        targets = [("sqlite", f"sqlite:///{workdir / 'bench.db'}")]
        if os.environ.get("TOCSIN_BENCH_PG_URL"):
            targets.append(("postgresql", os.environ["TOCSIN_BENCH_PG_URL"]))
        for name, url in targets:
            results.append(measure(name, url, args.checks, args.seconds, args.warmup, workdir))
    print(
        "| database | checks | window s | runs / slots | doubled | down | late p50 ms | p99 ms | max ms | CPU cores |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r.database} | {r.checks} | {r.seconds:.0f} | {r.runs} / {r.expected} | {r.doubled} | {r.down} "
            f"| {r.p50_ms:.0f} | {r.p99_ms:.0f} | {r.max_ms:.0f} | {r.cpu_cores:.2f} |"
        )


if __name__ == "__main__":
    main()
