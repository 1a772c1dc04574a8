"""A real browser (Debian's Chromium driven by Playwright) against a real
daphne and render worker, started by the test on private ports.

Playwright's sync API keeps an asyncio loop running in the test's thread, so
Django refuses database calls while a browser is open: tests set up their
rows *before* asking for ``browser`` (fixtures in argument order) and then
only look at pages. The ``browser`` fixture is torn down before the
database is flushed.

Screenshots of every page go to ``test-output/screenshots/`` at the
repository root (git-ignored), to be looked at by a person.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.processes import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
LAPTOP = {"width": 1366, "height": 860}
PHONE = {"width": 390, "height": 844}


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is not installed (apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests must run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
def site_url(daphne) -> str:
    """The platform as the browser reaches it (tests/conftest.py's daphne)."""
    return daphne.url


@pytest.fixture
def browser():
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Console:
    """Errors the page reports (a CSP violation, a failing script, a 500)."""

    def __init__(self, page):
        self.errors: list[str] = []
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(msg.text))
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))


def new_page(browser, base_url: str, viewport=LAPTOP):
    context = browser.new_context(base_url=base_url, viewport=viewport, accept_downloads=True)
    context.set_default_timeout(30_000)
    page = context.new_page()
    return page, Console(page)


def log_in(page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def wait_for_js(page, expression: str, arg=None, timeout: float = 30) -> None:
    """Until `expression` (with `arg`) is true in the page. Playwright's
    wait_for_function re-evaluates its predicate with eval(), which the pages'
    Content-Security-Policy (no 'unsafe-eval') refuses whenever the first check
    is not already true; page.evaluate is not subject to it."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression, arg):
        assert time.monotonic() < deadline, f"not true within {timeout:.0f} s: {expression}"
        time.sleep(0.1)


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # Players show their first frame, not a loading spinner.
    wait_for_js(page, "Array.from(document.querySelectorAll('video')).every((v) => v.readyState >= 2)")
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
