"""The README's "Watching a service" walkthrough, end to end, against one real `tocsin serve`.

One config file declares the services, the two channels, an HTTP check, a cron heartbeat,
a GitHub integration and a Sentry project; `tocsin apply` prints the URLs to paste. Then
each signal source fails the way it does in life — the checked service stops answering,
the nightly job does not ping, CI fails twice in a row, an app raises an exception (the
real `sentry-sdk`, by DSN) — and each opens an incident on its own service that the
`#alerts` channel hears of (the crash also reaches `#crashes`); recovery resolves each.

The channels are generic webhooks to a fake receiver here: the README's Slack and Discord
kinds only format the same messages differently (tested in tests/channels and the paging
end-to-end tests). The server's clock is its clock file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import START
from tests.support import protocols
from tests.support.fake_http import FakeHTTPServer
from tests.support.probe_servers import http_target, tcp_listener
from tests.support.server import ServerProcess, spawn
from tocsin.integrations.github import sign

pytestmark = pytest.mark.slow

# The README's file, with the two channels pointed at the fake receiver and the check at a local
# service.
CONFIG = """
services:
  - {key: api, name: Public API}
  - {key: jobs, name: Batch jobs}
  - {key: web, name: Web app}
  - {key: app, name: Mobile app}
channels:
  - name: alerts
    kind: webhook
    address_env: ALERTS_WEBHOOK
    routes:
      - events: ["incident.*"]
  - name: crashes
    kind: webhook
    address_env: CRASHES_WEBHOOK
    routes:
      - events: ["crash.*"]
checks:
  - name: api-health
    service: api
    http: {url: "{target}/healthz", conditions: ['$.status == "ok"']}
heartbeats:
  - name: nightly-backup
    service: jobs
    cron: "0 3 * * *"
    time_zone: Europe/Berlin
    grace: 30m
integrations:
  - {service: web, kind: github, secret_env: GITHUB_WEBHOOK_SECRET}
  - {service: app, kind: sentry}
"""
APP = """
import sentry_sdk

sentry_sdk.init(dsn={dsn!r}, release="shop@2.0.1", environment="production")


def checkout(cart):
    return cart["total"] / cart["items"]


