"""The report file opens in Chromium, offline, with no console error, every chart drawn."""

from __future__ import annotations

from pathlib import Path

from idgraph.query import IdentityGraph
from idgraph.report import write_report
from tests.browser.conftest import WatchedPage
from tests.insights.conftest import report_store  # noqa: F401  (the store to report on)


def test_the_report_opens_offline_with_every_chart_drawn(
    watched_page: WatchedPage,
    report_store: tuple[Path, Path, list[Path]],  # noqa: F811
    tmp_path: Path,
) -> None:
    out = tmp_path / "run.html"
    with IdentityGraph(report_store[0]) as graph:
        write_report(graph, out)
    page = watched_page.page
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(out.as_uri())
    charts = page.locator("div.chart")
    count = charts.count()
    assert count >= 10
    page.wait_for_function(
        "() => [...document.querySelectorAll('div.chart')].every("
        "e => e.dataset.rendered === 'true')",
        timeout=20_000,
    )
    for i in range(count):
        assert charts.nth(i).locator("svg").count() >= 1, charts.nth(i).get_attribute("id")
    assert page.locator("svg.identity-graph").count() >= 1
    assert watched_page.problems == []
    assert [url for url in requested if not url.startswith("file:")] == []
