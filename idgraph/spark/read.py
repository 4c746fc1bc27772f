"""Read and fold on Spark: the local readers one task per file, `fold` per bucket of keys.

Each input file is read by the same reader as `idgraph ingest` (mappings, normalization,
rejects with file, line and field) in a task of its own, and its frames are written as
Parquet parts. Folding joins every mention of one record key, from every file: the
sightings, traits and links are bucketed by record key and the events by event id, and
each bucket is folded by `idgraph.normalize.fold.fold` with the files in their order, so
"the later file wins a tie" holds as it does locally.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from idgraph.frames import EVENT_PROPERTIES, EVENTS, LINKS, SIGHTINGS, TRAITS
from idgraph.ingest.batch import read_checked
from idgraph.ingest.collect import SourceBatch
from idgraph.ingest.rejects import FileCounts, RejectsWriter
from idgraph.normalize.fold import fold
from idgraph.normalize.record import NormalizeOptions
from idgraph.spark.exchange import bucket_of, tagged, untag, write_part

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["FOLDED", "fold_buckets", "read_files"]

_FILE = {"_file": pl.Int32, "_row": pl.Int64}
#: The read stage's tables as parts carry them: the reader's columns, the file's position
#: and the row's position in the file (Spark's shuffles do not keep order).
_READ: dict[str, Any] = {
    "sightings": {**SIGHTINGS, **_FILE},
    "traits": {**TRAITS, "key": pl.Utf8, **_FILE},
    "events": {**EVENTS, **_FILE},
    "event_properties": {**EVENT_PROPERTIES, **_FILE},
    "links": {**LINKS, **_FILE},
}
_TAGS = {"sightings": "s", "traits": "t", "events": "e", "event_properties": "p", "links": "l"}
#: What folding writes, as `Gathered` holds it.
FOLDED = ("records", "identifiers", "record_traits", "events", "event_properties", "links")


def _read_one(item: tuple[int, Any], options: NormalizeOptions, stage: Path) -> dict[str, Any]:
    """Read one file in a task: its frames as parts, its rejects as a part, its counts."""
    index, plan = item
    with RejectsWriter(stage / "rejects" / f"part-{index:05d}.jsonl") as rejects:
        batch = read_checked([plan], options=options, rejects=rejects)[0]
    keyed_traits = batch.traits.join(
        batch.sightings.select("line", "sub", "key"), on=["line", "sub"], how="inner"
    )
    frames = {
        "sightings": batch.sightings,
        "traits": keyed_traits,
        "events": batch.events,
        "event_properties": batch.event_properties,
        "links": batch.links,
    }
    for name, frame in frames.items():
        numbered = frame.with_row_index("_row").with_columns(
            pl.lit(index, dtype=pl.Int32).alias("_file"), pl.col("_row").cast(pl.Int64)
        )
        write_part(
            numbered.select(list(_READ[name])).cast(_READ[name]), stage / "read", name, index
        )
    counts = batch.counts
    return {
        "path": counts.path,
        "source": counts.source,
        "read": counts.read,
        "ingested": counts.ingested,
        "rejected": counts.rejected,
        "note": counts.note,
        "refused": counts.refused,
    }


def read_files(
    spark: SparkSession, plans: Sequence[Any], options: NormalizeOptions, stage: Path
) -> list[FileCounts]:
    """Read every checked input in a task of its own; return the per-file counts in order."""
    items = list(enumerate(plans))
    rdd = spark.sparkContext.parallelize(items, max(len(items), 1))
    rows = rdd.map(lambda item: _read_one(item, options, stage)).collect()
    return [FileCounts(**row) for row in rows]


def _fold_bucket(table: pa.Table, out: Path) -> pa.Table:
    parts = untag(table, {_TAGS[name]: schema for name, schema in _READ.items()})
    bucket = int(table.column("_bucket")[0].as_py())
    files = sorted({f for frame in parts.values() for f in frame["_file"].unique().to_list()})
    batches = []
    for index in files:
        batch = SourceBatch.empty(FileCounts("", ""))

        def of(tag: str, schema: Any, index: int = index) -> pl.DataFrame:
            rows = parts[tag].filter(pl.col("_file") == index).sort("_row")
            return rows.select(list(schema))

        batch.sightings = of("s", SIGHTINGS)
        batch.traits = of("t", TRAITS)
        batch.events = of("e", EVENTS)
        batch.event_properties = of("p", EVENT_PROPERTIES)
        batch.links = of("l", LINKS)
        batches.append(batch)
    gathered = fold(batches)
    for name in FOLDED:
        write_part(getattr(gathered, name), out, name, bucket)
    return pa.table({"bucket": [bucket], "records": [gathered.records.height]})


def fold_buckets(spark: SparkSession, stage: Path, buckets: int) -> int:
    """Fold the read parts into records, identifiers, traits, events and links; returns
    the number of records."""
    read = stage / "read"

    def table(name: str) -> Any:
        return spark.read.parquet(str(read / name))

    stacked = tagged(
        {
            "s": (table("sightings"), bucket_of("key", buckets)),
            "t": (table("traits"), bucket_of("key", buckets)),
            "e": (table("events"), bucket_of("id", buckets)),
            "p": (table("event_properties"), bucket_of("id", buckets)),
            "l": (table("links"), bucket_of("a", buckets)),
        }
    )
    out = stage / "folded"
    rows = (
        stacked.groupBy("_bucket")
        .applyInArrow(lambda t: _fold_bucket(t, out), "bucket long, records long")
        .collect()
    )
    return sum(int(r["records"]) for r in rows)
