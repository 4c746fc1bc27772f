"""Components -> unified customers: stable id, golden profile and summary figures, by group-bys.

Survivorship per field: the value of the best-ranked record that has one, ranked by the
field's source priority (`survivorship` in the match config), then recency, then record key.
Source traits fold the same way, per trait name.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from idgraph.cluster.ids import assign_component_ids
from idgraph.frames import FIELDS
from idgraph.match.config import MatchConfig, Survivorship

__all__ = ["Customers", "build_customers", "golden"]


@dataclass(slots=True)
class Customers:
    """The customers of the resolved records.

    `rows`: one per customer (id, golden fields, record_count, sources, first_seen_ts,
    last_seen_ts, flagged, flag_reason, updated_ts); `traits`: their golden source traits,
    long (customer, name, value as JSON text); `memberships`: (customer, record).
    """

    rows: pl.DataFrame
    traits: pl.DataFrame
    memberships: pl.DataFrame

    @property
    def sizes(self) -> list[int]:
        return self.rows["record_count"].to_list()


TRAIT_ROWS_AT_ONCE = 4_000_000
"""Source trait rows whose survivors are chosen in one sort (about 0.5 GB of scratch)."""


def _rank(frame: pl.DataFrame, priority: list[str]) -> pl.Expr:
    """A record's standing under a source priority list: listed sources first, in order."""
    if not priority:
        return pl.lit(0, dtype=pl.Int32)
    return pl.col("source").replace_strict(
        priority, list(range(len(priority))), default=len(priority), return_dtype=pl.Int32
    )


def golden(
    records: pl.DataFrame, group: str, names: Collection[str], rules: Survivorship
) -> pl.DataFrame:
    """Per `group`, the surviving value of each of `names` (columns of `records`).

    `records` needs `source`, `updated_ts` and `pos` (the record's position in key order:
    records ranked equal keep the smaller key). Returns one row per group, a column per name.
    """
    by_priority: dict[tuple[str, ...], list[str]] = {}
    for name in names:
        by_priority.setdefault(tuple(rules.priority(name)), []).append(name)
    out: pl.DataFrame | None = None
    for priority, fields in by_priority.items():
        ranked = records.select(
            group, "pos", "updated_ts", *fields, _rank(records, list(priority)).alias("_prio")
        ).sort(group, "_prio", "updated_ts", "pos", descending=[False, False, True, False])
        chosen = ranked.group_by(group, maintain_order=True).agg(
            [pl.col(f).drop_nulls().first() for f in fields]
        )
        out = chosen if out is None else out.join(chosen, on=group, how="left")
    assert out is not None
    return out


def _stamps(keyed: pl.DataFrame, event_span: pl.DataFrame | None) -> pl.DataFrame:
    """First and last seen per label: record recency (when set) and their events' span."""
    stamps = keyed.select("label", pl.col("updated_ts").alias("ts")).filter(
        pl.col("ts").is_not_null() & (pl.col("ts") != 0)
    )
    parts = [stamps]
    if event_span is not None and event_span.height:
        spans = event_span.join(keyed.select(pl.col("key").alias("record"), "label"), on="record")
        parts.append(spans.select("label", pl.col("first").alias("ts")))
        parts.append(spans.select("label", pl.col("last").alias("ts")))
    return (
        pl.concat(parts)
        .group_by("label")
        .agg(pl.col("ts").min().alias("first_seen_ts"), pl.col("ts").max().alias("last_seen_ts"))
    )


