"""The responders' app in a real browser: Debian's Chromium, driven by Playwright, against
a real `tocsin serve` (tests/support/browser.py says how it is launched).

Browser tests are slow, so they are few and each follows a person through a whole task:
the admin logs in with the password the first start prints and looks through the
settings; Bob, on call this week, runs an incident from the declare form to resolved
while the public status page and its Statuspage JSON follow, and Charlie, a viewer,
reads the incident but cannot acknowledge it.
They run on one database only (the first of TOCSIN_TEST_BACKENDS): the pages are the
same on both, and every page's queries are tested on both in tests/web. The tests save
screenshots of what they visit, at a phone's width and a desktop's, into
test-artifacts/screenshots/.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import BACKENDS, START
from tests.support import browser
from tests.support.fake_http import FakeHTTPServer
from tests.support.server import ServerProcess
from tocsin.services import passwords
from tocsin.services.actor import Actor

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"
# The main navigation's sections (web/templating.py NAV).
PAGES = (
    "/incidents",
    "/alerts",
    "/services",
    "/schedules",
    "/policies",
    "/checks",
    "/heartbeats",
    "/crashes",
    "/changes",
    "/drills",
    "/reports",
    "/postmortems",
)
DEADLINE_S = 10.0
# Bob and Alice take turns on call, a week each from START (a Monday): Bob is on call now.
CONFIG = """
users:
  - {email: alice@example.com, name: Alice Admin, role: admin}
  - {email: bob@example.com, name: Bob Responder, role: responder, time_zone: Europe/Berlin}
  - {email: charlie@example.com, name: Charlie Viewer, role: viewer}
teams:
  - {key: platform, name: Platform, members: [alice@example.com, bob@example.com]}
schedules:
  - key: primary
    name: Primary on-call
    layers:
      - name: weekly
        kind: weekly
        start: "2026-11-23 09:00"
        participants: [bob@example.com, alice@example.com]
escalation_policies:
  - key: default
    name: Primary on-call
    levels:
      - {targets: [{schedule: primary}], delay: 5m}
services:
  - {key: api, name: Public API, team: platform, escalation_policy: default}
channels:
  - name: alerts
    kind: webhook
    address_env: ALERTS_WEBHOOK
    routes:
      - events: ["incident.*"]
status_page:
  name: Acme status
  components:
    - {key: api, name: API, services: [api]}
"""


@pytest.fixture(params=BACKENDS[:1])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def printed_admin_password(server: ServerProcess) -> str:
    """What the first start of `tocsin serve` prints for the admin, as the README says to use."""
    found = re.search(r"password \(shown once\):\s+(\S+)", server.log())
    assert found is not None, server.log()
    return found.group(1)


@pytest.fixture
def receiver() -> Iterator[FakeHTTPServer]:
    """Where the #alerts channel posts (a generic webhook)."""
    with FakeHTTPServer() as fake:
        yield fake


