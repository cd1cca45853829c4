"""Heartbeats through the app: healthchecks-style ping URLs, and the management API."""

from __future__ import annotations

import subprocess
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import Personas
from tests.support.server import ServerProcess
from tocsin.clock import FrozenClock
from tocsin.config import Settings
from tocsin.domain.heartbeats import BODY_LIMIT
from tocsin.services import heartbeats
from tocsin.storage.models import HeartbeatPing


def create(client: TestClient, personas: Personas, **body: Any) -> dict[str, Any]:
    answer = client.post(
        "/api/v1/heartbeats",
        json={"service": "api", "name": "nightly-backup", "period_s": 3600, "grace_s": 300, **body},
        headers=personas.bob.headers,
    )
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def show(client: TestClient, personas: Personas, ref: str, **params: Any) -> dict[str, Any]:
    answer = client.get(f"/api/v1/heartbeats/{ref}", params=params, headers=personas.charlie.headers)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def test_a_new_heartbeat_gets_a_ping_url_under_the_public_url(
    client: TestClient, personas: Personas, settings: Settings
) -> None:
    created = create(client, personas)
    assert created["ping_url"] == f"{settings.public_url}/ping/{created['uuid']}"
    assert created["status"] == "new"
    assert created["next_due_at"] is None
    assert uuid.UUID(created["uuid"]).version == 4


@pytest.mark.parametrize("method", ["GET", "POST", "HEAD"])
def test_every_ping_url_form_answers_ok_as_healthchecks_does(
    client: TestClient, personas: Personas, method: str
) -> None:
    code = create(client, personas)["uuid"]
    forms = [("", "success", None), ("/start", "start", None), ("/0", "success", 0), ("/log", "log", None)]
    forms += [("/fail", "fail", None), ("/3", "fail", 3), ("/255", "fail", 255)]
    for suffix, _kind, _status in forms:
        answer = client.request(method, f"/ping/{code}{suffix}")
        assert answer.status_code == 200, suffix
        assert answer.text == ("" if method == "HEAD" else "OK")
        assert answer.headers["ping-body-limit"] == "10000"
        assert answer.headers["access-control-allow-origin"] == "*"
    pings = show(client, personas, code)["recent_pings"]
    assert [(p["kind"], p["exit_status"]) for p in reversed(pings)] == [(k, s) for _, k, s in forms]
    assert {p["method"] for p in pings} == {method}


def test_an_unknown_heartbeat_or_a_malformed_url_is_refused_in_healthchecks_words(
    client: TestClient, personas: Personas, session: Session
) -> None:
    code = create(client, personas)["uuid"]
    for path, status, text in [
        (f"/ping/{uuid.uuid4()}", 404, "not found"),
        (f"/ping/{uuid.uuid4()}/fail", 404, "not found"),
        ("/ping/not-a-uuid", 404, "not found"),
        (f"/ping/{code}/256", 400, "invalid url format"),
        (f"/ping/{code}/finish", 404, "not found"),
        (f"/ping/{code}?rid=run-1", 400, "invalid uuid format"),
    ]:
        answer = client.post(path)
        assert (answer.status_code, answer.text) == (status, text), path
    assert session.scalar(select(func.count()).select_from(HeartbeatPing)) == 0


def test_the_ping_body_is_kept_as_its_log_up_to_the_limit(client: TestClient, personas: Personas) -> None:
    code = create(client, personas)["uuid"]
    client.post(f"/ping/{code}/fail", content=b"rsync: connection refused\n", headers={"User-Agent": "curl/8.5.0"})
    client.post(f"/ping/{code}/log", content=b"x" * 12_000)
    log, fail = show(client, personas, code)["recent_pings"]
    assert fail["body"] == "rsync: connection refused\n"
    assert not fail["body_truncated"]
    assert fail["user_agent"] == "curl/8.5.0"
    assert fail["remote_addr"] == "testclient"
    assert len(log["body"]) == BODY_LIMIT
    assert log["body_truncated"]


def test_a_uuid_in_capitals_or_with_a_body_that_is_not_utf8_still_counts(
    client: TestClient, personas: Personas
) -> None:
    code = create(client, personas)["uuid"]
    assert client.post(f"/ping/{code.upper()}", content=b"\xff\xfeok").status_code == 200
    [ping] = show(client, personas, code)["recent_pings"]
    assert ping["body"] == "\ufffd\ufffdok"