def build_customers(
    records: pl.DataFrame,
    labels: npt.NDArray[np.int64],
    *,
    record_traits: pl.DataFrame,
    previous: pl.DataFrame,
    event_span: pl.DataFrame | None,
    config: MatchConfig,
    now_ms: int,
    created: Mapping[str, int] | None = None,
    taken: Collection[str] = (),
) -> Customers:
    """One row per component, ready for the store, plus the HAS_RECORD pairs.

    Args:
        records: the resolved records, sorted by key (row = position).
        labels: each record's component (the smallest position in it).
        record_traits: source traits of the records, long (record, name, value).
        previous: (key, customer) each record's customer before this run.
        event_span: (record, first, last) ts of each record's events.
        created, taken: from the id registry (see `assign_component_ids`).
    """
    keyed = records.with_row_index("pos").with_columns(pl.Series("label", labels))
    ids = assign_component_ids(keyed.select("label", "key"), previous, created=created, taken=taken)
    fields = golden(keyed, "label", FIELDS, config.survivorship)
    summary = keyed.group_by("label").agg(
        pl.len().cast(pl.Int64).alias("record_count"),
        pl.col("source").unique().sort().str.join(",").alias("sources"),
    )
    limit = config.flag_component_records
    rows = (
        summary.join(fields, on="label", how="left")
        .join(_stamps(keyed, event_span), on="label", how="left")
        .join(ids, on="label", how="left")
        .with_columns(
            (pl.col("record_count") > limit).alias("flagged"),
            pl.when(pl.col("record_count") > limit)
            .then(
                pl.col("record_count").cast(pl.Utf8)
                + pl.lit(f" records (flag_component_records {limit})")
            )
            .otherwise(None)
            .alias("flag_reason"),
            pl.lit(now_ms, dtype=pl.Int64).alias("updated_ts"),
        )
        .select(
            "id",
            *FIELDS,
            "record_count",
            "sources",
            "first_seen_ts",
            "last_seen_ts",
            "flagged",
            "flag_reason",
            "updated_ts",
        )
        .sort("id")
    )
    owner = keyed.select("pos", "key", "label", "source", "updated_ts").join(
        ids, on="label", how="left"
    )
    traits = _golden_traits(owner, record_traits, config.survivorship)
    memberships = owner.select(pl.col("id").alias("customer"), pl.col("key").alias("record"))
    return Customers(rows, traits, memberships)


def _golden_traits(
    owner: pl.DataFrame, record_traits: pl.DataFrame, rules: Survivorship
) -> pl.DataFrame:
    """Per customer and trait name the surviving value (empty strings never survive).

    Customers are taken a share at a time (by label, so each customer's records stay
    together) when the traits are many: the joined and sorted long frame of all of them
    was the peak of resolving at millions of records.
    """
    schema = {"customer": pl.Utf8, "name": pl.Utf8, "value": pl.Utf8}
    if record_traits.height == 0:
        return pl.DataFrame(schema=schema)
    shares = -(-record_traits.height // TRAIT_ROWS_AT_ONCE)
    if shares == 1:
        return _surviving_traits(owner, record_traits, rules)
    parts = []
    for share in range(shares):
        mine = owner.filter(pl.col("label") % shares == share)
        theirs = record_traits.join(
            mine.select("key"), left_on="record", right_on="key", how="semi"
        )
        parts.append(_surviving_traits(mine, theirs, rules))
    return pl.concat(parts).sort("customer", "name")


def _surviving_traits(
    owner: pl.DataFrame, record_traits: pl.DataFrame, rules: Survivorship
) -> pl.DataFrame:
    if record_traits.height == 0:
        return pl.DataFrame(schema={"customer": pl.Utf8, "name": pl.Utf8, "value": pl.Utf8})
    # One sort over every trait, record keys and customer ids left out of it: at a million
    # records the long frame is the biggest thing alive while customers are built.
    long = (
        record_traits.filter(pl.col("value") != '""')
        .join(
            owner.select("key", "label", "source", "updated_ts", "pos"),
            left_on="record",
            right_on="key",
        )
        .drop("record")
    )
    names = long["name"].unique().to_list()
    prio = _rank(long, rules.default)
    for name in names:
        own = rules.priority(str(name))
        if own != rules.default:
            prio = pl.when(pl.col("name") == name).then(_rank(long, own)).otherwise(prio)
    chosen = (
        long.with_columns(prio.alias("_prio"))
        .sort(
            "label",
            "name",
            "_prio",
            "updated_ts",
            "pos",
            descending=[False, False, False, True, False],
        )
        .group_by("label", "name", maintain_order=True)
        .first()
        .select("label", "name", "value")
    )
    customer = owner.select("label", "id").unique(subset=["label"])
    return (
        chosen.join(customer, on="label", how="left")
        .select(pl.col("id").alias("customer"), "name", "value")
        .sort("customer", "name")
    )
