"""Fixtures for tests against real third-party programs: Debian's Prometheus Alertmanager,
and Debian's Chromium driven by Playwright for the browser tests.

A missing program skips its tests locally and fails them under CI=true, as a
missing PostgreSQL does, so a CI without the package cannot pass by skipping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.conftest import IN_CI
from tests.support import alertmanager, browser
from tests.support.alertmanager import Alertmanager

StartAlertmanager = Callable[[Mapping[str, Any]], Alertmanager]


@pytest.fixture(scope="session")
def alertmanager_binary() -> Path:
    found = alertmanager.find_binary()
    if found is None:
        message = "Alertmanager tests need Debian's prometheus-alertmanager (run scripts/debian-deps, or `make test`)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture
def start_alertmanager(alertmanager_binary: Path, tmp_path: Path) -> Iterator[StartAlertmanager]:
    """Start a real Alertmanager with a config; it is stopped when the test ends."""
    with ExitStack() as stack:
        started = 0

        def start(settings: Mapping[str, Any]) -> Alertmanager:
            nonlocal started
            started += 1
            workdir = tmp_path / f"alertmanager-{started}"
            return stack.enter_context(alertmanager.running(alertmanager_binary, workdir, settings))

        yield start


@pytest.fixture(scope="session")
def chromium_binary() -> Path:
    found = browser.find_chromium()
    if found is None:
        message = (
            f"Browser tests need Debian's chromium at {browser.CHROMIUM} "
            "(run scripts/debian-deps, or `make test`; Playwright never downloads a browser here)"
        )
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def chromium(chromium_binary: Path) -> Iterator[Browser]:
    """One headless Chromium per test module; each test gets its own context.

    Not per session: Playwright's sync API runs an event loop in the main thread for as
    long as it is open, and every later test that calls asyncio.run() (the check
    scheduler's, the deliveries') would fail with "cannot be called from a running event
    loop". Closed at the end of the browser tests' module, it is gone before them."""
    # `expect` waits 5 s by default: an HTMX poll every 2 s on a loaded CI machine needs more.
    expect.set_options(timeout=browser.TIMEOUT_MS)
    with sync_playwright() as playwright:
        launched = browser.launch(playwright, chromium_binary)
        yield launched
        launched.close()


@pytest.fixture
def browser_context(chromium: Browser) -> Iterator[BrowserContext]:
    """A fresh profile (no cookies) at a desktop's size, in light mode."""
    context = chromium.new_context(viewport=browser.DESKTOP, color_scheme="light")  # type: ignore[arg-type]
    context.set_default_timeout(browser.TIMEOUT_MS)
    context.set_default_navigation_timeout(browser.TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def page(browser_context: BrowserContext) -> Page:
    return browser_context.new_page()
