"""On records that hold no households, Spark lifts the first-name veto as the local engine
does, over all the records, and gives the local engine's customers; and it blocks on a
record's customer id (an identifier, read as a field) as the local engine does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from bench.spark_scale import members_of_output, members_of_store
from idgraph.frames import IDENTIFIERS, RECORDS
from idgraph.match.config import load_match_config
from idgraph.match.scored import MODEL_KEY
from idgraph.pipeline import run_ingest
from idgraph.spark.facts import find_facts
from idgraph.spark.job import resolve_files
from idgraph.spark.session import quiet_pyspark
from idgraph.store.plan import LINK_ROWS
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


def test_records_whose_ids_are_one_slip_apart_share_a_shard(
    spark: SparkSession, tmp_path: Path
) -> None:
    """Twenty pairs of records that share only a postcode and a customer id one slip apart
    (`customer_id_front` / `customer_id_back`): each pair is one shard, so one bucket
    resolves it as the local engine would."""
    pairs = [(f"{3_000_000 + 7_919 * n}", f"{n:02d}") for n in range(20)]
    rows, ids = [], []
    for n, (number, tag) in enumerate(pairs):
        slipped = number[:-2] + number[-1] + number[-2]
        for side, (first, value) in enumerate(((f"ann{tag}", number), (f"bo{tag}", slipped))):
            key = f"s:{n}-{side}"
            rows.append({"key": key, "source": "s", "source_id": f"{n}-{side}",
                         "kind": "identified", "updated_ts": 0, "first_name": first,
                         "postcode": f"9{tag}00"})  # fmt: skip
            ids.append({"record": key, "kind": "customer_id", "value": value})
    folder = tmp_path / "tables"
    folder.mkdir()
    pl.DataFrame(rows).cast(pl.Utf8).with_columns(pl.col("updated_ts").cast(pl.Int64)).select(
        [pl.col(c) if c in rows[0] else pl.lit(None, pl.Utf8).alias(c) for c in RECORDS]
    ).cast(RECORDS).write_parquet(folder / "records.parquet")  # type: ignore[arg-type]
    pl.DataFrame(ids, schema=IDENTIFIERS).write_parquet(folder / "identifiers.parquet")
    pl.DataFrame(schema=LINK_ROWS).write_parquet(folder / "links.parquet")
    records, identifiers, links = (
        spark.read.parquet(str(folder / f"{name}.parquet"))
        for name in ("records", "identifiers", "links")
    )
    with quiet_pyspark():  # as the job runs it: pandas 3 draws a warning from pyspark
        facts = find_facts(spark, records, identifiers, links, load_match_config(None), 8)
    assert facts.shards == len(pairs) and facts.largest_shard == 2
