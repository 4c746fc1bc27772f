"""How long `idgraph report` takes on a store, section by section, and how big the file is.

Usage: python bench/report_speed.py --store PATH [--out run.html] [--repeats 1]
Ingest the data first, e.g. `python bench/generate.py --records 1000000 --seed 7 --out D`
then `idgraph ingest D/people.csv` with the mapping bench/scale.py writes beside it.
Prints one line per section (seconds) and the total, the file size and peak RSS; numbers
go to docs/report.md with the machine they ran on.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from idgraph.insights import (
    blocking_funnel,
    cluster_summary,
    doubtful_graphs,
    identifiers_off,
    ingest_runs,
    link_summary,
    model_summary,
    rejects_summary,
    run_insights,
    segments_summary,
)
from idgraph.query import IdentityGraph
from idgraph.report import render_report


def _timed(what: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = what()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True)
    parser.add_argument("--out", default="report-bench.html")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    with IdentityGraph(args.store) as graph:
        store = graph.store
        runs = ingest_runs(store)
        run = runs[-1] if runs else None
        sections: dict[str, Callable[[], Any]] = {
            "runs": lambda: ingest_runs(store),
            "rejects": lambda: rejects_summary(run) if run else None,
            "clusters+review": lambda: cluster_summary(store),
            "links": lambda: link_summary(store, run),
            "identifiers off": lambda: identifiers_off(store),
            "model": lambda: model_summary(store),
            "funnel": lambda: blocking_funnel(run) if run else None,
            "doubtful graphs": lambda: doubtful_graphs(graph),
            "segments": lambda: segments_summary(store),
        }
        for name, what in sections.items():
            seconds, _ = _timed(what)
            print(f"{name:<18} {seconds:7.2f} s")
        totals = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            insights = run_insights(graph)
            html = render_report(insights)
            Path(args.out).write_text(html, encoding="utf-8")
            totals.append(time.perf_counter() - started)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"report total      {statistics.median(totals):7.2f} s (median of {len(totals)}), "
        f"{Path(args.out).stat().st_size / 1e6:.2f} MB, {insights.clusters.records:,} records, "
        f"{insights.clusters.customers:,} customers, peak RSS {peak:,.0f} MiB"
    )


if __name__ == "__main__":
    main()
