"""Blocking: candidate pairs from shared keys, never from all pairs, as a join on a key column.

Pure functions over the match view of the records being resolved; no store, so the same code
runs on a whole store, an incremental run's scope, or a partition elsewhere.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import jellyfish
import numpy as np
import numpy.typing as npt
import orjson
import polars as pl

from idgraph.match.config import BlockPart, FuzzyRule, MatchConfig
from idgraph.match.view import per_distinct
from idgraph.normalize.nicknames import canonical_first_name

logger = logging.getLogger(__name__)

__all__ = [
    "BlockParts",
    "BlockingStats",
    "block_key_column",
    "candidate_pairs",
    "record_blocks",
    "stored_block_key",
]

#: Separates the parts of a block key, and a rule's name from its key.
SEPARATOR = "\x1f"
PAIR_SLICE = 2_000_000
"""Candidate pairs handed out at once (tens of MB of arrays, and the comparisons' scratch)."""


def _metaphone(value: str) -> str:
    return jellyfish.metaphone(value)


def _initials(value: str) -> str:
    """Each word's first letter (nicknames resolved), in alphabetical order: "Danny
    Stephenson", "Stephenson Daniel" and "Stehpenson Dan" key the same."""
    return "".join(sorted(canonical_first_name(word)[:1] for word in value.split()))


class BlockParts:
    """A view's key parts, each computed once however many rules use it: three shipped rules
    key on the full name's initials and two on the last name's sound, the stored blocks and
    the candidate pairs each want them all, and at a million records each part costs a pass
    over every distinct name."""

    __slots__ = ("_done", "view")

    def __init__(self, view: pl.DataFrame) -> None:
        self.view = view
        self._done: dict[BlockPart, pl.Series] = {}

    def part(self, part: BlockPart) -> pl.Series:
        """The part's value for every record of the view, null where it is missing."""
        done = self._done.get(part)
        if done is None:
            done = self._done[part] = _part(self.view, part)
        return done


def _part(view: pl.DataFrame, part: BlockPart) -> pl.Series:
    values = view[part.field]
    match part.transform:
        case "exact":
            out = values
        case "phonetic":
            out = per_distinct(values, _metaphone)
        case "initials":
            out = per_distinct(values, _initials)
        case "prefix3":
            out = values.str.slice(0, 3)
        case "initial":
            out = values.str.slice(0, 1)
        case "year":
            out = values.str.slice(0, 4)
        case "front" | "back":
            # The characters before the middle one, or after it: one changed, or two
            # neighbours swapped, leave one side as it was. Under four characters a side is a
            # character or none, which says nothing.
            size = values.str.len_chars()
            side = (
                values.str.slice(0, size // 2)
                if part.transform == "front"
                else values.str.slice(size // 2 + 1)
            )
            out = pl.select(pl.when(size >= 4).then(side)).to_series()
    return out.set(out == "", None)


def block_key_column(
    view: pl.DataFrame, parts: Sequence[BlockPart], known: BlockParts | None = None
) -> pl.Series:
    """Each record's blocking key for `parts`, null when a part is missing; `known` holds
    parts already computed for this view (and keeps the ones computed here)."""
    known = known if known is not None and known.view is view else BlockParts(view)
    series = [known.part(part) for part in parts]
    return pl.select(pl.concat_str(series, separator=SEPARATOR).alias("block")).to_series()


def stored_block_key(rule: FuzzyRule, key: str) -> str:
    """A block as the store knows it: the rule's name, then its key value."""
    return f"{rule.name}{SEPARATOR}{key}"


def blocking_fingerprint(config: MatchConfig) -> str:
    """A hash of what the stored blocks (the state mirror's) depend on (the fuzzy rules)."""
    rules = [rule.model_dump(mode="json") for rule in config.fuzzy]
    return hashlib.sha1(orjson.dumps(rules, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def block_cap(config: MatchConfig, column: str = "block") -> pl.Expr:
    """Each stored block key's cap (`MatchConfig.block_cap` of the rule it names), as an
    expression over a column of stored block keys."""
    caps = {r.name: r.max_block_size for r in config.fuzzy if r.max_block_size is not None}
    if not caps:
        return pl.lit(config.max_block_size, dtype=pl.Int64)
    rule = pl.col(column).str.split_exact(SEPARATOR, 1).struct.field("field_0")
    return rule.replace_strict(caps, default=config.max_block_size, return_dtype=pl.Int64)


def record_blocks(view: pl.DataFrame, rules: Sequence[FuzzyRule]) -> pl.DataFrame:
    """Every (record key, stored block key) the records are in, over all rules: one row per
    record and rule at most, as the view holds each record once."""
    parts = []
    known = BlockParts(view)
    for rule in rules:
        keys = block_key_column(view, rule.block_on, known)
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
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    """Every pair (i, j), i < j, of members in one block; blocks lie one after another
    (`sizes` long), members ascending within each. Array arithmetic: no self-join."""
    if not len(members):
        return np.empty(0, dtype=np.uint32), np.empty(0, dtype=np.uint32)
    sizes = sizes.astype(np.int64)
    starts = np.cumsum(sizes) - sizes
    position = np.arange(len(members)) - np.repeat(starts, sizes)
    after = np.repeat(sizes, sizes) - position - 1  # members later in the same block
    total = int(after.sum())
    first = np.repeat(np.arange(len(members)), after)
    offset = np.arange(total) - np.repeat(np.cumsum(after) - after, after)
    second = first + 1 + offset
    return members[first], members[second]


def _triangle_slices(
    sizes: npt.NDArray[np.integer], members: npt.NDArray[np.uint32], limit: int
) -> Iterator[tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]]:
    """`_upper_triangles` a run of whole blocks at a time, each run about `limit` pairs (a
    single block may give more): the scratch arrays stay the size of a run."""
    sizes = sizes.astype(np.int64)
    ends = np.cumsum(sizes)
    pairs = np.cumsum(sizes * (sizes - 1) // 2)
    block = 0
    while block < len(sizes):
        done = int(pairs[block - 1]) if block else 0
        stop = max(int(np.searchsorted(pairs, done + limit, side="right")), block + 1)
        low = int(ends[block - 1]) if block else 0
        yield _upper_triangles(sizes[block:stop], members[low : int(ends[stop - 1])])
        block = stop


def candidate_pairs(
    view: pl.DataFrame,
    rule: FuzzyRule,
    *,
    max_block_size: int,
    sizes: Mapping[str, int] | pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, BlockingStats]:
    """`candidate_pair_slices` in one frame with UInt32 columns `i` and `j`."""
    slices, stats = candidate_pair_slices(view, rule, max_block_size=max_block_size, sizes=sizes)
    parts = list(slices)
    return (
        pl.DataFrame(
            {
                "i": np.concatenate([i for i, _ in parts]) if parts else [],
                "j": np.concatenate([j for _, j in parts]) if parts else [],
            },
            schema={"i": pl.UInt32, "j": pl.UInt32},
        ),
        stats,
    )


def candidate_pair_slices(
    view: pl.DataFrame,
    rule: FuzzyRule,
    *,
    max_block_size: int,
    sizes: Mapping[str, int] | pl.DataFrame | None = None,
    slice_pairs: int = PAIR_SLICE,
    known: BlockParts | None = None,
) -> tuple[Iterator[tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]], BlockingStats]:
    """Record index pairs `(i, j)`, i < j, sharing the rule's key; blocks over the cap skipped.

    `known`: the view's key parts other rules computed (`block_key_column`).

    `sizes` gives a block's size in the whole store (by `stored_block_key`, as a mapping or a
    frame with columns block, size) when `view` holds only part of it, as in an incremental
    ingest: the cap must see the whole block, or a block skipped in one big run would yield
    pairs when its records arrive a few at a time.

    Returns:
        Pairs as arrays `i` and `j` (row positions in `view`), block by block, a run of whole
        blocks of about `slice_pairs` pairs at a time (so tens of millions of pairs never sit
        in memory at once), and the rule's statistics.
    """
    keys = block_key_column(view, rule.block_on, known)
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
        # A rule's own cap is a choice (common names never link on a name alone), not news.
        level = logging.INFO if rule.max_block_size is not None else logging.WARNING
        logger.log(
            level,
            "rule %s: skipped %d blocks over %d records",
            rule.name,
            oversized,
            max_block_size,
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
    sizes_kept = kept["i"].list.len().to_numpy().astype(np.int64)
    members_kept = kept["i"].explode().to_numpy()
    total = int((sizes_kept * (sizes_kept - 1) // 2).sum())
    stats = BlockingStats(rule.name, blocks, total, oversized, oversized_records)
    return _triangle_slices(sizes_kept, members_kept, slice_pairs), stats
