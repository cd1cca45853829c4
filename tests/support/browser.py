"""Debian's Chromium driven by Playwright, for the browser tests (tests/e2e/test_browser.py).

No browser is ever downloaded (`playwright install` cannot reach the Internet here):
Playwright launches the Chromium that scripts/debian-deps installs. The flags keep it
headless and quiet: without the background-networking ones Chromium keeps dialling
Google's update and sync servers, which this machine's closed network refuses.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from playwright.sync_api import Browser, Page, Playwright

CHROMIUM = Path(os.environ.get("TOCSIN_TEST_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless=new",
    "--no-sandbox",  # root in CI containers, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A broken page fails in seconds, not at pytest's two-minute timeout.
TIMEOUT_MS = 10_000
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def find_chromium() -> Path | None:
    return CHROMIUM if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK) else None


def launch(playwright: Playwright, executable: Path) -> Browser:
    return playwright.chromium.launch(executable_path=str(executable), args=ARGS, headless=True)


def log_in(page: Page, base_url: str, email: str, password: str) -> None:
    """Through the login form, as a person does; lands on the dashboard (or `next`)."""
    page.goto(f"{base_url}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"^(?!.*/login)"))


def screenshot(page: Page, name: str) -> list[Path]:
    """The page as it is now, at a phone's width and a desktop's, whole (not only the
    viewport), into test-artifacts/screenshots/<name>-{phone,desktop}.png. The viewport is
    put back as it was."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    taken = []
    for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(size)  # type: ignore[arg-type]
        path = SCREENSHOTS / f"{name}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        taken.append(path)
    if before is not None:
        page.set_viewport_size(before)
    return taken
