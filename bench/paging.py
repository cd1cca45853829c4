"""Benchmark: paging speed (issue 4) — alert to first page, 10,000 open escalations, pages/s.

For each database (SQLite file; PostgreSQL when TOCSIN_BENCH_PG_URL is set) real
`tocsin serve` processes run on the system clock and page one user whose
verified `webhook` contact method points at a sink in this process (asyncio,
records the arrival time and body of every POST):

1. **alert → first page**: N alerts, each on its own service and integration
   (group window 0, so each opens its own incident), one every 50 ms; latency is
   the sink's arrival of that service's level-1 page minus the POST's send time.
   One more alert goes first and is reported on its own ("first alert"): a server's
   first alert pays for the first run of its code paths (the ingest commit and the
   escalations module, each several times slower than warm: 90-130 ms in all), once
   per process; counted among 200, the first few alerts were the p99.
2. **10,000 open escalations**: 10,000 incidents declared in-process, their level 1
   already paged; level 2 is made due at one instant T (the escalation rows are
   moved while the server runs). A step's lateness is when its notification row
   became visible in the database (polled every 20 ms) minus T.
3. **pages/s**: 5,000 (`--rows`) pending `webhook` rows due now, inserted directly; the server
   is started and the sink counts arrivals (each delivery id once).

Alertmanager (Debian's `prometheus-alertmanager`) fans the same kind of load out
to the same sink: as many alerts as `--rows`, in distinct groups, group_wait 0.

    .venv/bin/python bench/paging.py
    TOCSIN_BENCH_PG_URL=postgresql://tocsin:tocsin@127.0.0.1:5432/tocsin_bench .venv/bin/python bench/paging.py
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, insert, select, text, update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.server import ServerProcess, free_port, spawn  # noqa: E402

from tocsin.services import bootstrap, contacts, directory, incidents, integrations, policies  # noqa: E402
from tocsin.services.actor import Actor  # noqa: E402
from tocsin.storage import migrate, models  # noqa: E402
from tocsin.storage.db import make_engine, make_sessionmaker  # noqa: E402

USER = "pager@example.com"
SYSTEM = Actor.system("bench")
LEVEL2 = "round 1, level 2"
INTERVAL = "0.05"  # TOCSIN_ENGINE_INTERVAL for every run (the default is 5 s)


# ---- the sink ----------------------------------------------------------------------------------


@dataclass
class Sink:
    """A minimal HTTP/1.1 server (keep-alive, Content-Length bodies) answering 200 to every POST."""

    port: int = field(default_factory=free_port)
    arrivals: list[tuple[float, bytes, bytes]] = field(default_factory=list)  # (monotonic, path, body)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        ready = threading.Event()

        def serve() -> None:
            try:
                import uvloop

                loop = uvloop.new_event_loop()
            except ImportError:
                loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            server = loop.run_until_complete(
                loop.create_server(lambda: _SinkProtocol(self.arrivals), "127.0.0.1", self.port, backlog=1024)
            )
            ready.set()
            loop.run_until_complete(server.serve_forever())

        threading.Thread(target=serve, daemon=True, name="sink").start()
        ready.wait(10)

    def count(self, path: bytes, since: int = 0) -> int:
        return sum(1 for _, p, _ in self.arrivals[since:] if p == path)


class _SinkProtocol(asyncio.Protocol):
    def __init__(self, arrivals: list[tuple[float, bytes, bytes]]) -> None:
        self.arrivals = arrivals
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            path = head.split(b" ", 2)[1]
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            self.arrivals.append((time.monotonic(), path, body))
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")  # type: ignore[attr-defined]


# ---- setting up a database -----------------------------------------------------------------------


def prepare(url: str, sink: Sink, path: str, now: datetime, services: int = 1) -> dict[str, str]:
    """A fresh database: one user paged through a verified webhook to the sink, a two-level
    policy (level 2 five minutes after level 1), `services` services with native integrations
    (group window 0). Returns the integration keys by service."""
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(engine)
    keys: dict[str, str] = {}
    with make_sessionmaker(engine)() as session:
        bootstrap.first_start(session, now, "bench@example.com")
        directory.create_user(session, SYSTEM, now, email=USER, name="Pager")
        contacts.add_contact_method(
            session, SYSTEM, now, USER, name="hook", kind="webhook", address=f"{sink.url}{path}", verified=True
        )
        contacts.add_rule(session, SYSTEM, now, USER, contact_method="hook", delay_s=0)
        target = [policies.TargetSpec("user", USER)]
        policies.create_policy(
            session,
            SYSTEM,
            now,
            key="bench",
            levels=[policies.LevelSpec(300, target), policies.LevelSpec(300, target)],
        )
        for n in range(services):
            service = f"svc-{n:04d}"
            directory.create_service(session, SYSTEM, now, key=service, name=service)
            policies.set_service_policy(session, SYSTEM, now, service, "bench")
            created = integrations.create(
                session, SYSTEM, now, service_key=service, kind="native", settings={"group_window_s": 0}
            )
            keys[service] = created.key
        session.commit()
    engine.dispose()
    return keys


def serve(url: str, workdir: Path, name: str) -> ServerProcess:
    clock = workdir / f"{name}.clock"  # unused: TOCSIN_TEST_CLOCK_FILE="" means the system clock
    now = datetime.now(UTC)
    clock.write_text(now.isoformat())
    env = {
        "TOCSIN_TEST_CLOCK_FILE": "",
        "TOCSIN_LOG_LEVEL": "warning",
        "TOCSIN_ENGINE_INTERVAL": INTERVAL,
        "TOCSIN_INGEST_RATE": "1000000",
        "TOCSIN_INGEST_BURST": "1000000",
    }
    return spawn(url, workdir, clock, now, name=name, env_extra=env)


def scalar(url: str, sql: str, **params: Any) -> Any:
    engine = make_engine(url)
    with engine.connect() as connection:
        value = connection.execute(text(sql), params).scalar_one()
    engine.dispose()
    return value


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def field_of(body: bytes, name: str) -> str | None:
    for item in json.loads(body).get("fields") or []:
        if item["name"] == name:
            return str(item["value"])
    return None


# ---- 1. alert → first page -------------------------------------------------------------------------


def alert_latency(url: str, workdir: Path, sink: Sink, name: str, alerts: int) -> dict[str, Any]:
    path = f"/{name}/latency"
    keys = prepare(url, sink, path, datetime.now(UTC), services=alerts + 1)  # svc-0000: the cold one
    server = serve(url, workdir, f"{name}-latency")
    sent: dict[str, float] = {}
    since = len(sink.arrivals)
    try:
        with httpx.Client(timeout=10) as client:
            start = time.monotonic()
            for n, (service, key) in enumerate(keys.items()):
                while (delay := start + n * 0.05 - time.monotonic()) > 0:
                    time.sleep(delay)
                event = {"action": "trigger", "dedup_key": service, "summary": f"bench {service}", "severity": "P2"}
                sent[service] = time.monotonic()
                client.post(f"{server.url}/api/v1/events/{key}", json=event).raise_for_status()
        deadline = time.monotonic() + 60
        while sink.count(path.encode(), since) < alerts + 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        opened = scalar(url, "SELECT count(*) FROM incidents") - 1
    finally:
        server.stop()
    first: dict[str, float] = {}
    for at, p, body in sink.arrivals[since:]:
        if p == path.encode():
            service = field_of(body, "Service")
            if service is not None and service not in first:
                first[service] = at
    cold, *timed = sent
    latencies = [(first[s] - sent[s]) * 1000 for s in timed if s in first]
    cold_ms = (first[cold] - sent[cold]) * 1000 if cold in first else float("nan")
    return {"alerts": alerts, "incidents": opened, "paged": len(latencies), "ms": latencies, "cold_ms": cold_ms}


# ---- 2. 10,000 open escalations -----------------------------------------------------------------


def open_escalations(url: str, workdir: Path, sink: Sink, name: str, count: int) -> dict[str, Any]:
    path = f"/{name}/escalations"
    prepare(url, sink, path, datetime.now(UTC))
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    began = time.monotonic()
    made = 0
    while made < count:
        with sessions() as session:
            for _ in range(min(500, count - made)):
                incidents.declare(
                    session, SYSTEM, datetime.now(UTC), title="bench", severity="P2", services=["svc-0000"]
                )
                made += 1
            session.commit()
    declare_s = time.monotonic() - began
    # Level 1 "already paged": nothing is due until the run moves level 2 to one instant.
    far = datetime.now(UTC) + timedelta(days=1)
    with engine.begin() as connection:
        connection.execute(update(models.Escalation).values(next_step=1, next_due_at=far))
    server = serve(url, workdir, f"{name}-escalations")
    lateness: list[float] = []
    try:
        due_wall = datetime.now(UTC) + timedelta(seconds=1)
        due_mono = time.monotonic() + (due_wall - datetime.now(UTC)).total_seconds()
        with engine.begin() as connection:
            connection.execute(
                update(models.Escalation).values(started_at=due_wall - timedelta(seconds=300), next_due_at=due_wall)
            )
        seen = 0
        deadline = due_mono + 180
        with _poller(url) as poll:
            while seen < count and time.monotonic() < deadline:
                now_seen = poll("SELECT count(*) FROM notifications WHERE step = ?", LEVEL2)
                at = time.monotonic()
                lateness += [max(0.0, at - due_mono)] * (now_seen - seen)
                seen = now_seen
                time.sleep(0.02)
        with engine.connect() as connection:
            early = connection.execute(
                select(func.count())
                .select_from(models.Notification)
                .where(models.Notification.step == LEVEL2, models.Notification.created_at < due_wall)
            ).scalar_one()
    finally:
        server.stop()
        engine.dispose()
    return {"count": count, "declare_s": declare_s, "made": len(lateness), "lateness": lateness, "early": early}


@contextlib.contextmanager
def _poller(url: str) -> Iterator[Callable[[str, str], int]]:
    """Counts with a fresh snapshot each time and no lock: on SQLite a plain sqlite3 connection in
    autocommit mode, because Tocsin's engines begin every transaction IMMEDIATE (reads too), and a
    poller queueing for the write lock between the engine's batches would see rows late."""
    if url.startswith("sqlite"):
        raw = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None, timeout=30)
        try:
            yield lambda sql, value: int(raw.execute(sql, (value,)).fetchone()[0])
        finally:
            raw.close()
        return
    engine = make_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            yield lambda sql, value: int(connection.exec_driver_sql(sql.replace("?", "%s"), (value,)).scalar_one())
    finally:
        engine.dispose()


