"""Re-resolving a store on Spark gives what `idgraph resolve` gives; a failure writes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from bench.store_copy import copy_store
from idgraph.cli import app
from idgraph.match.config import load_match_config
from idgraph.pipeline import run_ingest
from idgraph.resolve import Overrides
from idgraph.settings import open_store
from idgraph.spark import resolution
from idgraph.spark.errors import SparkJobError
from idgraph.spark.store_run import resolve_store
from idgraph.state.mirror import Mirror
from tests.conftest import as_of_ms, ingest_fixtures

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

AS_OF = "2026-11-01"
_READS = {
    "members": "MATCH (c:Customer)-[:HAS_RECORD]->(r:Record) RETURN c.id AS c, r.key AS r",
    "customers": (
        "MATCH (c:Customer) RETURN c.id AS id, c.first_name AS f, c.last_name AS l, "
        "c.email AS e, c.phone AS p, c.birth_date AS b, c.record_count AS n, c.sources AS s, "
        "c.flagged AS flagged, c.flag_reason AS why, c.total_spent AS spent, "
        "c.rfm_score AS rfm"
    ),
    "ids": "MATCH (i:CustomerId) RETURN i.id AS id, i.status AS status",
    "merged": (
        "MATCH (a:CustomerId)-[m:MERGED_INTO]->(b:CustomerId) "
        "RETURN a.id AS a, b.id AS b, m.evidence AS ev, m.records AS n"
    ),
    "split": (
        "MATCH (a:CustomerId)-[m:SPLIT_FROM]->(b:CustomerId) "
        "RETURN a.id AS a, b.id AS b, m.reason AS why, m.records AS n"
    ),
    "moved": (
        "MATCH (a:CustomerId)-[m:MOVED_TO]->(b:CustomerId) "
        "RETURN a.id AS a, b.id AS b, m.reason AS why, m.evidence AS ev, m.records AS n"
    ),
    "evidence": (
        "MATCH (a:Record)-[m:MATCHED]->(b:Record) "
        "RETURN a.key AS a, b.key AS b, m.rule AS rule, m.score AS score"
    ),
    "identifiers": "MATCH (i:Identifier) RETURN i.key AS k, i.linking AS l, i.reason AS why",
}
#: Stamped with the time of the run, so they differ between any two runs.
_CLOCK = ("updated_ts", "created_ts")


def _state(store: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with open_store(store, read_only=True) as graph:
        for name, statement in _READS.items():
            rows = graph.query("test", statement)
            out[name] = sorted(tuple(sorted((k, repr(v)) for k, v in r.items())) for r in rows)
    mirror = Mirror.open(Path(f"{store}.state"))
    assert mirror is not None
    for name in mirror.files:
        frame = mirror.load(name)
        frame = frame.drop([c for c in _CLOCK if c in frame.columns])
        columns = sorted(frame.columns)
        out[f"mirror {name}"] = frame.select(columns).sort(columns).rows()
    out["mirror columns"] = (mirror.customer_columns, mirror.event_columns, mirror.config)
    return out


def _strict_config(tmp_path: Path) -> Path:
    """Fewer fuzzy rules and a higher threshold than the store was resolved with: customers
    split, and ids must follow the larger parts."""
    config = yaml.safe_load(load_match_config(None).model_dump_json())
    config["fuzzy"] = [r for r in config["fuzzy"] if r["name"] in ("name_and_birth_date",)]
    config["scoring"]["threshold"] = 0.999
    path = tmp_path / "strict.yaml"
    path.write_text(yaml.safe_dump(config), "utf-8")
    return path


@pytest.fixture(scope="module")
def reviewed_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixtures with a reviewer's split and link, as a store a nightly job re-resolves."""
    folder = tmp_path_factory.mktemp("reviewed")
    store = folder / "idgraph.db"
    ingest_fixtures(store, folder, as_of=AS_OF)
    with open_store(store, read_only=True) as graph:
        members = pl.DataFrame(graph.query("test", _READS["members"]))
    sizes = members.group_by("c").len().sort(["len", "c"], descending=[True, False])
    big = sorted(members.filter(pl.col("c") == sizes["c"][0])["r"].to_list())
    alone = sizes.filter(pl.col("len") == 1)["c"].head(2).to_list()
    lone = [members.filter(pl.col("c") == c)["r"][0] for c in alone]
    run_ingest(
        [],
        store=store,
        overrides=Overrides(
            cannot_link=[(big[0], big[1])], must_link=[(lone[0], lone[1])], reason="review"
        ),
        as_of_ms=as_of_ms(AS_OF),
    )
    return store


def test_store_run_gives_the_local_resolve(
    spark: SparkSession, reviewed_store: Path, tmp_path: Path
) -> None:
    config = _strict_config(tmp_path)
    local = copy_store(reviewed_store, tmp_path / "local" / reviewed_store.name)
    on_spark = copy_store(reviewed_store, tmp_path / "spark" / reviewed_store.name)
    before = _state(reviewed_store)
    run_ingest([], store=local, full=True, match_config=config, as_of_ms=as_of_ms(AS_OF))
    report = resolve_store(
        on_spark, spark=spark, match_config=config, as_of_ms=as_of_ms(AS_OF), buckets=3
    )
    want, got = _state(local), _state(on_spark)
    assert sorted(want) == sorted(got)
    for name in want:
        assert got[name] == want[name], name
    assert report.records == len(want["members"])
    assert report.customers == len(want["customers"])
    # The stricter rules really changed customers, and the reviewer's decisions held.
    assert want["members"] != before["members"]
    assert report.split_ids == len(set(want["split"]) - set(before["split"])) > 0


def test_a_failed_store_run_writes_nothing(
    spark: SparkSession, reviewed_store: Path, tmp_path: Path
) -> None:
    store = copy_store(reviewed_store, tmp_path / "store" / reviewed_store.name)
    before = _state(store)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("executor lost")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(resolution, "resolve_bucket", broken)
        with pytest.raises(SparkJobError, match="while resolving the shards"):
            resolve_store(
                store,
                spark=spark,
                match_config=_strict_config(tmp_path),
                as_of_ms=as_of_ms(AS_OF),
                work_dir=tmp_path / "work",
            )
    assert _state(store) == before
    # The exported rows and part files are gone too.
    assert list((tmp_path / "work").iterdir()) == []


def test_cli_store_run_refuses_output(reviewed_store: Path) -> None:
    result = CliRunner().invoke(
        app, ["resolve", "--engine", "spark", "--store", str(reviewed_store), "--output", "x"]
    )
    assert result.exit_code == 2
    said = " ".join(result.output.replace("│", " ").split())
    assert "without files the store is re-resolved in place" in said


def test_an_empty_store_needs_no_spark(tmp_path: Path) -> None:
    # A master Spark cannot start: the run must not get that far.
    report = resolve_store(tmp_path / "idgraph.db", master="nowhere://spark")
    assert (report.records, report.customers, report.buckets) == (0, 0, 0)
