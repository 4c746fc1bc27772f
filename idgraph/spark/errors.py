"""The one error a Spark run raises for everything Spark itself got wrong."""

from __future__ import annotations

from idgraph.errors import IdGraphError

__all__ = ["SparkJobError"]


class SparkJobError(IdGraphError):
    """Spark could not start or a job failed (no Java, out of memory, a lost executor).

    Nothing was written to the output folder or the store: the run's work sits in a
    temporary folder beside the output, removed on failure.
    """
