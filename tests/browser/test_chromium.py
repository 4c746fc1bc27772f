"""The browser harness itself: it sees a page's content and catches its script errors."""

from __future__ import annotations

from pathlib import Path

from tests.browser.conftest import WatchedPage


def test_page_renders_and_reports_script_errors(watched_page: WatchedPage, tmp_path: Path) -> None:
    page_file = tmp_path / "page.html"
    page_file.write_text(
        "<!doctype html><title>t</title><p id=greeting>hello</p>"
        "<script>document.getElementById('greeting').textContent = 'ciao';"
        "undefinedFunction();</script>",
        encoding="utf-8",
    )
    watched_page.page.goto(page_file.as_uri())
    assert watched_page.page.text_content("#greeting") == "ciao"
    assert len(watched_page.problems) == 1
    assert "undefinedFunction" in watched_page.problems[0]
