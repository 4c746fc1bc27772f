"""Several tables in one Spark frame, and back: how a bucket gets all of its rows at once.

A grouped Arrow function sees one frame. To hand a bucket its records, identifiers, links,
events and verdicts together, each table's columns are prefixed with a tag and the tables
are stacked (`tagged`); the function splits them again with the tables' Polars schemas
(`untag`). Part files are written under the bucket's number, so a retried task overwrites
its own output and nothing else.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pyarrow as pa

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = ["bucket_of", "part_path", "read_parts", "tagged", "to_arrow", "untag", "write_part"]

Schema = Mapping[str, pl.DataType | type[pl.DataType]]


def bucket_of(column: str | Column, buckets: int) -> Column:
    """A row's bucket: a 64-bit hash of `column` modulo `buckets`."""
    from pyspark.sql import functions as F

    return F.pmod(F.xxhash64(column), F.lit(buckets))


def tagged(parts: Mapping[str, tuple[DataFrame, Column]]) -> DataFrame:
    """Stack tables as one frame: `_tag`, `_bucket` (the given expression), then every
    table's columns as `<tag>__<column>` (null in the other tables' rows)."""
    from pyspark.sql import functions as F

    frames = [
        frame.select(
            F.lit(tag).alias("_tag"),
            bucket.cast("long").alias("_bucket"),
            *[F.col(f"`{c}`").alias(f"{tag}__{c}") for c in frame.columns],
        )
        for tag, (frame, bucket) in parts.items()
    ]
    stacked = frames[0]
    for frame in frames[1:]:
        stacked = stacked.unionByName(frame, allowMissingColumns=True)
    return stacked


def untag(table: pa.Table, schemas: Mapping[str, Schema]) -> dict[str, pl.DataFrame]:
    """The tables `tagged` stacked, each with its Polars schema (missing columns null)."""
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    out: dict[str, pl.DataFrame] = {}
    for tag, schema in schemas.items():
        rows = frame.filter(pl.col("_tag") == tag)
        out[tag] = rows.select(
            [
                (
                    pl.col(f"{tag}__{name}").cast(dtype)
                    if f"{tag}__{name}" in rows.columns
                    else pl.lit(None, dtype=dtype)
                ).alias(name)
                for name, dtype in schema.items()
            ]
        )
    return out


def to_arrow(frame: pl.DataFrame, schema: pa.Schema) -> pa.Table:
    """A Polars frame as the Arrow table a Spark function promised (plain strings)."""
    table = frame.to_arrow(compat_level=pl.CompatLevel.oldest())
    return table.select(schema.names).cast(schema)


def part_path(root: Path, table: str, part: int) -> Path:
    return root / table / f"part-{part:05d}.parquet"


def write_part(frame: pl.DataFrame, root: Path, table: str, part: int) -> None:
    """Write one part file atomically (a retried task replaces its own part)."""
    path = part_path(root, table, part)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}")
    frame.write_parquet(scratch)
    os.replace(scratch, path)


def read_parts(root: Path, table: str, schema: Schema | None = None) -> pl.DataFrame:
    """Every part file of one table, stacked (columns a part lacks are null); with `schema`,
    its columns with its types (and an empty frame of them when there are no parts)."""
    files = sorted((root / table).glob("part-*.parquet"))
    if not files:
        return pl.DataFrame() if schema is None else pl.DataFrame(schema=schema)
    frame = pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")
    return frame if schema is None else frame.select(list(schema)).cast(dict(schema))  # type: ignore[arg-type]
