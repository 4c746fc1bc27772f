"""`idgraph report`: one self-contained HTML file showing what a run did and the store holds.

The numbers come from `idgraph.insights` (so the report, the web page and the API agree);
this package only draws them. Charts are Vega-Lite specs built with Altair and drawn by the
vega-embed JavaScript from vl-convert, inlined: the file opens offline.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from idgraph.insights import RunInsights, run_insights
from idgraph.query import IdentityGraph

__all__ = ["render_report", "write_report"]


@cache
def _bundle() -> str:
    # Imported here: vl-convert is a large native module only the report needs.
    import vl_convert

    from idgraph.report.page import DRAW

    bundle: str = vl_convert.javascript_bundle(DRAW)
    return bundle


def render_report(insights: RunInsights) -> str:
    """The report page for `insights`, as HTML text."""
    from idgraph.report.page import render

    return render(insights, bundle=_bundle())


def write_report(
    graph: IdentityGraph, output: Path | str, *, run: int | None = None, doubtful: int = 6
) -> RunInsights:
    """Write the report of `graph`'s store (and of its run number `run`, default the last).

    Returns:
        What the report shows.

    Raises:
        NotFoundError: the store keeps no run numbered `run`.
    """
    insights = run_insights(graph, run=run, doubtful=doubtful)
    Path(output).write_text(render_report(insights), encoding="utf-8")
    return insights
