"""Real-browser tests: Playwright drives Debian's Chromium against the live test server.

A failed test leaves a full-page screenshot in var/screenshots/.
"""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the
# test body are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(items):
    if not Path(CHROMIUM).exists():
        for item in items:
            if "tests/browser/" in str(item.fspath):
                item.add_marker(pytest.mark.skip(reason=f"no Chromium at {CHROMIUM}"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed and (page := item.funcargs.get("page")):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", item.nodeid)[-150:]
        page.screenshot(path=SCREENSHOTS / f"FAILED-{name}.png", full_page=True)


@pytest.fixture
def browser():
    # Started and stopped for each test: while Playwright runs, the test body sees other
    # context variables, so Django hands it another connection object, and the one that
    # pytest-django prepared (with the snapshot serialized_rollback restores) must be the
    # one in use when the next test sets up.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(
        base_url=live_server.url, locale="ru-RU", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    # The browser refuses what the Content-Security-Policy forbids and says so only on the
    # console: a page that works in the test but relies on something refused still fails.
    refused = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield page
    context.close()
    assert refused == [], "the CSP refused something on a page"


def login(page, email: str, password: str) -> None:
    """Sign in through the admin's login form, leaving any earlier session behind."""
    page.context.clear_cookies()
    page.goto("/admin/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.click("#login-form [type=submit]")
    page.wait_for_load_state()


def screenshot(page, name: str) -> Path:
    """Keep a full-page picture of where the flow is, for people to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path