# ---- 3. pages/s ----------------------------------------------------------------------------------


def throughput(url: str, workdir: Path, sink: Sink, name: str, rows: int) -> dict[str, Any]:
    path = f"/{name}/throughput"
    now = datetime.now(UTC)
    prepare(url, sink, path, now)
    engine = make_engine(url)
    with engine.begin() as connection:
        user_id = connection.execute(text("SELECT id FROM users WHERE email = :e"), {"e": USER}).scalar_one()
        method_id = connection.execute(
            text("SELECT id FROM contact_methods WHERE user_id = :u"), {"u": user_id}
        ).scalar_one()
        payload = {"title": "bench page", "text": "bench", "severity": "P2", "fields": [["Service", "api"]]}
        rows_ = [
            {
                "idempotency_key": f"bench:{n}",
                "user_id": user_id,
                "contact_method_id": method_id,
                "kind": "page",
                "channel": "webhook",
                "step": "",
                "status": "pending",
                "due_at": now,
                "attempts": 0,
                "last_error": "",
                "payload": payload,
                "created_at": now,
            }
            for n in range(rows)
        ]
        connection.execute(insert(models.Notification), rows_)
    engine.dispose()
    since = len(sink.arrivals)
    server = serve(url, workdir, f"{name}-throughput")
    try:
        ready = time.monotonic()
        deadline = ready + 180
        while sink.count(path.encode(), since) < rows and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # a repeat would come right after
    finally:
        server.stop()
    arrived = [(at, body) for at, p, body in sink.arrivals[since:] if p == path.encode()]
    ids = collections.Counter(json.loads(body)["delivery"] for _, body in arrived)
    times = sorted(at for at, _ in arrived)
    span = (times[-1] - ready) if times else float("nan")
    steady = (times[int(0.9 * len(times))] - times[int(0.1 * len(times))]) if len(times) > 10 else float("nan")
    return {
        "rows": rows,
        "arrived": len(arrived),
        "distinct": len(ids),
        "repeats": sum(n - 1 for n in ids.values()),
        "per_s": len(times) / span if times else 0.0,
        "steady_per_s": 0.8 * len(times) / steady if steady == steady and steady > 0 else float("nan"),
    }


