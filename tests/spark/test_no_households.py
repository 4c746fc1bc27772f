"""On records that hold no households, Spark lifts the first-name veto as the local engine
does, over all the records, and gives the local engine's customers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from bench.spark_scale import members_of_output, members_of_store
from idgraph.match.config import load_match_config
from idgraph.match.scored import MODEL_KEY
from idgraph.pipeline import run_ingest
from idgraph.spark.job import resolve_files
from tests.match.test_no_households import replaced_first_names

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def test_a_lifted_veto_gives_the_local_customers(spark: SparkSession, tmp_path: Path) -> None:
    records, identifiers, truth = replaced_first_names(800, seed=6)
    rows = records.join(
        identifiers.select(pl.col("record").alias("key"), pl.col("value").alias("national_id")),
        on="key",
    ).rename({"key": "id"})
    data = tmp_path / "data"
    data.mkdir()
    rows.write_csv(data / "people.csv")
    columns = ", ".join(f"{c}: {c}" for c in rows.columns if c not in ("id", "national_id"))
    mapping = f"source: people\nid: id\ncolumns: {{{columns}, customer_id: national_id}}\n"
    (data / "people.mapping.yaml").write_text(mapping, encoding="utf-8")
    base = load_match_config(None)
    config = base.model_copy(
        update={"scoring": base.scoring.model_copy(update={"min_records": 500})}
    )
    inputs = [data / "people.csv"]
    local = run_ingest(
        inputs, store=tmp_path / "db", match_config=config, rejects_path=tmp_path / "r.jsonl"
    )
    assert local.guards_lifted == ["first_name", "birth_date"]
    output = tmp_path / "out"
    report = resolve_files(inputs, output, spark=spark, match_config=config, buckets=3)
    assert members_of_output(output) == members_of_store(tmp_path / "db")
    assert report.customers == local.customers == len(set(truth.values()))
    model = json.loads(json.loads((output / "manifest.json").read_text("utf-8"))[MODEL_KEY])
    assert model["lifted"] == ["first_name", "birth_date"]
    assert model["notes"]["households"]["found"] is False
