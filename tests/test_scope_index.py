"""The scope index (`idgraph/index.py`): the adjacency kept as properties for incremental runs.

Every write path — incremental ingest, overrides, erasure, a full run — must leave the index
equal to the relationships it mirrors, or a later batch would miss part of its scope; and a
store written before the index existed is re-resolved whole once, which writes all of it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from idgraph.erasure import forget
from idgraph.index import index_problems
from idgraph.match.config import load_match_config
from idgraph.normalize.record import NormalizeOptions
from idgraph.pipeline import IngestReport, Overrides, run_ingest
from idgraph.query import IdentityGraph
from idgraph.scope import find_scope
from idgraph.settings import open_store
from idgraph.store.ladybug import LadybugStore
from tests.conftest import AS_OF, FIXTURE_INPUTS, as_of_ms

#: Federica Santoro: a CRM row and a web login (fixtures/README.md).
EMAIL = "federica.santoro@gmail.com"


def _ingest(store: Path, paths: list[Path], **kwargs: object) -> IngestReport:
    return run_ingest(
        paths,
        store=store,
        options=NormalizeOptions(default_region="IT"),
        rejects_path=store.parent / "rejects.jsonl",
        as_of_ms=as_of_ms(AS_OF),
        **kwargs,  # type: ignore[arg-type]
    )


def _problems(store: Path) -> list[str]:
    with LadybugStore(store, read_only=True) as graph:
        return index_problems(graph)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """The fixtures ingested file by file: the first file full, the others incremental."""
    path = tmp_path / "idgraph.db"
    modes = [_ingest(path, [source]).mode for source in FIXTURE_INPUTS]
    assert modes[0] == "full" and "incremental" in modes[1:]
    return path


def test_incremental_ingests_keep_the_index_equal_to_the_graph(store: Path) -> None:
    assert _problems(store) == []
    with LadybugStore(store, read_only=True) as graph:
        rows = graph.query("t", "MATCH (a:Adjacency) RETURN count(a) AS n")
    assert rows[0]["n"] > 0  # the index is there, not merely empty on both sides


def test_overrides_and_erasure_keep_the_index(store: Path) -> None:
    with IdentityGraph(store) as graph:
        customers = sorted({c for _, c in graph.clusters()})
        first = graph.profile(customers[0]).records[0].key
        second = graph.profile(customers[1]).records[0].key
        (federica,) = graph.lookup(EMAIL)
        big = max(customers, key=lambda c: len(graph.profile(c).records))
        pair = [r.key for r in graph.profile(big).records][:2]
    _ingest(store, [], overrides=Overrides(must_link=[(first, second)]))
    assert _problems(store) == []
    _ingest(store, [], overrides=Overrides(cannot_link=[(pair[0], pair[1])], reason="test"))
    assert _problems(store) == []
    with open_store(store) as graph:
        report = forget(graph, EMAIL, default_region="IT", as_of_ms=as_of_ms(AS_OF))
    assert report.customer == federica and report.records
    assert _problems(store) == []
    report_again = _ingest(store, list(FIXTURE_INPUTS))
    assert report_again.mode == "incremental"
    assert _problems(store) == []


def test_a_check_finds_an_index_that_lies(store: Path) -> None:
    with LadybugStore(store) as graph:
        (row,) = graph.query(
            "t", "MATCH (a:Adjacency) WHERE a.key STARTS WITH 'rc:' RETURN a.key AS key LIMIT 1"
        )
        graph.write("t", "MATCH (a:Adjacency {key: $k}) SET a.items = ['C-0']", {"k": row["key"]})
        problems = index_problems(graph)
    assert len(problems) == 1 and problems[0].startswith(f"{row['key']}: index holds ['C-0']")


def test_a_store_without_the_index_is_resolved_whole_once(store: Path) -> None:
    with LadybugStore(store) as graph:
        graph.write("t", "MATCH (a:Adjacency) DELETE a")
        assert index_problems(graph)
    again = _ingest(store, [FIXTURE_INPUTS[0]])
    assert again.mode == "full"
    assert _problems(store) == []
    assert _ingest(store, [FIXTURE_INPUTS[0]]).mode == "incremental"


def test_the_scope_state_is_the_same_with_the_rows_finding_it_read(store: Path) -> None:
    """`load_state` takes what `find_scope` read instead of reading it again: same state."""
    with LadybugStore(store) as graph:
        keys = [row["key"] for row in graph.query("r", "MATCH (r:Record) RETURN r.key AS key")]
        stored = {r.key: r for r in graph.load_records(keys[::7])}
        seeds = {key: record.copy() for key, record in stored.items()}
        scope = find_scope(graph, seeds, stored, load_match_config())
        assert scope.known.records and scope.known.index and scope.known.identifiers
        assert len(scope.keys) > len(seeds)  # the closure reached records of their customers
        assert graph.load_state(scope.keys, known=scope.known) == graph.load_state(scope.keys)
