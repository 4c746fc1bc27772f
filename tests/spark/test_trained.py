"""On generated data big enough for the match model to be learned (and its first-name aliases
with it), the Spark engine gives the local engine's customers: the path the fixtures, scored
with the shipped weights, do not take."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from bench.generate import run
from bench.scale import PEOPLE_MAPPING
from bench.spark_scale import members_of_output, members_of_store
from idgraph.match.scored import MODEL_KEY
from idgraph.pipeline import run_ingest
from idgraph.spark.job import resolve_files

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def test_learned_model_gives_the_local_customers(spark: SparkSession, tmp_path: Path) -> None:
    data = tmp_path / "data"
    run(records=8_000, seed=11, noise=1.0, out=data, sources=False)
    (data / "people.mapping.yaml").write_text(PEOPLE_MAPPING, encoding="utf-8")
    inputs = [data / "people.csv"]
    local = run_ingest(inputs, store=tmp_path / "db", rejects_path=tmp_path / "r.jsonl", as_of_ms=0)
    output = tmp_path / "out"
    report = resolve_files(inputs, output, spark=spark, as_of_ms=0, buckets=3)
    stored = members_of_store(tmp_path / "db")
    written = members_of_output(output)
    assert len(stored) == local.records_total > 7_000
    assert report.model_trained_on == local.records_total
    assert written == stored
    assert report.customers == local.customers
    assert report.pairs_compared == local.pairs_compared
    # The data holds nicknames sharing an email with their full names: the model learned
    # them as aliases on the driver, as the local run learns them.
    model = json.loads(json.loads((output / "manifest.json").read_text("utf-8"))[MODEL_KEY])
    assert model["aliases"]
