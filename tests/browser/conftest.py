"""A headless Chromium page for browser tests, driven by Playwright.

The browser is the system's Chromium (`make browser` installs Debian's package), never one
Playwright downloads: CI machines reach only the package registries. Console errors and
uncaught page errors are collected on `page.problems` so a test can assert there were none.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright


def chromium_path() -> str:
    named = os.environ.get("IDGRAPH_CHROMIUM")
    if named:
        return named
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        "the browser tests need Chromium: run `make browser` (installs Debian's chromium) "
        "or set IDGRAPH_CHROMIUM to a Chromium executable"
    )


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path(),
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            yield launched
        finally:
            launched.close()


class WatchedPage:
    """A page plus every console error and page error it raised since it opened."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.problems: list[str] = []
        page.on(
            "console",
            lambda message: (
                self.problems.append(f"console {message.type}: {message.text}")
                if message.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))


@pytest.fixture
def watched_page(browser: Browser) -> Iterator[WatchedPage]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield WatchedPage(context.new_page())
    finally:
        context.close()
