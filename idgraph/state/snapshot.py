"""What resolution reads of the stored state: all of it, or the rows of some records."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from idgraph.state.events import EventReads, events_of
from idgraph.state.mirror import MIRROR_TABLES, Mirror
from idgraph.store.schema import ColumnType

__all__ = ["Snapshot", "take_snapshot"]


@dataclass(slots=True)
class Snapshot:
    """Stored rows of the records being re-resolved (schemas: `MIRROR_TABLES`).

    `records` carry their stored `customer`; `links` and `apart` every explicit link and
    cannot-link with an end among them; `events` theirs, with their scalar properties (when
    read by key from the graph, only the properties traits read: `idgraph.state.events`).
    """

    records: pl.DataFrame
    record_traits: pl.DataFrame
    identifiers: pl.DataFrame
    blocks: pl.DataFrame
    verdicts: pl.DataFrame
    links: pl.DataFrame
    apart: pl.DataFrame
    events: pl.DataFrame
    event_properties: pl.DataFrame
    customer_columns: dict[str, ColumnType] = field(default_factory=dict)
    event_columns: dict[str, ColumnType] = field(default_factory=dict)

    @property
    def assignment(self) -> pl.DataFrame:
        """(key, customer) of the records that have a customer."""
        return self.records.select("key", "customer").drop_nulls("customer")


def _by(mirror: Mirror, table: str, column: str, keys: pl.Series | None) -> pl.DataFrame:
    return mirror.load(table) if keys is None else mirror.where(table, column, keys)


def take_snapshot(
    mirror: Mirror,
    keys: pl.Series | None = None,
    *,
    verdict_keys: pl.Series | None = None,
    events: EventReads | None = None,
) -> Snapshot:
    """The stored state of the records `keys` (all records when None).

    Args:
        mirror: the opened mirror.
        keys: record keys; None reads every table whole.
        verdict_keys: identifier keys whose verdicts to read besides those the records hold.
        events: where to read the records' events and the properties traits need
            (`idgraph.state.events`); None leaves both empty (a known user's history grows
            with every call about them, and finding a scope needs none of it). All records'
            events are read from the mirror.
    """
    records = _by(mirror, "records", "key", keys)
    identifiers = _by(mirror, "identifiers", "record", keys)
    if keys is None:
        verdicts = mirror.load("verdicts")
        links = mirror.load("links")
        apart = mirror.load("apart")
    else:
        wanted = identifiers.select((pl.col("kind") + pl.lit(":") + pl.col("value")).alias("k"))[
            "k"
        ]
        if verdict_keys is not None:
            wanted = pl.concat([wanted, verdict_keys.cast(pl.Utf8)])
        verdicts = _by(mirror, "verdicts", "key", wanted.unique())
        implode = keys.implode()
        links = (
            mirror.scan("links")
            .filter(pl.col("a").is_in(implode) | pl.col("b").is_in(implode))
            .collect()
        )
        apart = (
            mirror.scan("apart")
            .filter(pl.col("a").is_in(implode) | pl.col("b").is_in(implode))
            .collect()
        )
    if keys is None:
        held, props = mirror.load("events"), mirror.load("event_properties")
    elif events is not None:
        held, props = events_of(events, mirror, keys)
    else:
        held = MIRROR_TABLES["events"].empty()
        props = MIRROR_TABLES["event_properties"].empty()
    return Snapshot(
        records=records,
        record_traits=_by(mirror, "record_traits", "record", keys),
        identifiers=identifiers,
        blocks=_by(mirror, "blocks", "record", keys),
        verdicts=verdicts,
        links=links,
        apart=apart,
        events=held,
        event_properties=props,
        customer_columns=dict(mirror.customer_columns),
        event_columns=dict(mirror.event_columns),
    )
