"""At 100k generated records (the four CDP-shaped sources) the Spark engine gives exactly
the local engine's customers. Slow (minutes): `pytest -m slow tests/spark`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bench.generate import run
from bench.spark_scale import members_of_output, members_of_store
from idgraph.pipeline import run_ingest
from idgraph.spark.job import resolve_files

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = pytest.mark.slow


def test_100k_sources_same_customers(spark: SparkSession, tmp_path: Path) -> None:
    data = tmp_path / "data"
    run(records=100_000, seed=7, noise=1.0, out=data, sources=True)
    inputs = [data / name for name in ("crm.csv", "support.csv", "pos.csv", "web.jsonl")]
    local = run_ingest(inputs, store=tmp_path / "db", rejects_path=tmp_path / "r.jsonl", as_of_ms=0)
    output = tmp_path / "out"
    report = resolve_files(inputs, output, spark=spark, as_of_ms=0)
    stored = members_of_store(tmp_path / "db")
    written = members_of_output(output)
    assert len(stored) == local.records_total > 90_000
    assert written == stored
    assert report.customers == local.customers
    assert report.pairs_compared == local.pairs_compared
