"""Browser fixtures: Debian's chromium through Playwright, and a page that may only reach the live app."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Request, Route, sync_playwright

from tests.live import LiveApp

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
    if not executable.is_file():
        pytest.fail(f"no chromium at {executable}: `apt-get install chromium` or set CHROMIUM_PATH", pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@contextmanager
def _page_for(browser: Browser, app: LiveApp) -> Iterator[Page]:
    """A fresh page that may only talk to `app`: any other request is aborted and fails the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=False)
    outside: list[str] = []
    crashes: list[str] = []

    def guard(route: Route, request: Request) -> None:
        if request.url.startswith((app.url + "/", "data:", "blob:")) or request.url == app.url:
            route.continue_()
        else:
            outside.append(request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.on("pageerror", lambda error: crashes.append(str(error)))
    yield page
    context.close()
    assert not outside, f"the page tried to reach beyond the app (it must work offline): {outside}"
    assert not crashes, f"uncaught errors in the page: {crashes}"


@pytest.fixture
def page(browser: Browser, live_app: LiveApp) -> Iterator[Page]:
    with _page_for(browser, live_app) as page:
        yield page


@pytest.fixture
def guarded_page(browser: Browser, guarded_app: LiveApp) -> Iterator[Page]:
    """A page on the app that needs API_TOKEN (see `guarded_app`)."""
    with _page_for(browser, guarded_app) as page:
        yield page
