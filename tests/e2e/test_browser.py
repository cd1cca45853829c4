"""The responders' app in a real browser: Debian's Chromium, driven by Playwright, against
a real `tocsin serve` (tests/support/browser.py says how it is launched).

Browser tests are slow, so they are few and each follows a person through a whole task.
They run on one database only (the first of TOCSIN_TEST_BACKENDS): the pages are the
same on both, and every page's queries are tested on both in tests/web. Each test saves
screenshots of what it visits, at a phone's width and a desktop's, into
test-artifacts/screenshots/.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import BACKENDS
from tests.support import browser
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow


@pytest.fixture(params=BACKENDS[:1])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def printed_admin_password(server: ServerProcess) -> str:
    """What the first start of `tocsin serve` prints for the admin, as the README says to use."""
    found = re.search(r"password \(shown once\):\s+(\S+)", server.log())
    assert found is not None, server.log()
    return found.group(1)


def test_the_admin_logs_in_with_the_printed_password(page: Page, server: ServerProcess) -> None:
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
