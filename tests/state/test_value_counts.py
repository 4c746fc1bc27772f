"""The kept value counts (term frequencies) stay what a recount of the whole store gives."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from idgraph.erasure import forget
from idgraph.match.config import load_match_config
from idgraph.match.scored import count_rows
from idgraph.match.view import VIEW_FIELDS, match_view
from idgraph.normalize.record import NormalizeOptions
from idgraph.pipeline import run_ingest
from idgraph.settings import open_store
from idgraph.state.rebuild import open_mirror
from tests.conftest import FIXTURE_INPUTS


def _kept_and_recounted(store: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    config = load_match_config(None)
    with open_store(store) as graph:
        mirror = open_mirror(graph, config)
        kept = mirror.load("value_counts")
        records = mirror.load("records")
    recounted = count_rows(match_view(records, VIEW_FIELDS))
    order = ["field", "value"]
    return kept.sort(order), recounted.sort(order)


def test_counts_follow_incremental_runs_and_erasure(tmp_path: Path) -> None:
    store = tmp_path / "idgraph.db"
    options = NormalizeOptions(default_region="IT")
    first, *rest = FIXTURE_INPUTS
    run_ingest([first], store=store, options=options, rejects_path=tmp_path / "r0.jsonl")
    for number, path in enumerate(rest, start=1):
        report = run_ingest(
            [path], store=store, options=options, rejects_path=tmp_path / f"r{number}.jsonl"
        )
        assert report.mode == "incremental"
    kept, recounted = _kept_and_recounted(store)
    assert kept.height > 100
    assert kept.equals(recounted)
    with open_store(store) as graph:
        erased = forget(graph, "crm:C1003", default_region="IT")
    assert erased.records
    kept, recounted = _kept_and_recounted(store)
    assert kept.equals(recounted)