# ---- Alertmanager fan-out ------------------------------------------------------------------------


def alertmanager_fanout(workdir: Path, sink: Sink, alerts: int) -> dict[str, Any] | None:
    binary = shutil.which("prometheus-alertmanager")
    if binary is None:
        return None
    config = workdir / "am.yml"
    config.write_text(
        "route:\n  receiver: sink\n  group_by: [key]\n  group_wait: 0s\n  group_interval: 5m\n  repeat_interval: 4h\n"
        f"receivers:\n  - name: sink\n    webhook_configs:\n      - url: {sink.url}/am\n        send_resolved: false\n"
    )
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - a fixed binary and arguments
        [
            binary, f"--config.file={config}", f"--storage.path={workdir / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    am = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{am}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                return None
            time.sleep(0.1)
        since = len(sink.arrivals)
        ends = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        start = time.monotonic()
        with httpx.Client(timeout=30) as client:
            for first in range(0, alerts, 500):
                batch = [
                    {
                        "labels": {"alertname": "Bench", "key": f"k{n}"},
                        "annotations": {"summary": "bench"},
                        "endsAt": ends,
                    }
                    for n in range(first, min(alerts, first + 500))
                ]
                client.post(f"{am}/api/v2/alerts", json=batch).raise_for_status()
        posted = time.monotonic() - start
        deadline = time.monotonic() + 120
        while sink.count(b"/am", since) < alerts and time.monotonic() < deadline:
            time.sleep(0.1)
        times = sorted(at for at, p, _ in sink.arrivals[since:] if p == b"/am")
    finally:
        process.terminate()
        process.wait()
    span = times[-1] - start if times else float("nan")
    return {"alerts": alerts, "arrived": len(times), "post_s": posted, "per_s": len(times) / span if times else 0.0}


# ---- main ----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=200)
    parser.add_argument("--escalations", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=5_000)
    parser.add_argument("--skip-sqlite", action="store_true", help="PostgreSQL only (needs TOCSIN_BENCH_PG_URL)")
    parser.add_argument("--only", choices=["latency", "escalations", "throughput", "alertmanager"], action="append")
    args = parser.parse_args()
    only = set(args.only or ["latency", "escalations", "throughput", "alertmanager"])
    sink = Sink()
    sink.start()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        databases = {} if args.skip_sqlite else {"sqlite": f"sqlite:///{workdir}/bench.db"}
        if pg := os.environ.get("TOCSIN_BENCH_PG_URL"):
            databases["postgresql"] = pg
        for name, url in databases.items():
            if url.startswith("sqlite"):
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{workdir}/bench.db{suffix}").unlink(missing_ok=True)
            result: dict[str, Any] = {}
            if "latency" in only:
                result["latency"] = alert_latency(url, workdir, sink, name, args.alerts)
                print(f"{name}: latency done", file=sys.stderr)
            if "escalations" in only:
                if url.startswith("sqlite"):
                    Path(f"{workdir}/bench.db").unlink(missing_ok=True)
                result["escalations"] = open_escalations(url, workdir, sink, name, args.escalations)
                print(f"{name}: escalations done", file=sys.stderr)
            if "throughput" in only:
                if url.startswith("sqlite"):
                    Path(f"{workdir}/bench.db").unlink(missing_ok=True)
                result["throughput"] = throughput(url, workdir, sink, name, args.rows)
                print(f"{name}: throughput done", file=sys.stderr)
            results[name] = result
        am = alertmanager_fanout(workdir, sink, args.rows) if "alertmanager" in only else None

    print(f"Engine interval {INTERVAL} s; system clock; one `tocsin serve` process.\n")
    print(
        "| database | alert → first page p50 ms | p95 ms | p99 ms | max ms | paged/alerts | incidents "
        "| first alert ms |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, result in results.items():
        if r := result.get("latency"):
            ms = r["ms"]
            print(
                f"| {name} | {statistics.median(ms):.0f} | {pct(ms, 95):.0f} | {pct(ms, 99):.0f} | {max(ms):.0f} "
                f"| {r['paged']}/{r['alerts']} | {r['incidents']} | {r['cold_ms']:.0f} |"
            )
    print()
    print("| database | escalations | all level-2 rows after s | lateness p50 s | p99 s | p99 ≤ 1 s | made early |")
    print("|---|---|---|---|---|---|---|")
    for name, result in results.items():
        if r := result.get("escalations"):
            late = r["lateness"]
            done = f"{max(late):.1f}" if r["made"] == r["count"] else f"not done: {r['made']} in 180"
            p99 = pct(late, 99) if r["made"] == r["count"] else float("inf")
            print(
                f"| {name} | {r['count']} (declared in {r['declare_s']:.0f} s) | {done} | {pct(late, 50):.1f} "
                f"| {p99:.1f} | {'yes' if p99 <= 1 else 'no'} | {r['early']} |"
            )
    print()
    print("| target | pages | arrived | distinct | repeats | delivered/s (start → last) | steady/s (10-90 %) |")
    print("|---|---|---|---|---|---|---|")
    for name, result in results.items():
        if r := result.get("throughput"):
            print(
                f"| tocsin {name} | {r['rows']} | {r['arrived']} | {r['distinct']} | {r['repeats']} "
                f"| {r['per_s']:.0f} | {r['steady_per_s']:.0f} |"
            )
    if am:
        print(f"| alertmanager (group_wait 0) | {am['alerts']} | {am['arrived']} | - | - | {am['per_s']:.0f} | - |")
    uname = platform.uname()
    print(f"\n{uname.system} {uname.release} {uname.machine}, Python {platform.python_version()}")


if __name__ == "__main__":
    main()
