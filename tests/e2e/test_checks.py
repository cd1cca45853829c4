"""Health checks end to end, as the README tells it: a real `tocsin serve`, a check made with
`tocsin check create`, a local HTTP service that goes down and comes back.

The server's clock is its clock file: moving it a minute on brings each check's next
slot, and the server's own scheduler runs it. Three failed runs open an incident on
the service, which the team's channel (a fake webhook) hears of; two good runs
resolve the alert.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import START
from tests.support.fake_http import FakeHTTPServer
from tests.support.probe_servers import http_target, tcp_listener
from tests.support.server import ServerProcess, spawn

pytestmark = pytest.mark.slow

CONFIG = """
teams:
  - {key: platform, name: Platform}
services:
  - {key: api, name: Public API, team: platform}
channels:
  - name: team
    kind: webhook
    address: {hook}
    routes:
      - {events: ["incident.*"]}
"""
DEADLINE_S = 30.0  # a run follows a clock move within a claim or two; this is only the failure bound


def tocsin(workdir: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tocsin", *args], env={**os.environ, **env}, cwd=workdir, capture_output=True, text=True
    )
    assert done.returncode == 0, f"tocsin {' '.join(args)}:\n{done.stdout}{done.stderr}"
    return done.stdout


def eventually(what: str, probe: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.1)  # polling another process's work, not waiting on the clock
    raise AssertionError(f"timed out waiting for {what}")


def test_a_checked_service_going_down_opens_an_incident_on_its_channel_and_recovery_resolves_it(
    db_url: str, tmp_path: Path
) -> None:
    with http_target() as target, tcp_listener() as network, FakeHTTPServer() as hook:
        config = tmp_path / "tocsin.yaml"
        config.write_text(CONFIG.replace("{hook}", f"{hook.url}/team"))
        local = {"TOCSIN_DATABASE_URL": db_url, "HOME": str(tmp_path)}
        tocsin(tmp_path, local, "migrate")
        tocsin(tmp_path, local, "apply", "-f", str(config))
        clock_file = tmp_path / "clock"
        clock_file.write_text(START.isoformat())
        env = {"TOCSIN_CHECK_CONNECTIVITY": f"127.0.0.1:{network}"}
        server: ServerProcess = spawn(db_url, tmp_path, clock_file, START, env_extra=env)
        try:
            printed = tocsin(tmp_path, local, "token", "create", "--user", "root@example.com", "--scope", "admin")
            token = re.search(r"tcn_\S+", printed)
            assert token is not None, printed
            remote = {**local, "TOCSIN_URL": server.url, "TOCSIN_TOKEN": token.group(0)}
            headers = {"Authorization": f"Bearer {token.group(0)}"}

            created = tocsin(
                tmp_path, remote, "check", "create", "api-health", "--service", "api", "--http",
                f"{target.url}/healthz", "--condition", '$.status == "ok"',
            )  # fmt: skip
            assert created.startswith("Created check api-health for service api")

            def show() -> dict[str, Any]:
                answer = httpx.get(f"{server.url}/api/v1/checks/api-health", headers=headers)
                answer.raise_for_status()
                found: dict[str, Any] = answer.json()
                return found

            def run_next_slot() -> dict[str, Any]:
                before = show()["last_result_at"]
                server.advance(timedelta(seconds=61))
                return eventually("the next run", lambda: (c := show())["last_result_at"] != before and c)  # type: ignore[no-any-return]

            assert run_next_slot()["status"] == "up"
            target.stop()  # the service goes down
            for failures in (1, 2):  # not yet: a blip pages nobody
                still = run_next_slot()
                assert (still["status"], still["failures"]) == ("up", failures)
            down = run_next_slot()
            assert down["status"] == "down"
            assert down["last_reason"].startswith("connection refused or unreachable")

            def incidents() -> list[dict[str, Any]]:
                answer = httpx.get(f"{server.url}/api/v1/incidents", params={"status": "all"}, headers=headers)
                items: list[dict[str, Any]] = answer.json()["items"]
                return items

            [incident] = eventually("the incident", incidents)
            assert "api" in str(incident["services"])
            posted = eventually("the channel post", lambda: [r.json() for r in hook.requests])
            assert posted[0]["incident"] == incident["human_id"]

            target.start()  # back
            assert run_next_slot()["status"] == "down"  # one success is not a recovery
            assert run_next_slot()["status"] == "up"
            alerts = httpx.get(f"{server.url}/api/v1/alerts", headers=headers).json()
            items = alerts["items"] if isinstance(alerts, dict) else alerts
            assert [(a["dedup_key"], a["status"]) for a in items] == [("check:api-health", "resolved")]
        finally:
            server.stop()
