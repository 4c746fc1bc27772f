"""The records a run resolves: the stored ones with the batch's folded in.

A record seen again keeps its source and kind; for each field the newer non-empty value wins
(the batch's on a tie), its traits fold the same way and its identifiers are the union. What
comes out also says which records are new and which changed, which is what the later steps
(matching, the mirror's changes, the customers kept as stored) need to know.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import polars as pl

from idgraph.frames import FIELDS, RECORDS
from idgraph.normalize.fold import RECORD_TRAITS, Gathered, traits_json

__all__ = ["Merged", "merge_records"]


@dataclass(slots=True)
class Merged:
    """The records being resolved after the batch is folded in."""

    records: pl.DataFrame
    traits: pl.DataFrame
    identifiers: pl.DataFrame
    new: pl.DataFrame
    changed: pl.DataFrame
    unchanged: int


def merge_records(
    stored: pl.DataFrame,
    stored_traits: pl.DataFrame,
    stored_ids: pl.DataFrame,
    batch: Gathered,
    skip: Collection[str],
) -> Merged:
    """Fold the batch's records into the stored ones: newer non-empty values win."""
    incoming = batch.records
    skipped = 0
    if skip:
        held = incoming["key"].is_in(list(skip))
        skipped = int(held.sum())
        incoming = incoming.filter(~held)
    columns = list(RECORDS)
    if not skip and stored.height == 0 and stored_traits.height == 0 and stored_ids.height == 0:
        # A first load: every record is new; one sorted copy serves as both records and new.
        records = incoming.select(columns).sort("key")
        return Merged(
            records, batch.record_traits, batch.identifiers.unique(), records, records.clear(), 0
        )
    base = stored.select(columns)
    new = incoming.join(base.select("key"), on="key", how="anti")
    both = incoming.join(base, on="key", how="inner", suffix="_old")
    newer = pl.col("updated_ts") >= pl.col("updated_ts_old")
    merged = both.select(
        "key",
        pl.col("source_old").alias("source"),
        pl.col("source_id_old").alias("source_id"),
        pl.col("kind_old").alias("kind"),
        pl.max_horizontal("updated_ts", "updated_ts_old").alias("updated_ts"),
        *[
            pl.when(newer)
            .then(pl.coalesce(name, f"{name}_old"))
            .otherwise(pl.coalesce(f"{name}_old", name))
            .alias(name)
            for name in FIELDS
        ],
        newer.alias("_newer"),
    )
    merged_keys = merged.select("key")
    new_traits = batch.record_traits.join(merged_keys, left_on="record", right_on="key", how="semi")
    old_traits = stored_traits.join(merged_keys, left_on="record", right_on="key", how="semi")
    side = merged.select(pl.col("key").alias("record"), "_newer")
    traits = (
        pl.concat(
            [
                old_traits.with_columns(pl.lit(0).alias("_side")),
                new_traits.with_columns(pl.lit(1).alias("_side")),
            ]
        )
        .join(side, on="record")
        .with_columns(
            pl.when(pl.col("_newer"))
            .then(pl.col("_side"))
            .otherwise(1 - pl.col("_side"))
            .alias("_rank")
        )
        .sort("record", "name", "_rank")
        .group_by("record", "name", maintain_order=True)
        .last()
        .select(list(RECORD_TRAITS))
    )
    merged = (
        merged.drop("_newer")
        .join(traits_json(traits, on="record"), left_on="key", right_on="record", how="left")
        .with_columns(pl.col("traits").fill_null("{}"))
        .select(columns)
    )
    old_ids = stored_ids.join(merged_keys, left_on="record", right_on="key", how="semi")
    new_ids = batch.identifiers.join(merged_keys, left_on="record", right_on="key", how="semi")
    merged_ids = pl.concat([old_ids, new_ids]).unique()
    grown = (
        merged_ids.group_by("record")
        .len()
        .join(old_ids.group_by("record").len(), on="record", how="left", suffix="_old")
        .filter(pl.col("len") != pl.col("len_old").fill_null(0))["record"]
    )
    same = merged.join(base, on=columns, how="semi", nulls_equal=True)
    changed = merged.join(same.select("key"), on="key", how="anti")
    changed = pl.concat([changed, merged.filter(pl.col("key").is_in(grown.implode()))]).unique(
        subset=["key"], keep="first"
    )
    unchanged = skipped + merged.height - changed.height
    keep = base.join(merged_keys, on="key", how="anti")
    records = pl.concat([keep, merged, new.select(columns)]).sort("key")
    all_traits = pl.concat(
        [
            stored_traits.join(merged_keys, left_on="record", right_on="key", how="anti"),
            traits,
            batch.record_traits.join(
                new.select("key"), left_on="record", right_on="key", how="semi"
            ),
        ]
    )
    identifiers = pl.concat(
        [
            stored_ids,
            batch.identifiers.join(
                records.select("key"), left_on="record", right_on="key", how="semi"
            ),
        ]
    ).unique()
    return Merged(records, all_traits, identifiers, new.select(columns), changed, unchanged)
