"""Benchmark: every page of the responders' app and the status page, at scale.

For each database (a SQLite file; PostgreSQL when TOCSIN_BENCH_PG_URL is set) the
database is filled as a busy team's would be after a year: 1,000 health checks
with 90 days of hourly rollups and `--raw-days` (7, the default retention) of raw
results at a 60 s interval, 10,000 incidents over the year (a few open) with
timelines and alerts, changes, crash groups, heartbeats, 50 users, a schedule and
a policy. Then a real `tocsin serve` starts, the benchmark logs in through the
form like a browser, and fetches each page: once cold, then `--repeat` times;
it reports the cold time, p50 and max in ms, and the page's size. Target: every
page under 1 s (issue 6), where Uptime Kuma takes ~45 s an action at 700 monitors.

    .venv/bin/python bench/web_pages.py [--raw-days 7] [--repeat 10] [--workdir DIR]

(`--workdir` keeps the seeded databases; a second run with it measures them again without
seeding: for PostgreSQL, the same TOCSIN_BENCH_PG_URL.)
    TOCSIN_BENCH_PG_URL=postgresql://tocsin:tocsin@127.0.0.1:5432/tocsin_bench .venv/bin/python bench/web_pages.py
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Connection, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.server import free_port, stop_process  # noqa: E402

from tocsin.domain import checks as check_rules  # noqa: E402
from tocsin.services import bootstrap, checks, directory, passwords, policies, schedules  # noqa: E402
from tocsin.services.actor import Actor  # noqa: E402
from tocsin.storage import bulk, migrate, models  # noqa: E402
from tocsin.storage.db import make_engine, make_sessionmaker  # noqa: E402

PASSWORD = "benchmark password"  # noqa: S105 - a throwaway database's admin
CHECKS = 1000
INCIDENTS = 10_000
SERVICES = 20
SEVERITIES = ("P0", "P1", "P2", "P3")


def _chunks(rows: list[tuple[Any, ...]], size: int = 50_000) -> list[list[tuple[Any, ...]]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def _insert(connection: Connection, model: type[models.Base], columns: tuple[str, ...], rows: Any) -> int:
    """Insert rows (an iterable of tuples in the driver's form) in chunks; returns how many."""
    table = model.__table__
    done = 0
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= 50_000:
            bulk.insert_rows(connection, table, columns, batch)  # type: ignore[arg-type]
            done += len(batch)
            batch = []
    if batch:
        bulk.insert_rows(connection, table, columns, batch)  # type: ignore[arg-type]
        done += len(batch)
    return done


def prepare(url: str, raw_days: int, now: datetime) -> dict[str, Any]:
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(engine)
    system = Actor.system("bench")
    sessions = make_sessionmaker(engine)
    rng = random.Random(7)
    started = time.perf_counter()
    with sessions() as session:
        bootstrap.first_start(session, now, "root@example.com")
        passwords.set_password(session, system, now, "root@example.com", PASSWORD)
        directory.create_team(session, system, now, key="platform", name="Platform")
        for i in range(50):
            directory.create_user(session, system, now, email=f"user{i:02d}@example.com", name=f"User {i:02d}")
        schedules.create_schedule(
            session,
            system,
            now,
            key="primary",
            name="Primary on-call",
            layers=[
                schedules.LayerSpec(
                    name="weekly",
                    participants=[f"user{i:02d}@example.com" for i in range(8)],
                    start=now - timedelta(days=30),
                )
            ],
        )
        policies.create_policy(
            session,
            system,
            now,
            key="default",
            levels=[
                policies.LevelSpec(300, [policies.TargetSpec("schedule", "primary")]),
                policies.LevelSpec(300, [policies.TargetSpec("user", "user10@example.com")]),
            ],
            repeat=1,
        )
        for i in range(SERVICES):
            directory.create_service(session, system, now, key=f"svc-{i:02d}", name=f"Service {i:02d}", team="platform")
        for i in range(CHECKS):
            definition = checks.Definition(kind="http", spec={"url": f"http://127.0.0.1:9/health/{i}"}, interval_s=60)
            checks.create(
                session,
                system,
                now,
                service_key=f"svc-{i % SERVICES:02d}",
                name=f"check-{i:04d}",
                definition=definition,
            )
        session.commit()
    ids: dict[str, Any] = {}
    with engine.begin() as connection:
        time_of = bulk.driver_time(connection.dialect)
        check_ids = [row[0] for row in connection.execute(text("SELECT id FROM checks ORDER BY id"))]
        service_ids = [row[0] for row in connection.execute(text("SELECT id FROM services ORDER BY id"))]
        # A few checks down, as on a bad day.
        down = ",".join(str(i) for i in check_ids[:12])  # ids from the database, not input
        connection.execute(
            text(f"UPDATE checks SET status = 'down', last_up = false, failures = 5 WHERE id IN ({down})")  # noqa: S608
        )
        connection.execute(text("UPDATE checks SET status = 'up', last_up = true WHERE status <> 'down'"))
        hour0 = check_rules.hour_of(now) - timedelta(days=90)
        histogram = [0] * len(check_rules.BUCKETS)
        histogram[check_rules.bucket_of(42)] = 58
        histogram[check_rules.bucket_of(180)] = 2
        histogram_text = json.dumps(histogram)
        rollups = _insert(
            connection,
            models.CheckRollup,
            ("check_id", "hour", "count", "up", "held", "max_ms", "histogram"),
            (
                (
                    check_id,
                    time_of(hour0 + timedelta(hours=h)),
                    60,
                    60 if rng.random() > 0.002 else 45,
                    0,
                    180,
                    histogram_text,
                )
                for check_id in check_ids
                for h in range(90 * 24)
            ),
        )
        first_raw = now - timedelta(days=raw_days)
        raw = _insert(
            connection,
            models.CheckResult,
            ("check_id", "at", "slot", "up", "held", "response_ms", "reason"),
            (
                (
                    check_id,
                    time_of(first_raw + timedelta(minutes=m, seconds=1)),
                    time_of(first_raw + timedelta(minutes=m)),
                    True,
                    False,
                    40 + (m * 7 + check_id) % 50,
                    "",
                )
                for check_id in check_ids
                for m in range(raw_days * 24 * 60)
            ),
        )
        # Incidents over the year; the newest few still open.
        incident_rows = []
        per_day: dict[str, int] = {}
        for n in range(INCIDENTS):
            declared = now - timedelta(days=365) + timedelta(minutes=n * 365 * 24 * 60 // INCIDENTS)
            day = declared.strftime("%Y-%m-%d")
            per_day[day] = per_day.get(day, 0) + 1
            is_open = n >= INCIDENTS - 8
            status = "investigating" if is_open else "resolved"
            resolved = None if is_open else time_of(declared + timedelta(minutes=47))
            incident_rows.append(
                (
                    f"INC-{day}-{per_day[day]:03d}",
                    f"Incident {n}: checkout errors on svc-{n % SERVICES:02d}",
                    "",
                    SEVERITIES[n % 4],
                    status,
                    False,
                    time_of(declared),
                    time_of(declared + timedelta(minutes=3)),
                    None,
                    resolved,
                    None,
                    time_of(declared + timedelta(minutes=47)),
                )
            )
        _insert(
            connection,
            models.Incident,
            (
                "human_id",
                "title",
                "impact",
                "severity",
                "status",
                "drill",
                "declared_at",
                "acknowledged_at",
                "mitigated_at",
                "resolved_at",
                "canceled_at",
                "updated_at",
            ),
            incident_rows,
        )
        incident_ids = [row[0] for row in connection.execute(text("SELECT id FROM incidents ORDER BY id"))]
        _insert(
            connection,
            models.IncidentService,
            ("incident_id", "service_id"),
            ((incident_id, service_ids[i % SERVICES]) for i, incident_id in enumerate(incident_ids)),
        )
        timeline = _insert(
            connection,
            models.TimelineEntry,
            ("incident_id", "kind", "at", "actor_id", "actor_name", "summary", "data"),
            (
                (incident_id, kind, incident_rows[i][6], None, "bench", summary, data)
                for i, incident_id in enumerate(incident_ids)
                for kind, summary, data in (
                    ("declared", "Declared", "{}"),
                    ("alert", "Alert attached", "{}"),
                    ("status", "Acknowledged", "{}"),
                    ("update", "Rolling back the deploy", '{"public": true}'),
                    ("note", "Looks like the cache", "{}"),
                )
            ),
        )
        integration_id = connection.execute(
            text(
                "INSERT INTO integrations (service_id, kind, name, key_hash, key_prefix, settings, managed, "
                "created_at) VALUES (:s, 'alertmanager', 'prom', 'x', 'x', '{}', false, :t) RETURNING id"
            ),
            {"s": service_ids[0], "t": time_of(now)},
        ).scalar_one()
        alerts = _insert(
            connection,
            models.Alert,
            (
                "integration_id",
                "service_id",
                "dedup_key",
                "status",
                "severity",
                "sender_severity",
                "urgency",
                "summary",
                "source",
                "labels",
                "details",
                "links",
                "raw",
                "group_key",
                "count",
                "first_seen",
                "last_seen",
                "incident_id",
            ),
            (
                (
                    integration_id,
                    service_ids[i % SERVICES],
                    f"alert-{i}-{k}",
                    "resolved",
                    SEVERITIES[i % 4],
                    "critical",
                    "high",
                    f"HighErrorRate on svc-{i % SERVICES:02d}",
                    "prometheus",
                    '{"alertname": "HighErrorRate"}',
                    "{}",
                    "[]",
                    "",
                    "",
                    1 + k,
                    incident_rows[i][6],
                    incident_rows[i][6],
                    incident_id,
                )
                for i, incident_id in enumerate(incident_ids)
                for k in range(3)
            ),
        )
        changes = _insert(
            connection,
            models.Change,
            (
                "service_id",
                "summary",
                "source",
                "occurred_at",
                "received_at",
                "details",
                "links",
                "version",
                "environment",
                "status",
                "commit_sha",
                "author",
            ),
            (
                (
                    service_ids[i % SERVICES],
                    f"Deploy v1.{i}",
                    "github",
                    time_of(now - timedelta(hours=i)),
                    time_of(now - timedelta(hours=i)),
                    "{}",
                    "[]",
                    f"v1.{i}",
                    "production",
                    "success",
                    f"{i:040x}",
                    "dana",
                )
                for i in range(5000)
            ),
        )
        ids = {
            "open_incident": incident_rows[-1][0],
            "old_incident": incident_rows[100][0],
            "check": "check-0001",
            "down_check": "check-0000",
            "service": "svc-01",
        }
    print(
        f"  seeded {url.split(':')[0]}: {CHECKS} checks, {rollups:,} rollups, {raw:,} raw results, "
        f"{len(incident_rows):,} incidents, {timeline:,} timeline entries, {alerts:,} alerts, {changes:,} changes "
        f"in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    engine.dispose()
    return ids


def pages(ids: dict[str, Any]) -> list[str]:
    return [
        "/",
        "/incidents",
        "/incidents?status=all",
        "/incidents?status=all&page=150",
        f"/incidents/{ids['open_incident']}",
        f"/incidents/{ids['old_incident']}",
        "/alerts",
        "/services",
        f"/services/{ids['service']}",
        "/schedules",
        "/schedules/primary",
        "/policies",
        "/policies/default",
        "/checks",
        "/checks?status=down",
        f"/checks/{ids['check']}",
        f"/checks/{ids['check']}?range=90d",
        f"/checks/{ids['down_check']}?range=7d",
        "/heartbeats",
        "/crashes",
        "/changes",
        "/settings",
        "/settings/users",
        "/settings/teams",
        "/settings/integrations",
        "/settings/channels",
        "/profile",
        "/incidents/new",
        "/crashes/releases",
        "/status",
        "/status/history",
        "/api/v2/summary.json",
    ]


@dataclass
class Timing:
    database: str
    path: str
    status: int
    cold_ms: float
    p50_ms: float
    max_ms: float
    kib: float


def measure(name: str, url: str, raw_days: int, repeat: int, workdir: Path) -> list[Timing]:
    now = datetime.now(UTC).replace(microsecond=0)
    seeded = workdir / f"{name}-ids.json"
    if seeded.exists():  # --workdir kept from an earlier run: the same data, measured again
        ids = json.loads(seeded.read_text())
    else:
        ids = prepare(url, raw_days, now)
        seeded.write_text(json.dumps(ids))
    port = free_port()
    env = {
        **os.environ,
        "TOCSIN_DATABASE_URL": url,
        "TOCSIN_PORT": str(port),
        "TOCSIN_CHECKS": "off",  # the pages are measured, not the probes
        "TOCSIN_LOG_LEVEL": "warning",
    }
    env.pop("TOCSIN_TEST_CLOCK_FILE", None)
    with open(workdir / f"{name}.log", "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "tocsin", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir
        )
    timings = []
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=60) as client:
            for _ in range(200):
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            answer = client.post("/login", data={"email": "root@example.com", "password": PASSWORD, "next": "/"})
            if answer.status_code != 303 or "tocsin_session" not in client.cookies:
                raise RuntimeError(f"login failed: {answer.status_code}")
            for path in pages(ids):
                began = time.perf_counter()
                response = client.get(path)
                cold = (time.perf_counter() - began) * 1000
                samples = []
                for _ in range(repeat):
                    began = time.perf_counter()
                    client.get(path)
                    samples.append((time.perf_counter() - began) * 1000)
                samples.sort()
                timings.append(
                    Timing(
                        name,
                        path,
                        response.status_code,
                        cold,
                        samples[len(samples) // 2],
                        samples[-1],
                        len(response.content) / 1024,
                    )
                )
    finally:
        stop_process(server, timeout=30)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--raw-days", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--workdir", type=Path, help="keep the databases here and reuse them on the next run")
    args = parser.parse_args()
    results: list[Timing] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        targets = [("sqlite", f"sqlite:///{workdir / 'bench.db'}")]
        if os.environ.get("TOCSIN_BENCH_PG_URL"):
            targets.append(("postgresql", os.environ["TOCSIN_BENCH_PG_URL"]))
        for name, url in targets:
            results.extend(measure(name, url, args.raw_days, args.repeat, workdir))
    print("| database | page | status | cold ms | p50 ms | max ms | KiB |")
    print("|---|---|---|---|---|---|---|")
    for t in results:
        flag = "" if max(t.cold_ms, t.max_ms) < 1000 else " **over 1 s**"
        print(
            f"| {t.database} | `{t.path}` | {t.status} | {t.cold_ms:.0f} | {t.p50_ms:.0f} | {t.max_ms:.0f}{flag} "
            f"| {t.kib:.0f} |"
        )


if __name__ == "__main__":
    main()
