"""Blocking: candidate pairs from shared keys, never from all pairs, as a join on a key column.

Pure functions over the match view of the records being resolved; no store, so the same code
runs on a whole store, an incremental run's scope, or a partition elsewhere.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import jellyfish
import numpy as np
import numpy.typing as npt
import polars as pl

from idgraph.match.config import BlockPart, FuzzyRule
from idgraph.match.view import per_distinct

logger = logging.getLogger(__name__)

__all__ = [
    "BlockingStats",
    "block_key_column",
    "candidate_pairs",
    "record_blocks",
    "stored_block_key",
]

#: Separates the parts of a block key, and a rule's name from its key.
SEPARATOR = "\x1f"


def _metaphone(value: str) -> str:
    return jellyfish.metaphone(value)


def _part(view: pl.DataFrame, part: BlockPart) -> pl.Series:
    values = view[part.field]
    match part.transform:
        case "exact":
            out = values
        case "phonetic":
            out = per_distinct(values, _metaphone)
        case "prefix3":
            out = values.str.slice(0, 3)
        case "initial":
            out = values.str.slice(0, 1)
        case "year":
            out = values.str.slice(0, 4)
    return out.set(out == "", None)


def block_key_column(view: pl.DataFrame, parts: Sequence[BlockPart]) -> pl.Series:
    """Each record's blocking key for `parts`, null when a part is missing."""
    series = [_part(view, part) for part in parts]
    return pl.select(pl.concat_str(series, separator=SEPARATOR).alias("block")).to_series()


def stored_block_key(rule: FuzzyRule, key: str) -> str:
    """A block as the store knows it: the rule's name, then its key value."""
    return f"{rule.name}{SEPARATOR}{key}"


def record_blocks(view: pl.DataFrame, rules: Sequence[FuzzyRule]) -> pl.DataFrame:
    """Every (record key, stored block key) the records are in, over all rules: one row per
    record and rule at most, as the view holds each record once."""
    parts = []
    for rule in rules:
        keys = block_key_column(view, rule.block_on)
        parts.append(
            pl.DataFrame({"record": view["key"], "block": keys})
            .drop_nulls("block")
            .with_columns((pl.lit(f"{rule.name}{SEPARATOR}") + pl.col("block")).alias("block"))
        )
    if not parts:
        return pl.DataFrame(schema={"record": pl.Utf8, "block": pl.Utf8})
    return pl.concat(parts)


@dataclass(frozen=True, slots=True)
class BlockingStats:
    """What one rule's blocking produced; oversized blocks are skipped, never silently."""

    rule: str
    blocks: int
    pairs: int
    oversized_blocks: int
    oversized_records: int


def _upper_triangles(
    sizes: npt.NDArray[np.integer], members: npt.NDArray[np.uint32]
) -> pl.DataFrame:
    """Every pair (i, j), i < j, of members in one block; blocks lie one after another
    (`sizes` long), members ascending within each. Array arithmetic: no self-join."""
    if not len(members):
        return pl.DataFrame(schema={"i": pl.UInt32, "j": pl.UInt32})
    sizes = sizes.astype(np.int64)
    starts = np.cumsum(sizes) - sizes
    position = np.arange(len(members)) - np.repeat(starts, sizes)
    after = np.repeat(sizes, sizes) - position - 1  # members later in the same block
    total = int(after.sum())
    first = np.repeat(np.arange(len(members)), after)
    offset = np.arange(total) - np.repeat(np.cumsum(after) - after, after)
    second = first + 1 + offset
    return pl.DataFrame(
        {"i": members[first], "j": members[second]},
        schema={"i": pl.UInt32, "j": pl.UInt32},
    )


def candidate_pairs(
    view: pl.DataFrame,
    rule: FuzzyRule,
    *,
    max_block_size: int,
    sizes: Mapping[str, int] | pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, BlockingStats]:
    """Record index pairs `(i, j)`, i < j, sharing the rule's key; blocks over the cap skipped.

    `sizes` gives a block's size in the whole store (by `stored_block_key`, as a mapping or a
    frame with columns block, size) when `view` holds only part of it, as in an incremental
    ingest: the cap must see the whole block, or a block skipped in one big run would yield
    pairs when its records arrive a few at a time.

    Returns:
        Pairs as a frame with UInt32 columns `i` and `j` (row positions in `view`), block by
        block, and the rule's statistics.
    """
    keys = block_key_column(view, rule.block_on)
    members = pl.DataFrame({"block": keys}).with_row_index("i").drop_nulls("block")
    counts = members.group_by("block").agg(pl.len().alias("n"))
    blocks = counts.height
    shared = counts.filter(pl.col("n") >= 2)
    if sizes is not None and shared.height:
        stored = (
            sizes
            if isinstance(sizes, pl.DataFrame)
            else pl.DataFrame(
                {"block": list(sizes), "size": list(sizes.values())},
                schema={"block": pl.Utf8, "size": pl.Int64},
            )
        )
        prefix = f"{rule.name}{SEPARATOR}"
        stored = stored.filter(pl.col("block").str.starts_with(prefix)).with_columns(
            pl.col("block").str.slice(len(prefix))
        )
        shared = shared.join(stored, on="block", how="left").with_columns(
            pl.max_horizontal("n", pl.col("size").fill_null(0)).alias("size")
        )
    else:
        shared = shared.with_columns(pl.col("n").cast(pl.Int64).alias("size"))
    over = shared.filter(pl.col("size") > max_block_size)
    oversized, oversized_records = over.height, int(over["n"].sum()) if over.height else 0
    if oversized:
        logger.warning(
            "rule %s: skipped %d blocks over %d records", rule.name, oversized, max_block_size
        )
    # Grouped by hashing, not sorted: which block comes first does not matter, and each
    # block's members stay in ascending row order.
    kept = (
        members.join(
            shared.filter(pl.col("size") <= max_block_size).select("block"), on="block", how="semi"
        )
        .group_by("block", maintain_order=True)
        .agg("i")
    )
    pairs = _upper_triangles(kept["i"].list.len().to_numpy(), kept["i"].explode().to_numpy())
    stats = BlockingStats(rule.name, blocks, pairs.height, oversized, oversized_records)
    return pairs, stats
