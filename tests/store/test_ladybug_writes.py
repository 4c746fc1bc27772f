"""How the embedded store writes: `COPY` for bulk, `LOAD FROM ... CREATE` through the log.

Small writes skip the checkpoint `COPY` forces at commit, so they must store exactly what the
bulk path stores, refuse a relationship to a missing node as `COPY` does, and survive a process
killed before any checkpoint folded them into the file.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import idgraph.store.ladybug as ladybug_store
from idgraph.errors import ConfigError, StoreError, StoreUnavailable
from idgraph.match.config import load_match_config
from idgraph.models import EXPLICIT_LINK_RULES
from idgraph.normalize.record import NormalizeOptions
from idgraph.pipeline import run_ingest
from idgraph.state.check import mirror_problems
from idgraph.store.ladybug import LadybugStore
from idgraph.store.plan import WritePlan
from idgraph.store.schema import NODE_TABLES, REL_TABLES
from tests.conftest import AS_OF, FIXTURE_INPUTS, as_of_ms


def _ingest_file_by_file(store: Path) -> list[str]:
    modes = []
    for source in FIXTURE_INPUTS:
        report = run_ingest(
            [source],
            store=store,
            options=NormalizeOptions(default_region="IT"),
            rejects_path=store.parent / "rejects.jsonl",
            as_of_ms=as_of_ms(AS_OF),
        )
        modes.append(report.mode)
    return modes


def _dump(store: Path) -> dict[str, Any]:
    """What the graph holds, in a form two stores can be compared by."""
    with LadybugStore(store, read_only=True) as graph:
        counts = {
            label: graph.query("n", f"MATCH (n:{label}) RETURN count(n) AS n")[0]["n"]
            for label in NODE_TABLES
        }
        counts |= {
            rel: graph.query("n", f"MATCH ()-[r:{rel}]->() RETURN count(r) AS n")[0]["n"]
            for rel in REL_TABLES
        }
        clusters = graph.query(
            "c", "MATCH (c:Customer)-[:HAS_RECORD]->(r:Record) RETURN r.key AS r, c.id AS c"
        )
        evidence = graph.query(
            "e",
            "MATCH (a:Record)-[m:MATCHED]->(b:Record) "
            "RETURN a.key AS a, b.key AS b, m.rule AS rule, m.score AS score",
        )
        return {
            "counts": counts,
            "clusters": sorted((row["r"], row["c"]) for row in clusters),
            "evidence": sorted(tuple(row.values()) for row in evidence),
            "problems": mirror_problems(graph, load_match_config(None)),
        }


def _ingest_in_a_process(store: Path, patch: str) -> int:
    """`_ingest_file_by_file(store)` in a child process after `patch` (Python run with `os`
    and `LadybugStore` imported), which may end it with `os._exit`; its exit code."""
    script = (
        textwrap.dedent(
            f"""
        import os, sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
        from idgraph.store.ladybug import LadybugStore
        from tests.store.test_ladybug_writes import _ingest_file_by_file
        """
        )
        + textwrap.dedent(patch)
        + f"\n_ingest_file_by_file(__import__('pathlib').Path({str(store)!r}))\n"
    )
    return subprocess.run([sys.executable, "-c", script], timeout=300).returncode


@pytest.fixture(scope="module")
def clean_dump(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What an undisturbed file-by-file ingest of the fixtures leaves, made once."""
    clean = tmp_path_factory.mktemp("clean") / "idgraph.db"
    _ingest_file_by_file(clean)
    return _dump(clean)


def test_small_writes_store_what_bulk_writes_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths_taken: list[tuple[str, bool]] = []
    original = LadybugStore._copy_table

    def observed(self: LadybugStore, label: str, table: Any, **kwargs: Any) -> None:
        paths_taken.append((label, self._bulk))
        original(self, label, table, **kwargs)

    monkeypatch.setattr(LadybugStore, "_copy_table", observed)
    small = tmp_path / "small" / "idgraph.db"
    small.parent.mkdir()
    modes = _ingest_file_by_file(small)
    assert modes[0] == "full" and modes.count("incremental") == len(modes) - 1
    assert any(bulk for _, bulk in paths_taken), "the first, full run is bulk-loaded"
    assert any(not bulk for _, bulk in paths_taken), "incremental runs go through the log"

    monkeypatch.setattr(ladybug_store, "BULK_ROWS", -1)
    bulk = tmp_path / "bulk" / "idgraph.db"
    bulk.parent.mkdir()
    paths_taken.clear()
    assert _ingest_file_by_file(bulk) == modes
    assert all(bulk for _, bulk in paths_taken)

    small_graph, bulk_graph = _dump(small), _dump(bulk)
    assert small_graph["problems"] == []
    assert small_graph["counts"]["HAS_IDENTIFIER"] > 0 and small_graph["evidence"]
    assert small_graph == bulk_graph


def test_a_relationship_to_a_missing_node_fails_the_whole_write(tmp_path: Path) -> None:
    store = tmp_path / "idgraph.db"
    _ingest_file_by_file(store)
    before = _dump(store)
    with LadybugStore(store) as graph:
        record = graph.query("r", "MATCH (r:Record) RETURN r.key AS key LIMIT 1")[0]["key"]
        plan = WritePlan(
            full=False,
            new_apart=pl.DataFrame(
                {
                    "a": [record, "no-such-record"],
                    "b": [record, record],
                    "reason": ["test", "test"],
                    "ts": [1, 1],
                }
            ),
        )
        with pytest.raises(StoreError, match="CANNOT_LINK: 1 of 2 relationships"):
            graph.apply(plan, version="test")
    assert _dump(store) == before