@pytest.fixture
def team(
    server: ServerProcess, db_url: str, tmp_path: Path, sessions: sessionmaker[Session], receiver: FakeHTTPServer
) -> ServerProcess:
    """The server with the config above applied (`tocsin apply`, as the README does) and
    everyone's password set to PASSWORD."""
    config = tmp_path / "tocsin.yaml"
    config.write_text(CONFIG)
    env = {
        **os.environ,
        "TOCSIN_DATABASE_URL": db_url,
        "TOCSIN_TEST_CLOCK_FILE": str(server.clock_file),
        "TOCSIN_PUBLIC_URL": server.url,
        "ALERTS_WEBHOOK": f"{receiver.url}/alerts",
    }
    done = subprocess.run(
        [sys.executable, "-m", "tocsin", "apply", "-f", str(config)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with sessions() as db:
        for email in ("alice@example.com", "bob@example.com", "charlie@example.com"):
            passwords.set_password(db, Actor.system("tests"), START, email, PASSWORD)
        db.commit()
    return server


def eventually(what: str, probe: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.1)  # polling another process's work, not waiting on the clock
    raise AssertionError(f"timed out waiting for {what}")


def summary(server: ServerProcess) -> dict[str, Any]:
    answer = httpx.get(f"{server.url}/api/v2/summary.json", timeout=5)
    answer.raise_for_status()
    found: dict[str, Any] = answer.json()
    return found


def test_the_admin_logs_in_with_the_printed_password_and_looks_through_the_settings(
    page: Page, team: ServerProcess, chromium: Browser, receiver: FakeHTTPServer
) -> None:
    server = team
    password = printed_admin_password(server)

    page.goto(f"{server.url}/login")
    page.get_by_label("E-mail").fill("root@example.com")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("wrong e-mail or password")
    browser.screenshot(page, "login-error")

    browser.log_in(page, server.url, "root@example.com", password)
    [cookie] = [c for c in page.context.cookies() if c["name"] == "tocsin_session"]
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Lax"
    page.goto(f"{server.url}/settings")
    expect(page.locator("header .who")).to_contain_text("Administrator")
    browser.screenshot(page, "settings")
    for path, name, seen in (
        ("/settings/users", "settings-users", "Charlie Viewer"),
        ("/settings/teams", "settings-teams", "Alice Admin, Bob Responder"),
        ("/profile", "profile", "root@example.com"),
    ):
        page.goto(f"{server.url}{path}")
        expect(page.locator("main")).to_contain_text(seen)
        browser.screenshot(page, name)

    # A test post to #alerts: the page follows it until the engine has delivered it.
    page.goto(f"{server.url}/settings/channels")
    expect(page.locator("main")).to_contain_text(f"http://127.0.0.1:{receiver.port}/…")
    assert "/alerts" not in page.locator("main table").inner_text()  # the address is masked
    page.get_by_role("button", name="Send a test post to alerts").click()
    expect(page.locator("#test-post")).to_contain_text("delivered.")
    [posted] = [r for r in receiver.requests if r.route == "/alerts"]
    assert "Tocsin can post to the channel 'alerts'" in json.dumps(posted.json())
    browser.screenshot(page, "settings-channels")

    # An integration's URLs, shown once.
    page.goto(f"{server.url}/settings/integrations/new")
    page.get_by_label("Service").select_option("api")
    page.get_by_label("Sends from").select_option("alertmanager")
    page.get_by_role("button", name="Create integration").click()
    key = page.locator("#integration-key").inner_text()
    expect(page.get_by_text(f"{server.url}/api/v1/integrations/alertmanager/{key}")).to_be_visible()
    browser.screenshot(page, "settings-integration-created")
    page.goto(f"{server.url}/settings/integrations")
    expect(page.locator("main")).to_contain_text("api alertmanager")
    assert key not in page.content()
    browser.screenshot(page, "settings-integrations")

    # A new colleague, with a password Tocsin makes up and shows once.
    page.goto(f"{server.url}/settings/users/new")
    browser.screenshot(page, "settings-user-new")
    page.get_by_label("Name").fill("Dana Oncall")
    page.get_by_label("E-mail").fill("dana@example.com")
    page.get_by_label("Role").select_option("responder")
    page.get_by_label("Time zone").fill("Europe/Berlin")
    page.get_by_label("Generate one").check()
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Created Dana Oncall")
    generated = page.locator("#new-password").inner_text()
    page.get_by_role("link", name="Back to Dana Oncall").click()
    expect(page.get_by_label("Time zone")).to_have_value("Europe/Berlin")
    browser.screenshot(page, "settings-user-edit")
    fresh = chromium.new_context(viewport=browser.PHONE)  # type: ignore[arg-type]
    try:
        fresh.set_default_timeout(browser.TIMEOUT_MS)
        dana = fresh.new_page()
        browser.log_in(dana, server.url, "dana@example.com", generated)
        expect(dana.locator("header .who")).to_contain_text("Dana Oncall")
    finally:
        fresh.close()

    # Read in dark mode, on a phone.
    dark = chromium.new_context(viewport=browser.PHONE, color_scheme="dark")  # type: ignore[arg-type]
    try:
        dark.set_default_timeout(browser.TIMEOUT_MS)
        night = dark.new_page()
        browser.log_in(night, server.url, "root@example.com", password)
        for path, name in (("/settings/users", "dark-settings-users"), ("/", "dark-dashboard")):
            night.goto(f"{server.url}{path}")
            browser.screenshot(night, name)
        background = night.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(17, 19, 24)"  # the dark theme's --bg
    finally:
        dark.close()

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    # The session is over: a page asks to log in again.
    page.goto(f"{server.url}/settings/users")
    expect(page).to_have_url(re.compile(r"/login\?next=/settings/users"))
    expect(page.get_by_role("heading", name="Log in to Tocsin")).to_be_visible()


def test_a_responder_runs_an_incident_from_the_browser_while_the_status_page_follows(
    page: Page, team: ServerProcess, chromium: Browser
) -> None:
    server = team
    status_page = page.context.new_page()
    status_page.goto(f"{server.url}/status")
    expect(status_page.get_by_role("heading", level=1)).to_have_text("All Systems Operational")
    assert summary(server)["status"]["indicator"] == "none"
    browser.screenshot(status_page, "status-operational")

    browser.log_in(page, server.url, "bob@example.com", PASSWORD)
    browser.screenshot(page, "dashboard-quiet")

    # Who is on call: Bob this week, Alice the next.
    page.goto(f"{server.url}/schedules")
    on_call = page.get_by_role("row", name=re.compile("Primary on-call"))
    expect(on_call.get_by_role("cell").nth(1)).to_contain_text("Bob Responder")
    expect(on_call.get_by_role("cell").nth(2)).to_contain_text("Alice Admin")
    browser.screenshot(page, "schedules")
    page.goto(f"{server.url}/schedules/primary")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Primary on-call")
    browser.screenshot(page, "schedule")

    # Declare from the form.
    page.goto(f"{server.url}/incidents/new")
    page.get_by_label("Title").fill("Checkout is failing")
    page.get_by_role("radio", name=re.compile(r"^P1")).check()
    page.get_by_label("Services").select_option("api")
    page.get_by_label("Impact", exact=True).fill("Customers cannot pay")
    page.get_by_role("button", name="Declare").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Checkout is failing")
    ref = page.locator("#incident-state .muted").first.inner_text().split(" ")[0]
    assert ref.startswith("INC-")
    expect(page.locator("#incident-state")).to_contain_text("triggered")
    browser.screenshot(page, "incident-triggered")

    # The status page hears of it at once: the API component is affected, the indicator moves;
    # the incident itself is public from its first public update.
    eventually("the API component affected", lambda: summary(server)["components"][0]["status"] != "operational")
    document = summary(server)
    assert document["status"]["indicator"] != "none"
    assert document["incidents"] == []
    status_page.reload()
    expect(status_page.get_by_role("heading", level=1)).not_to_have_text("All Systems Operational")

    # Charlie, a viewer, follows along on his phone: he reads the incident but has no
    # button to acknowledge it, and a forged post with his own valid token is refused.
    phone = chromium.new_context(viewport=browser.PHONE, color_scheme="light")  # type: ignore[arg-type]
    try:
        phone.set_default_timeout(browser.TIMEOUT_MS)
        charlie = phone.new_page()
        browser.log_in(charlie, server.url, "charlie@example.com", PASSWORD)
        charlie.goto(f"{server.url}/incidents/{ref}")
        expect(charlie.get_by_role("heading", level=1)).to_have_text("Checkout is failing")
        expect(charlie.get_by_role("button", name="Acknowledge")).to_have_count(0)
        expect(charlie.get_by_role("button", name="Resolve")).to_have_count(0)
        expect(charlie.get_by_label("Post an update")).to_have_count(0)
        browser.screenshot(charlie, "incident-as-viewer")
        token = charlie.locator("input[name=csrf_token]").first.get_attribute("value")
        assert token
        forged = charlie.request.post(f"{server.url}/incidents/{ref}/acknowledge", form={"csrf_token": token})
        assert forged.status == 403
        assert "this needs the responder role" in forged.text()
    finally:
        phone.close()
    page.reload()
    expect(page.locator("#incident-state")).to_contain_text("triggered")

    page.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("#incident-state")).to_contain_text("acknowledged")
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)

    # A public update reaches the status page and its JSON; Bob's name does not.
    page.get_by_label("Post an update").fill("We are rolling back the payment gateway release.")
    page.get_by_label("Public (shown on the status page)").check()
    page.get_by_role("button", name="Post update").click()
    expect(page.locator("#timeline")).to_contain_text("We are rolling back the payment gateway release.")

    def update_published() -> bool:
        found = summary(server)["incidents"]
        return bool(found) and any("rolling back" in u["body"] for u in found[0]["incident_updates"])

    eventually("the public update in summary.json", update_published)
    [shown] = summary(server)["incidents"]
    assert shown["name"] == "Checkout is failing"
    status_page.reload()
    expect(status_page.get_by_text("We are rolling back the payment gateway release.")).to_be_visible()
    assert "Bob" not in status_page.content()
    browser.screenshot(status_page, "status-incident")
    browser.screenshot(page, "incident-acknowledged")

    page.get_by_role("button", name="Resolve").click()
    expect(page.locator("#incident-state")).to_contain_text("resolved")
    browser.screenshot(page, "incident-resolved")

    eventually("the status page to clear", lambda: not summary(server)["incidents"])
    document = summary(server)
    assert document["status"]["indicator"] == "none"
    assert document["components"][0]["status"] == "operational"
    status_page.reload()
    expect(status_page.get_by_role("heading", level=1)).to_have_text("All Systems Operational")
    expect(status_page.get_by_text("Checkout is failing").first).to_be_visible()  # now under past incidents

    page.goto(f"{server.url}/")
    expect(page.get_by_text(ref)).to_have_count(0)  # no longer open
    browser.screenshot(page, "dashboard-after")

    # Every section of the app after the incident, for the screenshots; none may fail.
    for path in (*PAGES, f"/incidents/{ref}", "/policies/default", "/services/api"):
        answer = page.goto(f"{server.url}{path}")
        assert answer is not None
        assert answer.status < 500, f"{path}: {answer.status}"
        if answer.status == 200:  # a section not built yet answers 404
            expect(page.get_by_role("heading", level=1).first).to_be_visible()
            browser.screenshot(page, "page" + path.replace("/", "-"))