def test_a_finish_pairs_with_the_start_of_the_same_run_id(
    client: TestClient, personas: Personas, clock: FrozenClock
) -> None:
    code = create(client, personas)["uuid"]
    first, second = uuid.uuid4(), uuid.uuid4()
    client.get(f"/ping/{code}/start", params={"rid": str(first)})
    clock.advance(timedelta(minutes=1))
    client.get(f"/ping/{code}/start", params={"rid": str(second)})
    clock.advance(timedelta(minutes=2))
    client.get(f"/ping/{code}", params={"rid": str(first)})
    found = show(client, personas, code)
    assert found["last_duration_s"] == 180
    assert found["running"] is True  # the second run has not finished
    clock.advance(timedelta(minutes=2))
    client.get(f"/ping/{code}/0", params={"rid": str(second)})
    found = show(client, personas, code)
    assert found["last_duration_s"] == 240
    assert found["running"] is False
    assert found["recent_pings"][0]["duration_s"] == 240


def test_a_start_and_a_success_without_run_ids_measure_the_run(
    client: TestClient, personas: Personas, clock: FrozenClock
) -> None:
    code = create(client, personas)["uuid"]
    client.get(f"/ping/{code}/start")
    assert show(client, personas, code)["running"] is True
    clock.advance(timedelta(seconds=42))
    client.get(f"/ping/{code}")
    found = show(client, personas, code)
    assert (found["status"], found["running"], found["last_duration_s"]) == ("up", False, 42)


def test_the_status_goes_up_late_and_down_as_the_clock_moves(
    client: TestClient, personas: Personas, clock: FrozenClock
) -> None:
    code = create(client, personas)["uuid"]
    client.get(f"/ping/{code}")
    assert show(client, personas, code)["status"] == "up"
    clock.advance(timedelta(hours=1, seconds=1))
    assert show(client, personas, code)["status"] == "late"
    clock.advance(timedelta(minutes=5))
    assert show(client, personas, code)["status"] == "down"


def test_only_the_newest_pings_are_kept(client: TestClient, personas: Personas, session: Session) -> None:
    code = create(client, personas)["uuid"]
    for n in range(heartbeats.KEEP_PINGS + 25):
        client.post(f"/ping/{code}/log", content=str(n + 1).encode())
    kept = session.scalars(select(HeartbeatPing.n).order_by(HeartbeatPing.n)).all()
    session.commit()  # ends the read: on SQLite it holds the write lock
    assert len(kept) <= heartbeats.KEEP_PINGS + heartbeats.PRUNE_EVERY
    assert kept[-1] == heartbeats.KEEP_PINGS + 25
    assert kept[0] > 25 - heartbeats.PRUNE_EVERY
    found = show(client, personas, code, pings=100)
    assert found["pings"] == heartbeats.KEEP_PINGS + 25
    assert len(found["recent_pings"]) == 100
    assert found["recent_pings"][0]["body"] == str(heartbeats.KEEP_PINGS + 25)


def test_a_paused_heartbeat_records_pings_and_changes_nothing_until_resumed(
    client: TestClient, personas: Personas
) -> None:
    code = create(client, personas)["uuid"]
    client.get(f"/ping/{code}")
    paused = client.post("/api/v1/heartbeats/nightly-backup/pause", headers=personas.bob.headers)
    assert paused.status_code == 200
    assert (paused.json()["status"], paused.json()["next_due_at"]) == ("paused", None)
    assert client.get(f"/ping/{code}/fail").status_code == 200
    found = show(client, personas, code)
    assert (found["status"], found["recent_pings"][0]["kind"]) == ("paused", "fail")
    resumed = client.post(f"/api/v1/heartbeats/{code}/resume", headers=personas.bob.headers)
    assert resumed.json()["status"] == "new"
    assert client.post(f"/api/v1/heartbeats/{code}/resume", headers=personas.bob.headers).status_code == 409
    client.get(f"/ping/{code}")
    assert show(client, personas, code)["status"] == "up"


def test_listing_and_deleting(client: TestClient, personas: Personas) -> None:
    code = create(client, personas)["uuid"]
    create(client, personas, name="queue-worker", service="web", period_s=60, grace_s=60)
    listed = client.get("/api/v1/heartbeats", headers=personas.charlie.headers).json()
    assert [h["name"] for h in listed] == ["nightly-backup", "queue-worker"]
    only_web = client.get("/api/v1/heartbeats", params={"service": "web"}, headers=personas.charlie.headers)
    assert [h["name"] for h in only_web.json()] == ["queue-worker"]
    assert client.delete("/api/v1/heartbeats/nightly-backup", headers=personas.bob.headers).status_code == 204
    assert client.get(f"/api/v1/heartbeats/{code}", headers=personas.charlie.headers).status_code == 404
    assert client.get(f"/ping/{code}").status_code == 404


