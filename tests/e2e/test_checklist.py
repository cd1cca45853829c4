"""Ticking the incident checklist in a real browser: htmx swaps the card in place, no reload."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import BACKENDS, Personas
from tests.support import browser
from tests.support.server import ServerProcess
from tests.support.web_pages import declare
from tocsin.services import passwords
from tocsin.services.actor import Actor

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"


@pytest.fixture(params=BACKENDS[:1])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_a_commander_ticks_items_in_place(
    page: Page, server: ServerProcess, personas: Personas, sessions: sessionmaker[Session]
) -> None:
    with sessions() as db:
        passwords.set_password(db, Actor.system("tests"), server.now, personas.bob.email, PASSWORD)
        db.commit()
    ref = declare(sessions, server.now, "Checkout is failing", "P1", commander=personas.bob.email)
    browser.log_in(page, server.url, personas.bob.email, PASSWORD)
    page.goto(f"{server.url}/incidents/{ref}")
    card = page.locator("#checklist")
    expect(card).to_contain_text("0 of 13 done")
    page.evaluate("window.__kept = 'still here'")
    card.get_by_role("button", name="Tick item 3").click()
    expect(card).to_contain_text("1 of 13 done")
    expect(card).to_contain_text("ticked by Bob Responder")
    assert page.evaluate("window.__kept") == "still here"
    card.get_by_role("button", name="Untick item 3").click()
    expect(card).to_contain_text("0 of 13 done")
    expect(page.locator("#timeline")).to_contain_text("Unticked item 3: Check the dashboards", timeout=20_000)
