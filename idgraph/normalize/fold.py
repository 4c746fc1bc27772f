"""Sightings -> records: every mention of one record key folded into one row.

A record is mentioned by many lines (a loyalty card on every receipt, a login on every call);
for each field the most recent mention carrying a value wins (ties: the later file, then the
later line), identifiers are the union of every mention's, and traits fold like fields. The
same rule folds a stored record with new mentions of it (`fold_with_stored`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from idgraph.frames import (
    EVENT_PROPERTIES,
    EVENTS,
    FIELDS,
    IDENTIFIERS,
    LINKS,
    RAW_ID_KINDS,
    RECORDS,
    empty,
)
from idgraph.ingest.collect import SourceBatch

__all__ = ["RECORD_TRAITS", "Gathered", "fold", "identifiers_of", "traits_json"]

_ORDER = ["ts", "_file", "line", "sub"]
#: Source traits per record, long: what `Gathered.record_traits` and the mirror hold.
RECORD_TRAITS = {"record": pl.Utf8, "name": pl.Utf8, "value": pl.Utf8}


@dataclass(slots=True)
class Gathered:
    """A run's input, each record, event and link once (schemas in `idgraph.frames`)."""

    records: pl.DataFrame
    identifiers: pl.DataFrame
    events: pl.DataFrame
    event_properties: pl.DataFrame
    links: pl.DataFrame
    #: Source traits of the records, long: (record, name, value as JSON text).
    record_traits: pl.DataFrame

    def release(self) -> None:
        """Drop the frames: for a caller that has taken what it needs from them."""
        blank = Gathered.empty()
        self.records, self.identifiers, self.events = blank.records, blank.identifiers, blank.events
        self.event_properties, self.links = blank.event_properties, blank.links
        self.record_traits = blank.record_traits

    @classmethod
    def empty(cls) -> Gathered:
        return cls(
            empty(RECORDS),
            empty(IDENTIFIERS),
            empty({k: v for k, v in EVENTS.items() if k != "line"}),
            empty(EVENT_PROPERTIES),
            empty({k: v for k, v in LINKS.items() if k != "line"}),
            empty(RECORD_TRAITS),
        )


def _numbered(frames: Sequence[pl.DataFrame]) -> pl.DataFrame:
    parts = [f.with_columns(pl.lit(i, dtype=pl.Int32).alias("_file")) for i, f in enumerate(frames)]
    return pl.concat(parts, how="vertical_relaxed") if parts else pl.DataFrame()


def identifiers_of(sightings: pl.DataFrame, *, distinct: bool = True) -> pl.DataFrame:
    """The (record, kind, value) identifiers the sightings carry: email and phone from the
    fields, and the ids; each once (`distinct=False`: the caller knows every record is
    mentioned once, so no identifier repeats)."""
    kinds = ["email", "phone", *RAW_ID_KINDS]
    present = [k for k in kinds if k in sightings.columns]
    if sightings.height == 0 or not present:
        return empty(IDENTIFIERS)
    long = (
        sightings.select(pl.col("key").alias("record"), *present)
        .unpivot(index="record", on=present, variable_name="kind", value_name="value")
        .drop_nulls("value")
    )
    return long.unique() if distinct else long


def traits_json(traits: pl.DataFrame, on: str = "key") -> pl.DataFrame:
    """One JSON object per `on` from long (name, value) rows, keys sorted: `{"a":1,"b":"x"}`."""
    # Names are sorted within each object, not over the whole frame: rows come out in no
    # particular order, and callers join them on `on`.
    pair = pl.lit('"') + pl.col("name") + pl.lit('":') + pl.col("value")
    return (
        traits.group_by(on)
        .agg(pair.sort_by("name").alias("pairs"))
        .select(on, (pl.lit("{") + pl.col("pairs").list.join(",") + pl.lit("}")).alias("traits"))
    )


