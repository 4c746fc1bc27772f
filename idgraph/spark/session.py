"""Starting Spark, and turning its failures into one clear message."""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from idgraph.spark.errors import SparkJobError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["check_java", "spark_errors", "spark_session"]


def check_java() -> None:
    """Fail early, and clearly, when there is no Java for Spark to start.

    Spark's own message for a missing JVM is a gateway error a page long; this names
    `JAVA_HOME` or the `PATH`.
    """
    home = os.environ.get("JAVA_HOME")
    if home:
        java = Path(home) / "bin" / "java"
        if not java.is_file():
            raise SparkJobError(
                f"Spark needs Java 17 or later: JAVA_HOME={home} has no bin/java "
                "(point JAVA_HOME at a JDK or unset it)"
            )
        return
    if shutil.which("java") is None:
        raise SparkJobError("Spark needs Java 17 or later: no java on the PATH and no JAVA_HOME")


def _first_line(exc: BaseException) -> str:
    """The line of a Spark failure that says what went wrong (JVM traces run for pages)."""
    text = str(exc).strip()
    for line in text.splitlines():
        line = line.strip()
        if any(
            word in line
            for word in (
                "OutOfMemory",
                "Lost executor",
                "ExecutorLostFailure",
                "Error:",
                "Exception:",
            )
        ):
            return line[:400]
    return (text.splitlines()[0] if text else type(exc).__name__)[:400]


@contextmanager
def spark_errors(what: str) -> Iterator[None]:
    """Run a Spark step; a failure of Spark (JVM, executor, Python worker) becomes a
    `SparkJobError` naming the step and the first line of the cause."""
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    try:
        yield
    except SparkJobError:
        raise
    except (Py4JError, PySparkException, ConnectionError) as exc:
        raise SparkJobError(f"the Spark job failed while {what}: {_first_line(exc)}") from exc


@contextmanager
def spark_session(
    master: str = "local[2]",
    conf: Mapping[str, str] | None = None,
    *,
    session: SparkSession | None = None,
) -> Iterator[SparkSession]:
    """A SparkSession for one run: `session` when given (kept open), else a new one for
    `master`, stopped at the end.

    The Python workers run this interpreter unless `PYSPARK_PYTHON` (or
    `spark.pyspark.python`) says otherwise, so they import the same idgraph.
    """
    if session is not None:
        with quiet_pyspark():
            yield session
        return
    check_java()
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master(master)
        .appName("idgraph resolve")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.adaptive.enabled", "true")
        # Buckets of whole shards are resolved by Python functions; tasks may be retried,
        # so each writes its part files under a name of its own that a retry overwrites.
        .config("spark.speculation", "false")
    )
    if "spark.sql.shuffle.partitions" not in (conf or {}):
        # Spark's 200 suits a cluster; a bucket is a few thousand records, not a shuffle
        # partition, so a few per core are enough here.
        builder = builder.config("spark.sql.shuffle.partitions", str(_cores(master) * 2))
    if "PYSPARK_PYTHON" not in os.environ and not (conf or {}).get("spark.pyspark.python"):
        if master.startswith("local"):
            # pyspark starts local workers with $PYSPARK_PYTHON (else `python3` on the PATH,
            # which may not have idgraph); the setting below only reaches cluster executors.
            os.environ["PYSPARK_PYTHON"] = sys.executable
        builder = builder.config("spark.pyspark.python", sys.executable)
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    with quiet_pyspark(), spark_errors("starting Spark"):
        spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    try:
        with quiet_pyspark():
            yield spark
    finally:
        spark.stop()


def _cores(master: str) -> int:
    """Cores of a `local[N]` master (all of this machine's for `local[*]`), else 4."""
    if master.startswith("local"):
        inside = master[master.find("[") + 1 : master.find("]")] if "[" in master else "1"
        inside = inside.split(",")[0]
        if inside == "*":
            return os.cpu_count() or 2
        return max(int(inside), 1)
    return 4


@contextmanager
def quiet_pyspark() -> Iterator[None]:
    """pyspark warns that it does not fully support pandas 3 on every Arrow function it
    builds; idgraph hands Arrow tables to Polars and no pandas is involved."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"pyspark\..*")
        warnings.filterwarnings("ignore", message=".*pandas >= 3.0.0.*")
        yield