checkout({{"total": 3, "items": 0}})
"""
SECRET = "0f4c2a9e7d1b3c5a6e8f0a2b4c6d8e0f1a3b5c7d"
DEADLINE_S = 30.0
CHECK = "/api/v1/checks/api-health"


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


def printed(output: str, pattern: str) -> str:
    found = re.search(pattern, output)
    assert found is not None, f"{pattern!r} not in:\n{output}"
    return found.group(1)


class Watcher:
    """The server, the person's token, and the two channels' receiver."""

    def __init__(self, server: ServerProcess, token: str, channels: FakeHTTPServer) -> None:
        self.server, self.channels = server, channels
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **params: str) -> Any:
        answer = httpx.get(f"{self.server.url}{path}", params=params, headers=self.headers, timeout=10)
        answer.raise_for_status()
        return answer.json()

    def incident_of(self, service: str) -> dict[str, Any]:
        def found() -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = self.get("/api/v1/incidents", status="all")["items"]
            return [i for i in items if i["services"] == [service]]

        (incident,) = eventually(f"an incident on {service}", found)
        opened: dict[str, Any] = incident
        return opened

    def status_becomes(self, incident: dict[str, Any], status: str) -> None:
        path = f"/api/v1/incidents/{incident['human_id']}"
        eventually(f"{incident['human_id']} {status}", lambda: self.get(path)["status"] == status)

    def heard(self, channel: str, incident: dict[str, Any]) -> list[dict[str, Any]]:
        """What the channel received about the incident, once something has."""

        def said() -> list[dict[str, Any]]:
            return [
                r.json()
                for r in self.channels.requests
                if r.route == f"/{channel}" and r.json()["incident"] == incident["human_id"]
            ]

        posts: list[dict[str, Any]] = eventually(f"#{channel} hearing of {incident['human_id']}", said)
        return posts

    def alerts_of(self, service: str) -> list[tuple[str, str]]:
        items = self.get("/api/v1/alerts", service=service)["items"]
        return sorted((a["dedup_key"], a["status"]) for a in items)


def test_an_http_check_a_cron_heartbeat_github_and_a_sentry_dsn_each_open_their_incident_and_recovery_resolves_it(
    db_url: str, tmp_path: Path
) -> None:
    with http_target() as target, tcp_listener() as network, FakeHTTPServer() as channels:
        config = tmp_path / "watch.yaml"
        config.write_text(CONFIG.replace("{target}", target.url))
        local = {
            "TOCSIN_DATABASE_URL": db_url,
            "HOME": str(tmp_path),
            "ALERTS_WEBHOOK": f"{channels.url}/alerts",
            "CRASHES_WEBHOOK": f"{channels.url}/crashes",
            "GITHUB_WEBHOOK_SECRET": SECRET,
        }
        clock_file = tmp_path / "clock"
        clock_file.write_text(START.isoformat())
        local["TOCSIN_TEST_CLOCK_FILE"] = str(clock_file)  # `tocsin apply` works on the server's time
        tocsin(tmp_path, local, "migrate")
        server = spawn(
            db_url, tmp_path, clock_file, START, env_extra={"TOCSIN_CHECK_CONNECTIVITY": f"127.0.0.1:{network}"}
        )
        try:
            # As the README: every URL printed is on the address people reach Tocsin at.
            applied = tocsin(tmp_path, {**local, "TOCSIN_PUBLIC_URL": server.url}, "apply", "-f", str(config))
            github_url = printed(applied, r"github: (\S+)")
            ping = printed(applied, r"Ping URL of new heartbeat nightly-backup:\s+(\S+)")
            dsn = printed(applied, r"sentry: (\S+)")
            assert github_url.startswith(f"{server.url}/")
            assert ping.startswith(f"{server.url}/ping/")
            token = printed(
                tocsin(tmp_path, local, "token", "create", "--user", "root@example.com", "--scope", "admin"),
                r"(tcn_\S+)",
            )
            watcher = Watcher(server, token, channels)
            remote = {**local, "TOCSIN_URL": server.url, "TOCSIN_TOKEN": token}

            the_check_goes_down_and_comes_back(watcher, target)
            the_nightly_job_misses_its_run_and_pings_again(watcher, ping)
            ci_fails_twice_in_a_row_and_then_passes(watcher, github_url)
            an_app_crashes_and_the_crash_is_resolved(watcher, tmp_path, remote, dsn)
        finally:
            server.stop()


def the_check_goes_down_and_comes_back(watcher: Watcher, target: Any) -> None:
    def run_next_slot() -> dict[str, Any]:
        before = watcher.get(CHECK)["last_result_at"]
        watcher.server.advance(timedelta(seconds=61))
        return eventually(  # type: ignore[no-any-return]
            "the check's next run",
            lambda: (c := watcher.get("/api/v1/checks/api-health"))["last_result_at"] != before and c,
        )

    assert run_next_slot()["status"] == "up"
    target.stop()
    assert [run_next_slot()["status"] for _ in range(3)] == ["up", "up", "down"]
    incident = watcher.incident_of("api")
    assert incident["title"].startswith("Check api-health is down")
    assert incident["human_id"] in watcher.heard("alerts", incident)[0]["headline"]
    target.start()
    assert [run_next_slot()["status"] for _ in range(2)] == ["down", "up"]
    assert watcher.alerts_of("api") == [("check:api-health", "resolved")]
    watcher.status_becomes(incident, "resolved")


def the_nightly_job_misses_its_run_and_pings_again(watcher: Watcher, ping: str) -> None:
    assert httpx.get(ping, timeout=10).text == "OK"  # the job ran once: the heartbeat is up
    # 03:00 in Berlin is 02:00 UTC in winter; 30 minutes' grace later it is down.
    now = watcher.server.now
    next_run = (now + timedelta(days=1)).replace(hour=2, minute=0, second=0, microsecond=0)
    watcher.server.advance(next_run + timedelta(minutes=31) - now)
    incident = watcher.incident_of("jobs")
    assert "nightly-backup" in incident["title"]
    assert incident["human_id"] in watcher.heard("alerts", incident)[0]["headline"]
    assert httpx.post(ping, content=b"backup done\n", timeout=10).text == "OK"
    assert watcher.alerts_of("jobs")[0][1] == "resolved"
    watcher.status_becomes(incident, "resolved")


def workflow_run(conclusion: str, run_id: int) -> dict[str, Any]:
    payload: dict[str, Any] = protocols.load("github_workflow_run_completed.json")
    payload["workflow_run"]["conclusion"] = conclusion
    payload["workflow_run"]["id"] = run_id
    return payload


def post_to_github_url(url: str, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "workflow_run",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(SECRET, body),
    }
    answer = httpx.post(url, content=body, headers=headers, timeout=10)
    assert answer.status_code in (200, 202), answer.text


def ci_fails_twice_in_a_row_and_then_passes(watcher: Watcher, url: str) -> None:
    post_to_github_url(url, workflow_run("failure", 1001))
    assert watcher.alerts_of("web") == []  # once is a blip
    post_to_github_url(url, workflow_run("failure", 1002))
    incident = watcher.incident_of("web")
    assert incident["human_id"] in watcher.heard("alerts", incident)[0]["headline"]
    post_to_github_url(url, workflow_run("success", 1003))
    assert [status for _, status in watcher.alerts_of("web")] == ["resolved"]
    watcher.status_becomes(incident, "resolved")


def an_app_crashes_and_the_crash_is_resolved(watcher: Watcher, workdir: Path, remote: dict[str, str], dsn: str) -> None:
    script = workdir / "shop.py"
    script.write_text(textwrap.dedent(APP.format(dsn=dsn)))
    crashed = subprocess.run([sys.executable, str(script)], capture_output=True, timeout=60, check=False)
    assert crashed.returncode == 1
    assert b"ZeroDivisionError" in crashed.stderr
    incident = watcher.incident_of("app")
    assert "ZeroDivisionError" in incident["title"]
    assert incident["human_id"] in watcher.heard("alerts", incident)[0]["headline"]
    crashes = [r.json() for r in watcher.channels.requests if r.route == "/crashes"]
    assert any("ZeroDivisionError" in post["title"] for post in crashes)
    (group,) = json.loads(tocsin(workdir, remote, "crash", "list", "--json"))
    tocsin(workdir, remote, "crash", "resolve", str(group["id"]))
    watcher.status_becomes(incident, "resolved")
