"""The status page from a real `tocsin serve` process: the cached answers in front of the
router, and a change through the API seen by the page and its JSON."""

from __future__ import annotations

import re
import time

import httpx

from tests.support.server import ServerProcess

TOKEN = re.compile(r"tcn_[A-Za-z0-9_-]{20,}")


def test_the_page_follows_a_change_made_through_the_api(server: ServerProcess) -> None:
    headers = {"Authorization": f"Bearer {TOKEN.findall(server.log())[0]}"}
    made = httpx.post(
        f"{server.url}/api/v1/status-page/components", json={"key": "api", "name": "API"}, headers=headers
    )
    assert made.status_code == 201, made.text
    first = httpx.get(f"{server.url}/api/v2/summary.json")
    assert first.json()["status"]["indicator"] == "none"
    assert (
        httpx.get(f"{server.url}/api/v2/summary.json", headers={"If-None-Match": first.headers["etag"]}).status_code
        == 304
    )
    changed = httpx.post(
        f"{server.url}/api/v1/status-page/components/api/status", json={"status": "major_outage"}, headers=headers
    )
    assert changed.status_code == 200, changed.text
    deadline = time.monotonic() + 5
    indicator = ""
    while time.monotonic() < deadline and indicator != "critical":
        indicator = httpx.get(f"{server.url}/api/v2/summary.json").json()["status"]["indicator"]
        time.sleep(0.05)  # polling another process, not waiting on the clock
    assert indicator == "critical"
    page = httpx.get(f"{server.url}/status")
    assert page.status_code == 200
    assert "Major System Outage" in page.text
    assert httpx.head(f"{server.url}/status").status_code == 200
