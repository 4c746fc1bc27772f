"""One local Spark session for every Spark test (starting one takes seconds)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest

from idgraph.normalize.record import NormalizeOptions
from idgraph.settings import open_store
from idgraph.spark.job import SparkReport, resolve_files
from idgraph.spark.session import spark_session
from tests.conftest import FIXTURE_INPUTS, as_of_ms

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    with spark_session("local[2]", {"spark.sql.shuffle.partitions": "4"}) as session:
        yield session


@pytest.fixture(scope="session")
def spark_fixture_run(
    spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, SparkReport]:
    """The fixtures resolved once on Spark, into a folder tests only read."""
    folder = tmp_path_factory.mktemp("spark_fixtures") / "out"
    report = resolve_files(
        FIXTURE_INPUTS,
        folder,
        spark=spark,
        options=NormalizeOptions(default_region="IT"),
        as_of_ms=as_of_ms(),
    )
    return folder, report


def stored_members(store: Path) -> set[tuple[str, str]]:
    """(customer id, record key) of every record a store holds."""
    with open_store(store, read_only=True) as graph:
        found = graph.query_columns(
            "members", "MATCH (c:Customer)-[:HAS_RECORD]->(r:Record) RETURN c.id AS c, r.key AS k"
        )
    return set(zip(found["c"], found["k"], strict=True))


def written_members(output: Path) -> set[tuple[str, str]]:
    """(customer id, record key) of every record a Spark run wrote."""
    frame = pl.read_parquet(output / "records" / "*.parquet", columns=["customer", "key"])
    return set(frame.iter_rows())
