"""`idgraph load` into a store that holds records keeps its customer ids, or refuses."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from idgraph.errors import StoreError
from idgraph.normalize.record import NormalizeOptions
from idgraph.pipeline import run_ingest
from idgraph.resolve import Overrides
from idgraph.settings import open_store
from idgraph.spark.job import SparkReport
from idgraph.spark.load import load_output
from tests.conftest import AS_OF, FIXTURE_INPUTS, FIXTURES, as_of_ms

_READS = {
    "members": "MATCH (c:Customer)-[:HAS_RECORD]->(r:Record) RETURN c.id AS c, r.key AS r",
    "customers": (
        "MATCH (c:Customer) RETURN c.id AS id, c.first_name AS f, c.last_name AS l, "
        "c.email AS e, c.phone AS p, c.record_count AS n, c.sources AS s, "
        "c.total_spent AS spent, c.rfm_score AS rfm"
    ),
    "ids": "MATCH (i:CustomerId) RETURN i.id AS id, i.status AS status",
    "merged": "MATCH (a:CustomerId)-[:MERGED_INTO]->(b:CustomerId) RETURN a.id AS a, b.id AS b",
    "events": "MATCH (e:Event) RETURN e.id AS id",
}


def _state(store: Path) -> dict[str, list[tuple[tuple[str, str], ...]]]:
    with open_store(store, read_only=True) as graph:
        return {
            name: sorted(
                tuple(sorted((k, repr(v)) for k, v in row.items()))
                for row in graph.query("test", statement)
            )
            for name, statement in _READS.items()
        }


def _crm_only(folder: Path) -> Path:
    """Yesterday's store: the CRM alone, ingested locally."""
    folder.mkdir()
    store = folder / "idgraph.db"
    run_ingest(
        [FIXTURES / "crm.csv"],
        store=store,
        options=NormalizeOptions(default_region="IT"),
        rejects_path=folder / "rejects.jsonl",
        as_of_ms=as_of_ms(AS_OF),
    )
    return store


def test_load_over_a_store_keeps_its_ids_as_an_ingest_would(
    spark_fixture_run: tuple[Path, SparkReport], tmp_path: Path
) -> None:
    folder, _ = spark_fixture_run
    yesterday = _crm_only(tmp_path / "yesterday")
    local = tmp_path / "local"
    shutil.copytree(yesterday.parent, local)
    run_ingest(
        FIXTURE_INPUTS,
        store=local / "idgraph.db",
        options=NormalizeOptions(default_region="IT"),
        rejects_path=local / "rejects.jsonl",
        as_of_ms=as_of_ms(AS_OF),
    )
    before = _state(yesterday)
    report = load_output(folder, store=yesterday)
    want, got = _state(local / "idgraph.db"), _state(yesterday)
    for name in want:
        assert got[name] == want[name], name
    # The run's own ids (hashes of each customer's first key) were not simply taken: where a
    # customer of yesterday gained records, its id stayed.
    kept = {row for row in before["ids"]} & {row for row in got["ids"]}
    assert len(kept) == len(before["ids"])
    assert report.merged_ids == len(want["merged"]) - len(before["merged"])


def test_load_refuses_a_run_that_misses_stored_records(
    spark_fixture_run: tuple[Path, SparkReport], tmp_path: Path
) -> None:
    folder, _ = spark_fixture_run
    store = tmp_path / "idgraph.db"
    extra = tmp_path / "app.jsonl"
    extra.write_text(
        '{"type": "track", "event": "App Opened", "userId": "u-999", "messageId": "m-1", '
        '"timestamp": "2026-10-01T10:00:00Z"}\n',
        "utf-8",
    )
    run_ingest([extra], store=store, rejects_path=tmp_path / "rejects.jsonl")
    before = _state(store)
    with pytest.raises(StoreError, match="holds 1 records the run did not resolve"):
        load_output(folder, store=store)
    assert _state(store) == before


def test_load_refuses_to_undo_a_reviewers_split(
    spark_fixture_run: tuple[Path, SparkReport], tmp_path: Path
) -> None:
    folder, _ = spark_fixture_run
    store = tmp_path / "idgraph.db"
    load_output(folder, store=store)
    members = pl.DataFrame(_state_rows(store))
    biggest = members.group_by("c").len().sort(["len", "c"], descending=[True, False])["c"][0]
    a, b = sorted(members.filter(pl.col("c") == biggest)["r"].to_list())[:2]
    run_ingest([], store=store, overrides=Overrides(cannot_link=[(a, b)], reason="twins"))
    before = _state(store)
    with pytest.raises(StoreError, match="which a reviewer split apart"):
        load_output(folder, store=store)
    assert _state(store) == before


def _state_rows(store: Path) -> list[dict[str, str]]:
    with open_store(store, read_only=True) as graph:
        return graph.query("test", _READS["members"])
