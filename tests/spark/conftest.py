"""One local Spark session for every Spark test (starting one takes seconds)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from idgraph.normalize.record import NormalizeOptions
from idgraph.spark.job import SparkReport, resolve_files
from idgraph.spark.session import spark_session
from tests.conftest import FIXTURE_INPUTS, as_of_ms

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    conf = {
        "spark.sql.shuffle.partitions": "4",
        # The JVM's first, quick compiler only: these runs are ~120 small jobs each, over before
        # the optimising compiler pays back (the fixtures' first run 37-40 s against 42-47 s).
        "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
    }
    with spark_session("local[2]", conf) as session:
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
