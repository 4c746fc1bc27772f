"""Full resolution on Apache Spark, with the same stage functions as the local engine.

Spark moves the data; the stages stay the Python functions of the columnar core. Files are
read and normalized by the local readers, one task per file; sightings are folded by record
key in buckets; identifier holders, block sizes and value counts are Spark aggregations;
the records are cut into shards that no candidate pair, shared identifier or explicit link
crosses (connected components of the candidate graph, by label propagation in Spark SQL);
and every bucket of whole shards is resolved by `idgraph.resolve.plan_changes` with the
facts only the whole data set knows (`SharedFacts`). A store is re-resolved the same way from
its own rows, and written back by the local write path. docs/spark.md tells the whole story.

Import this package only where pyspark is installed (the `spark` extra).
"""

from idgraph.spark.errors import SparkJobError
from idgraph.spark.job import SparkReport, resolve_files
from idgraph.spark.store_run import StoreRunReport, resolve_store

__all__ = ["SparkJobError", "SparkReport", "StoreRunReport", "resolve_files", "resolve_store"]