def test_a_viewer_reads_heartbeats_and_changes_none(client: TestClient, personas: Personas) -> None:
    create(client, personas)
    viewer = personas.charlie.headers
    assert client.get("/api/v1/heartbeats", headers=viewer).status_code == 200
    body = {"service": "api", "name": "other", "period_s": 60}
    assert client.post("/api/v1/heartbeats", json=body, headers=viewer).status_code == 403
    assert client.post("/api/v1/heartbeats/nightly-backup/pause", headers=viewer).status_code == 403
    assert client.delete("/api/v1/heartbeats/nightly-backup", headers=viewer).status_code == 403
    assert client.get("/api/v1/heartbeats").status_code == 401
    assert show(client, personas, "nightly-backup")["status"] == "new"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"period_s": None}, 422, "period"),
        ({"cron": "0 3 * * *"}, 422, "period"),  # both
        ({"period_s": None, "cron": "every night"}, 422, "cron"),
        ({"period_s": None, "cron": "0 3 * * * 2030"}, 422, "cron"),
        ({"period_s": None, "cron": "0 3 * * *", "time_zone": "Mars/Olympus"}, 422, "time_zone"),
        ({"min_run_s": 600, "max_run_s": 60}, 422, "min_run"),
        ({"name": "Nightly Backup"}, 422, "name"),
        ({"service": "nope"}, 404, "service"),
    ],
)
def test_a_heartbeat_that_cannot_work_is_refused_naming_the_field(
    client: TestClient, personas: Personas, body: dict[str, Any], status: int, field: str
) -> None:
    full = {"service": "api", "name": "nightly-backup", "period_s": 3600, **body}
    answer = client.post("/api/v1/heartbeats", json=full, headers=personas.bob.headers)
    assert answer.status_code == status, answer.text
    assert answer.json()["field"] == field


def test_two_heartbeats_cannot_share_a_name(client: TestClient, personas: Personas) -> None:
    create(client, personas)
    body = {"service": "web", "name": "nightly-backup", "period_s": 60}
    answer = client.post("/api/v1/heartbeats", json=body, headers=personas.bob.headers)
    assert (answer.status_code, answer.json()["field"]) == (409, "name")


def _curl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["curl", "-fsS", "-m", "10", *args], capture_output=True, text=True, check=False)


@pytest.mark.slow
def test_the_curl_lines_of_a_crontab_work_against_a_real_server(
    server: ServerProcess, personas: Personas, tmp_path: Path
) -> None:
    body = {"service": "api", "name": "nightly-backup", "period_s": 86400, "grace_s": 600}
    created = httpx.post(f"{server.url}/api/v1/heartbeats", json=body, headers=personas.bob.headers, timeout=10)
    assert created.status_code == 201, created.text
    # The server's public URL is http://127.0.0.1:<port>, where this server listens.
    url = created.json()["ping_url"]
    assert url.startswith(server.url)
    log = tmp_path / "backup.log"
    log.write_text("backed up 12 GB\n")
    run = str(uuid.uuid4())

    started = _curl("--retry", "5", f"{url}/start?rid={run}")
    assert (started.returncode, started.stdout) == (0, "OK")
    server.advance(timedelta(minutes=3))
    finished = _curl("--retry", "5", "--data-binary", f"@{log}", f"{url}/0?rid={run}")
    assert (finished.returncode, finished.stdout) == (0, "OK")
    head = _curl("-I", url)
    assert head.returncode == 0
    assert head.stdout.startswith("HTTP/1.1 200")
    # curl -f exits 22 on a 404: a crontab's mail says the URL is wrong.
    assert _curl(f"{server.url}/ping/{uuid.uuid4()}").returncode == 22

    shown = httpx.get(f"{server.url}/api/v1/heartbeats/nightly-backup", headers=personas.bob.headers, timeout=10)
    heartbeat = shown.json()
    assert (heartbeat["status"], heartbeat["last_duration_s"]) == ("up", 180)
    success = next(p for p in heartbeat["recent_pings"] if p["exit_status"] == 0)
    assert success["body"] == "backed up 12 GB\n"
    assert success["user_agent"].startswith("curl/")
    assert success["remote_addr"] == "127.0.0.1"
    assert {p["method"] for p in heartbeat["recent_pings"]} == {"GET", "POST", "HEAD"}

    # A day and the grace later with no ping, the server's own engine raises the alert.
    server.advance(timedelta(days=1, minutes=10))
    deadline = time.monotonic() + 30
    alerts: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not alerts:
        page = httpx.get(f"{server.url}/api/v1/alerts", headers=personas.bob.headers, timeout=10).json()
        alerts = page["items"]
        time.sleep(0.1)
    [alert] = alerts
    assert alert["summary"].startswith("Heartbeat nightly-backup is down: no ping since")
    assert alert["incident"] is not None
    assert _curl(url).stdout == "OK"
    resolved = httpx.get(f"{server.url}/api/v1/alerts/{alert['id']}", headers=personas.bob.headers, timeout=10)
    assert resolved.json()["status"] == "resolved"
