"""`idgraph report` writes one offline HTML file with every section; `--list-runs`, `--run`."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
from typer.testing import CliRunner

from idgraph.cli import app
from idgraph.insights import ingest_runs
from idgraph.settings import open_store

runner = CliRunner()
#: The report of the fixtures is well under this (the inlined chart library is ~0.9 MB).
SIZE_BOUND = 2_000_000
SECTIONS = ("inputs", "clusters", "links", "model", "blocking", "doubtful", "segments")


def test_report_writes_one_offline_file(
    report_store: tuple[Path, Path, list[Path]], tmp_path: Path
) -> None:
    out = tmp_path / "run.html"
    result = runner.invoke(app, ["report", "-o", str(out), "--store", str(report_store[0])])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert 'src="http' not in html and 'href="http' not in html
    assert "<link " not in html  # no stylesheet or preload from anywhere
    assert not re.search(r"<script[^>]+src=", html)
    assert out.stat().st_size < SIZE_BOUND
    for section in SECTIONS:
        assert f'<section id="{section}">' in html
    specs = orjson.loads(
        re.search(r'<script type="application/json" id="idgraph-specs">(.*?)</script>', html)
        .group(1)
        .replace("<\\/", "</")
    )
    for chart_id in specs:
        assert f'<div class="chart" id="{chart_id}"></div>' in html
    assert {"chart-sources", "chart-reasons", "chart-sizes", "chart-segment-overlap"} <= set(specs)
    assert "this is not json" in html  # a reject example
    assert 'class="edge weakest"' in html  # a doubtful customer drawn, weakest link marked


def test_list_runs_and_an_unknown_run(
    report_store: tuple[Path, Path, list[Path]], tmp_path: Path
) -> None:
    store = str(report_store[0])
    listed = runner.invoke(app, ["report", "--list-runs", "--store", store])
    assert listed.exit_code == 0, listed.output
    with open_store(report_store[0], read_only=True) as graph:
        [run] = ingest_runs(graph)
    assert f"{run.read}" in listed.output and "full" in listed.output
    missing = runner.invoke(
        app, ["report", "-o", str(tmp_path / "x.html"), "--run", "2", "--store", store]
    )
    assert missing.exit_code == 2
    assert "no ingest run 2" in missing.output
    assert not (tmp_path / "x.html").exists()


def test_report_needs_an_output_file(report_store: tuple[Path, Path, list[Path]]) -> None:
    result = runner.invoke(app, ["report", "--store", str(report_store[0])])
    assert result.exit_code == 2
    assert "--output" in result.output
