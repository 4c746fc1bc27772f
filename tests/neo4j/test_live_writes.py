"""Batched writes on a live Neo4j: re-ingesting adds nothing, ingesting in steps converges.

On Neo4j an ingest is many idempotent batches rather than one transaction, so running the same
ingest again must be a no-op, and a later ingest that moves records between customers must
leave the same graph as the embedded store does after the same steps.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import FIXTURE_INPUTS, load_truth
from tests.neo4j.conftest import ingest, open_graph

pytestmark = pytest.mark.neo4j


def test_reingest_adds_nothing(empty_neo4j: str, tmp_path: Path) -> None:
    first = ingest(empty_neo4j, tmp_path)
    with open_graph(empty_neo4j) as graph:
        stats, clusters = graph.stats(), graph.clusters()
    second = ingest(empty_neo4j, tmp_path)
    with open_graph(empty_neo4j) as graph:
        assert graph.stats() == stats
        assert graph.clusters() == clusters
    assert first.records_new == len(load_truth())
    assert first.events_new > 0
    assert (second.records_new, second.records_updated, second.events_new) == (0, 0, 0)
    assert second.events_duplicate == first.events_new
    assert second.customers == first.customers


@pytest.mark.parametrize("split", [1, 2, 3], ids=lambda n: f"first_{n}_files")
def test_ingest_in_steps_matches_embedded(empty_neo4j: str, tmp_path: Path, split: int) -> None:
    embedded = tmp_path / "embedded.db"
    for step, paths in enumerate((FIXTURE_INPUTS[:split], FIXTURE_INPUTS[split:])):
        folder = tmp_path / f"step{step}"
        folder.mkdir()
        live_report = ingest(empty_neo4j, folder, paths)
        embedded_report = ingest(embedded, folder, paths)
        ignore = {"seconds", "rejects_path"}
        assert live_report.model_dump(exclude=ignore) == embedded_report.model_dump(exclude=ignore)
    with open_graph(empty_neo4j) as live, open_graph(embedded) as reference:
        assert live.clusters() == reference.clusters()
        assert live.stats() == reference.stats()
        assert {key for key, _ in live.clusters()} == set(load_truth())


def test_overrides_history_and_erasure_match_embedded(empty_neo4j: str, tmp_path: Path) -> None:
    """A must-link merge, a split and an erasure leave the same graph and id history on both."""
    from idgraph.erasure import forget
    from idgraph.pipeline import Overrides, run_ingest
    from idgraph.settings import open_store

    embedded = tmp_path / "embedded.db"
    for store in (empty_neo4j, embedded):
        ingest(store, tmp_path)
        for overrides in (
            Overrides(must_link=[("crm:C1003", "crm:C1004")]),
            Overrides(cannot_link=[("crm:C1003", "crm:C1004")]),
        ):
            run_ingest([], store=store, rejects_path=tmp_path / "r.jsonl", overrides=overrides)
        with open_store(store) as graph:
            forget(graph, "federica.santoro@gmail.com", default_region="IT")
    with open_graph(empty_neo4j) as live, open_graph(embedded) as reference:
        assert live.clusters() == reference.clusters()
        ids = {customer for _, customer in reference.clusters()}
        for customer in sorted(ids)[:20]:
            mine, theirs = live.history(customer), reference.history(customer)
            assert [(e.kind, e.other, e.records) for e in mine.entries] == [
                (e.kind, e.other, e.records) for e in theirs.entries
            ]