def fold(batches: Sequence[SourceBatch]) -> Gathered:
    """Fold every batch of a run into records, identifiers, events and links.

    Examples:
        >>> from idgraph.ingest.rejects import FileCounts
        >>> from idgraph.frames import SIGHTINGS
        >>> b = SourceBatch.empty(FileCounts("a.csv", "crm"))
        >>> b.sightings = pl.DataFrame(
        ...     {"line": [2, 3], "sub": [0, 0], "key": ["crm:1", "crm:1"], "source": ["crm"] * 2,
        ...      "source_id": ["1", "1"], "kind": ["row"] * 2, "ts": [5, 1],
        ...      "email": ["new@x.it", "old@x.it"], "phone": [None, "+39061234567"]},
        ...     schema_overrides=SIGHTINGS,
        ... ).with_columns([pl.lit(None, pl.Utf8).alias(c) for c in SIGHTINGS
        ...                 if c not in ("line", "sub", "key", "source", "source_id", "kind",
        ...                              "ts", "email", "phone")])
        >>> g = fold([b])
        >>> g.records.select("key", "email", "phone", "updated_ts").rows()
        [('crm:1', 'new@x.it', '+39061234567', 5)]
        >>> g.identifiers.sort("kind", "value").rows()  # doctest: +NORMALIZE_WHITESPACE
        [('crm:1', 'email', 'new@x.it'), ('crm:1', 'email', 'old@x.it'),
         ('crm:1', 'phone', '+39061234567')]
    """
    if not batches:
        return Gathered.empty()
    sightings = _numbered([b.sightings for b in batches])
    record_traits = empty(RECORD_TRAITS)
    if sightings.height == 0:
        records = empty(RECORDS)
        identifiers = empty(IDENTIFIERS)
    else:
        # Most records are mentioned once: only the others need folding.
        repeated = sightings["key"].is_duplicated()
        single = sightings.filter(~repeated).select(
            "key", "source", "source_id", "kind", pl.col("ts").alias("updated_ts"), *FIELDS
        )
        folded = (
            sightings.filter(repeated)
            .sort([*_ORDER], maintain_order=True)
            .group_by("key", maintain_order=False)
            .agg(
                pl.col("source").first(),
                pl.col("source_id").first(),
                pl.col("kind").first(),
                pl.col("ts").max().alias("updated_ts"),
                *[pl.col(name).drop_nulls().last() for name in FIELDS],
            )
        )
        records = pl.concat([single, folded])
        traits = _numbered([b.traits for b in batches])
        if traits.height:
            when = sightings.select("_file", "line", "sub", "key", "ts")
            latest = traits.join(when, on=["_file", "line", "sub"], how="inner")
            if repeated.any():  # a record mentioned again: its latest value of each trait
                latest = (
                    latest.sort([*_ORDER], maintain_order=True)
                    .group_by("key", "name")
                    .agg(pl.col("value").last())
                )
            else:
                latest = latest.select("key", "name", "value")
            records = records.join(traits_json(latest), on="key", how="left")
            record_traits = latest.select(pl.col("key").alias("record"), "name", "value").sort(
                "record", "name"
            )
        else:
            records = records.with_columns(pl.lit(None, dtype=pl.Utf8).alias("traits"))
        records = records.with_columns(pl.col("traits").fill_null("{}")).select(list(RECORDS))
        records = records.sort("key")
        identifiers = identifiers_of(sightings, distinct=bool(repeated.any()))
    events = _numbered([b.events for b in batches])
    props = _numbered([b.event_properties for b in batches])
    if events.height:
        events = events.unique(subset=["id"], keep="first", maintain_order=True)
        if props.height:
            props = props.join(events.select("id", "_file"), on=["id", "_file"], how="semi")
        events = events.drop("line", "_file")
    else:
        events = Gathered.empty().events
    props = props.drop("_file") if props.height else empty(EVENT_PROPERTIES)
    links = _numbered([b.links for b in batches])
    links = (
        links.unique(subset=["a", "b", "rule"], keep="first", maintain_order=True).drop(
            "line", "_file"
        )
        if links.height
        else Gathered.empty().links
    )
    return Gathered(records, identifiers, events, props, links, record_traits)