def test_commits_survive_a_kill_before_any_checkpoint(
    tmp_path: Path, clean_dump: dict[str, Any]
) -> None:
    """The process dies right after its incremental commits, before closing the store."""
    killed = tmp_path / "killed" / "idgraph.db"
    killed.parent.mkdir()
    patch = f"""
        closes = []
        def close(self):
            closes.append(1)
            if len(closes) == {len(FIXTURE_INPUTS)}:
                os._exit(0)  # no checkpoint: the last commits live in the log alone
            original(self)
        original = LadybugStore.close
        LadybugStore.close = close
        """
    assert _ingest_in_a_process(killed, patch) == 0
    assert killed.with_name("idgraph.db.wal").stat().st_size > 0
    assert _dump(killed) == clean_dump


def test_checkpoint_threshold_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDGRAPH_CHECKPOINT_MB", "3")
    with LadybugStore(tmp_path / "idgraph.db") as graph:
        rows = graph.query("t", "CALL current_setting('checkpoint_threshold') RETURN *")
    assert str(3 * 1024 * 1024) in [str(v) for v in rows[0].values()]

    monkeypatch.setenv("IDGRAPH_CHECKPOINT_MB", "lots")
    with pytest.raises(ConfigError, match="IDGRAPH_CHECKPOINT_MB='lots'"):
        LadybugStore(tmp_path / "other.db")


def test_the_buffer_pool_comes_from_the_caller_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine has no setting to read it back, so the real constructor is watched."""
    import ladybug

    sizes: list[int] = []
    real = ladybug.Database

    def watched(*args: Any, **kwargs: Any) -> Any:
        sizes.append(kwargs.get("buffer_pool_size", 0))
        return real(*args, **kwargs)

    monkeypatch.setattr(ladybug, "Database", watched)
    monkeypatch.delenv("IDGRAPH_BUFFER_POOL_MB", raising=False)
    with LadybugStore(tmp_path / "a.db"):
        pass
    with LadybugStore(tmp_path / "a.db", cache_mb=256):
        pass
    monkeypatch.setenv("IDGRAPH_BUFFER_POOL_MB", "300")
    with LadybugStore(tmp_path / "a.db", cache_mb=256):
        pass
    assert sizes == [0, 256 * 1024 * 1024, 300 * 1024 * 1024]
    monkeypatch.setenv("IDGRAPH_BUFFER_POOL_MB", "0")
    with pytest.raises(ConfigError, match="IDGRAPH_BUFFER_POOL_MB='0'"):
        LadybugStore(tmp_path / "b.db")


def test_a_failed_first_load_leaves_an_empty_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_dump: dict[str, Any]
) -> None:
    """A first load commits table by table; when it fails, what it wrote goes again."""
    store = tmp_path / "idgraph.db"

    def broken(self: LadybugStore, plan: WritePlan) -> None:
        raise RuntimeError("disk on fire")

    with monkeypatch.context() as patch:
        patch.setattr(LadybugStore, "_write_ids", broken)
        with pytest.raises(StoreError, match="disk on fire"):
            _ingest_file_by_file(store)
    counts = _dump(store)["counts"]
    assert sum(n for table, n in counts.items() if table != "Meta") == 0
    with LadybugStore(store, read_only=True) as graph:
        assert graph.state_version() == ""
    _ingest_file_by_file(store)
    assert _dump(store) == clean_dump


def test_a_first_load_killed_midway_is_cleared_at_the_next_open(
    tmp_path: Path, clean_dump: dict[str, Any]
) -> None:
    killed = tmp_path / "killed" / "idgraph.db"
    killed.parent.mkdir()
    patch = "LadybugStore._write_ids = lambda self, plan: os._exit(3)"
    assert _ingest_in_a_process(killed, patch) == 3
    with pytest.raises(StoreUnavailable, match=r"first load .* did not finish"):
        LadybugStore(killed, read_only=True)
    with LadybugStore(killed, read_only=False) as graph:
        assert graph.query("n", "MATCH (r:Record) RETURN count(r) AS n")[0]["n"] == 0
    _ingest_file_by_file(killed)
    assert _dump(killed) == clean_dump


def test_the_stored_evidence_of_many_records_is_read_in_one_statement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A micro-batch reads back the evidence of its stored records: one statement that walks
    from each record found by its key, not one statement per record."""
    store = tmp_path / "idgraph.db"
    _ingest_file_by_file(store)
    rules = sorted(EXPLICIT_LINK_RULES)
    with LadybugStore(store) as graph:
        keys = [row["key"] for row in graph.query("keys", "MATCH (r:Record) RETURN r.key AS key")]
        everything = graph.query(
            "evidence",
            "MATCH (a:Record)-[m:MATCHED]->(b:Record) WHERE NOT m.rule IN $rules "
            "RETURN a.key AS a, b.key AS b, m.rule AS rule",
            {"rules": rules},
        )
        ran: list[str] = []
        run = LadybugStore._run

        def counted(self: LadybugStore, cypher: str, params: dict[str, Any]) -> list[Any]:
            ran.append(cypher)
            return run(self, cypher, params)

        monkeypatch.setattr(LadybugStore, "_run", counted)
        rows = graph._keyed("computed_evidence_of", keys, rules=rules)
    assert len(ran) == 1
    found = {(r["a"], r["b"], r["rule"]) for r in rows if r["b"] is not None}
    assert everything and found == {(r["a"], r["b"], r["rule"]) for r in everything}
