"""The incident page and the dashboard follow changes without a reload, in a real browser:
what tests/web cannot show, since it is HTMX polling a fragment and swapping it in.

Charlie (a viewer) watches an incident while Bob works it in another browser; Alice is
half-way through typing a reason when the header is swapped under her."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import BACKENDS, Personas
from tests.support import browser
from tests.support.server import ServerProcess
from tests.support.web_pages import declare
from tocsin.services import passwords
from tocsin.services.actor import Actor

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"
# Longer than a poll (5 s on the incident page, 10 s on the dashboard) on a loaded machine.
FOLLOWS_MS = 20_000


@pytest.fixture(params=BACKENDS[:1])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def people(server: ServerProcess, personas: Personas, sessions: sessionmaker[Session]) -> ServerProcess:
    with sessions() as db:
        for persona in (personas.alice, personas.bob, personas.charlie):
            passwords.set_password(db, Actor.system("tests"), server.now, persona.email, PASSWORD)
        db.commit()
    return server


@pytest.fixture
def second(chromium: Browser) -> Iterator[BrowserContext]:
    context = chromium.new_context(viewport=browser.PHONE)  # type: ignore[arg-type]
    context.set_default_timeout(browser.TIMEOUT_MS)
    yield context
    context.close()


def test_a_watchers_incident_page_and_dashboard_follow_without_a_reload(
    page: Page, second: BrowserContext, people: ServerProcess, sessions: sessionmaker[Session]
) -> None:
    server = people
    ref = declare(sessions, server.now, "Checkout is failing", "P1")
    charlie = second.new_page()
    browser.log_in(charlie, server.url, "charlie@example.com", PASSWORD)
    charlie.goto(f"{server.url}/incidents/{ref}")
    expect(charlie.locator("#incident-state")).to_contain_text("triggered")
    dashboard = second.new_page()
    dashboard.goto(f"{server.url}/")
    expect(dashboard.locator("#open-incidents")).to_contain_text("Checkout is failing")

    browser.log_in(page, server.url, "bob@example.com", PASSWORD)
    page.goto(f"{server.url}/incidents/{ref}")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("#incident-state")).to_contain_text("acknowledged")
    page.get_by_label("Add a note (internal)").fill("db-1 is out of disk")
    page.get_by_role("button", name="Add note").click()

    expect(charlie.locator("#timeline")).to_contain_text("db-1 is out of disk", timeout=FOLLOWS_MS)
    expect(charlie.locator("#timeline")).to_contain_text("Bob Responder")
    expect(charlie.locator("#incident-state")).to_contain_text("acknowledged")
    expect(charlie.locator("#incident-state")).to_contain_text("Acknowledge: met")
    browser.screenshot(charlie, "incident-followed-by-viewer")

    page.get_by_role("button", name="Resolve").click()
    expect(dashboard.locator("#open-incidents")).to_contain_text("No open incidents.", timeout=FOLLOWS_MS)


def test_what_is_being_typed_survives_the_header_being_swapped(
    page: Page, second: BrowserContext, people: ServerProcess, sessions: sessionmaker[Session]
) -> None:
    server = people
    ref = declare(sessions, server.now, "Slow search", "P2")
    alice = second.new_page()
    browser.log_in(alice, server.url, "alice@example.com", PASSWORD)
    alice.goto(f"{server.url}/incidents/{ref}")
    alice.get_by_label("Reason (optional)").fill("half a thought")

    browser.log_in(page, server.url, "bob@example.com", PASSWORD)
    page.goto(f"{server.url}/incidents/{ref}")
    page.get_by_role("button", name="Acknowledge").click()

    expect(alice.locator("#incident-state")).to_contain_text("acknowledged", timeout=FOLLOWS_MS)
    expect(alice.get_by_label("Reason (optional)")).to_have_value("half a thought")
