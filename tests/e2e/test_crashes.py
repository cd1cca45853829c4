"""The real `sentry-sdk` from PyPI reporting to a real `tocsin serve` by its DSN, on both databases.

Each app is a Python process of its own, as a user's app is: `sentry_sdk.init(dsn=…)` with
the DSN Tocsin printed, then an exception, caught and reported or left to the excepthook.
The SDK compresses with Brotli (installed here), sends from its own worker thread and
flushes at exit, so by the time the process has exited its envelopes have been answered.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Personas
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow

APP = """
import sys
import sentry_sdk

sentry_sdk.init(dsn={dsn!r}, release="shop@1.2.0", environment="production")
scope = sentry_sdk.get_isolation_scope()
scope.start_session(session_mode="application")


def checkout(cart):
    return cart["total"] / cart["items"]


if sys.argv[1] == "crash":
    checkout({{"total": 3, "items": 0}})  # unhandled: the excepthook reports it, the session crashed
scope.end_session()
sentry_sdk.flush(timeout=10)
"""


def run_app(tmp_path: Path, dsn: str, mode: str) -> subprocess.CompletedProcess[bytes]:
    script = tmp_path / "shop.py"
    script.write_text(textwrap.dedent(APP.format(dsn=dsn)))
    return subprocess.run([sys.executable, str(script), mode], capture_output=True, timeout=60, check=False)


def get(server: ServerProcess, personas: Personas, path: str, **params: str) -> Any:
    answer = httpx.get(f"{server.url}{path}", params=params, headers=personas.charlie.headers, timeout=10)
    answer.raise_for_status()
    return answer.json()


def test_an_exception_in_an_app_with_a_tocsin_dsn_opens_an_incident_that_resolving_the_crash_resolves(
    server: ServerProcess, personas: Personas, tmp_path: Path
) -> None:
    created = httpx.post(
        f"{server.url}/api/v1/integrations", json={"service": "api", "kind": "sentry"}, headers=personas.bob.headers
    )
    assert created.status_code == 201, created.text
    dsn = created.json()["urls"]["sentry"]
    assert dsn == f"http://{created.json()['key']}@{server.url.removeprefix('http://')}/{created.json()['id']}"

    for _ in range(3):
        assert run_app(tmp_path, dsn, "ok").returncode == 0
    crashed = run_app(tmp_path, dsn, "crash")
    assert crashed.returncode == 1
    assert b"ZeroDivisionError" in crashed.stderr

    (group,) = get(server, personas, "/api/v1/crashes")
    assert group["title"] == "ZeroDivisionError: division by zero"
    assert group["culprit"] == "__main__ in checkout"
    assert (group["level"], group["count"], group["last_release"]) == ("error", 1, "shop@1.2.0")
    shown = get(server, personas, f"/api/v1/crashes/{group['id']}")
    frames = shown["first_event"]["payload"]["exceptions"][0]["frames"]
    assert [frame["function"] for frame in frames] == ["<module>", "checkout"]
    assert shown["first_event"]["payload"]["exceptions"][0]["handled"] is False

    (alert,) = [a for a in get(server, personas, "/api/v1/alerts")["items"] if a["dedup_key"].startswith("crash:")]
    assert alert["dedup_key"] == f"crash:{group['id']}"
    assert alert["labels"]["level"] == "error"
    (incident,) = get(server, personas, "/api/v1/incidents", status="all")["items"]
    assert incident["title"].startswith("New crash in api: ZeroDivisionError")
    assert incident["status"] == "triggered"

    (health,) = get(server, personas, "/api/v1/crashes/releases")
    assert (health["release"], health["environment"]) == ("shop@1.2.0", "production")
    assert (health["sessions"], health["crashed"]) == (4, 1)
    assert health["crash_free"] == pytest.approx(0.75)

    resolved = httpx.post(
        f"{server.url}/api/v1/crashes/{group['id']}/resolve", json={}, headers=personas.bob.headers, timeout=10
    )
    assert resolved.status_code == 200, resolved.text
    (incident,) = get(server, personas, "/api/v1/incidents", status="all")["items"]
    assert incident["status"] == "resolved"
    assert created.json()["key"] not in server.log()  # the key is never logged
