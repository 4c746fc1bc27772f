"""`idgraph report`: the run report, one self-contained HTML file."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from idgraph.cli._app import DatabaseOption, StoreOption, _errors, _rows_as, app, console


@app.command()
def report(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="The HTML file to write (e.g. run.html); opens offline, nothing loads from "
            "the network.",
            show_default=False,
        ),
    ] = None,
    store: StoreOption = None,
    database: DatabaseOption = None,
    run: Annotated[
        int | None,
        typer.Option(
            "--run",
            help="The ingest run to show: 1 for the first the store recorded, -1 for the last "
            "(default).",
            show_default=False,
        ),
    ] = None,
    doubtful: Annotated[
        int, typer.Option(help="How many doubtful customers to draw as identity graphs.")
    ] = 6,
    list_runs: Annotated[
        bool, typer.Option("--list-runs", help="List the recorded ingest runs and exit.")
    ] = False,
) -> None:
    """Write the run report: rejects, cluster sizes, links and guards, match weights, blocking,
    doubtful customers drawn as graphs, segments; one HTML file with its charts inlined.

    Each file ingest records its counts in the store; the report shows the store as it is
    now and one run (the last unless --run N). See docs/report.md.

    In Python: idgraph.report.write_report(IdentityGraph(store), "run.html");
    the numbers: idgraph.insights.run_insights(graph).
    """
    from idgraph.insights import ingest_runs
    from idgraph.query import IdentityGraph

    if output is None and not list_runs:
        raise typer.BadParameter("give the file to write, e.g. -o run.html", param_hint="--output")
    started = time.perf_counter()
    with _errors(), IdentityGraph(store, database=database) as graph:
        if list_runs:
            rows = [
                {
                    "run": i,
                    "time": datetime.fromtimestamp(r.ts / 1000, tz=UTC).isoformat(
                        timespec="seconds"
                    ),
                    "mode": r.mode,
                    "read": r.read,
                    "ingested": r.ingested,
                    "rejected": r.rejected,
                    "records resolved": r.records_resolved,
                }
                for i, r in enumerate(ingest_runs(graph.store), start=1)
            ]
            columns = ["run", "time", "mode", "read", "ingested", "rejected", "records resolved"]
            sys.stdout.write(_rows_as("table", columns, rows, f"{len(rows)} ingest run(s)"))
            return
        from idgraph.report import write_report

        assert output is not None
        shown = write_report(graph, output, run=run, doubtful=doubtful)
    size = output.stat().st_size
    what = f"run {shown.run_number} of {shown.runs}" if shown.run else "no ingest run recorded"
    console.print(
        f"wrote {output} ({size / 1e6:.1f} MB; {what}) in {time.perf_counter() - started:.1f}s",
        highlight=False,
    )
