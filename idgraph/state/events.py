"""Stored events by key: which of a batch's event ids are stored, and the events of some records.

A run needs the events of the records it re-resolves (customers' computed traits are made
from all of their events) and whether an incoming event is stored already. Events are most of
what a store holds and they only grow: a service kept them in memory with the rest of the
mirror, and its memory grew with every track call (~220 bytes an event at 100k customers,
docs/serve.md). So a few keys are looked up in the graph, through its indexes on
`Record.key` and `Event.id` (a few milliseconds for a micro-batch's records, whatever the
store's size), and many — a bulk run whose scope is a large share of the store — are read
from the mirror's files, where one scan costs what the table holds. The mirror's event tables
are never kept in memory (`DeltaTable.kept`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import orjson
import polars as pl

from idgraph.frames import EVENT_PROPERTIES, property_text
from idgraph.state.mirror import Mirror
from idgraph.store.base import GraphStore
from idgraph.store.queries import STATE_READS

__all__ = ["GRAPH_KEYS", "EventReads", "events_of", "long_properties", "stored_event_ids"]

#: Up to this many keys a lookup goes to the graph; more are read from the mirror's files
#: (at 100k customers 50k records' events took 0.22 s from the graph and 0.07 s by a scan).
GRAPH_KEYS = 20_000
#: Keys per statement: one list parameter stays a modest size.
_CHUNK = 5_000
#: What `state_events_of_records` returns.
_READ = {
    "record": pl.Utf8,
    "id": pl.Utf8,
    "name": pl.Utf8,
    "ts": pl.Int64,
    "properties": pl.Utf8,
}


def stored_event_ids(
    graph: GraphStore, mirror: Mirror, ids: pl.Series, *, graph_keys: int = GRAPH_KEYS
) -> set[str]:
    """Which of `ids` the store holds already (re-ingest adds nothing)."""
    if ids.len() == 0:
        return set()
    if ids.len() > graph_keys:
        return set(mirror.where("events", "id", ids)["id"].to_list())
    wanted = ids.cast(pl.Utf8).unique().sort()
    found: set[str] = set()
    for chunk in _chunks(wanted.to_list()):
        rows = graph.query_columns(
            "state_stored_event_ids", STATE_READS["state_stored_event_ids"], {"ids": chunk}
        )
        found.update(rows.get("id", []))
    return found


@dataclass(frozen=True, slots=True)
class EventReads:
    """Where a run reads stored events by key, and which of their properties it needs.

    `properties`: per property name the traits read, the event names it is read on (None:
    any; `TraitsConfig.property_reads`). Only those are decoded from the graph's JSON text: a
    known user's history is read again at each of their calls, and most events carry
    properties no trait reads (a page view's url).
    """

    graph: GraphStore
    properties: Mapping[str, frozenset[str] | None]


def events_of(
    reads: EventReads, mirror: Mirror, keys: pl.Series, *, graph_keys: int = GRAPH_KEYS
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The stored events of the records `keys` (mirror schema), and their scalar properties:
    at least those `reads.properties` names (from the mirror's files: all of them)."""
    if keys.len() > graph_keys:
        events = mirror.where("events", "record_key", keys)
        return events, mirror.where("event_properties", "id", events["id"])
    wanted = keys.cast(pl.Utf8).unique().sort()
    parts = [
        reads.graph.query_frame(
            "state_events_of_records",
            STATE_READS["state_events_of_records"],
            _READ,
            {"keys": chunk},
        )
        for chunk in _chunks(wanted.to_list())
    ]
    read = pl.concat(parts) if parts else pl.DataFrame(schema=_READ)
    read = read.drop_nulls("id").sort("record", "id")
    events = read.select("id", pl.col("record").alias("record_key"), "name", "ts")
    return events, _needed_properties(read, reads.properties)


def _needed_properties(
    read: pl.DataFrame, needs: Mapping[str, frozenset[str] | None]
) -> pl.DataFrame:
    """The scalar properties `needs` names, of the events that may hold them."""
    if not needs or read.height == 0:
        return pl.DataFrame(schema=EVENT_PROPERTIES)
    # A cheap text test first: only events whose JSON mentions a needed name are decoded.
    held = pl.lit(False)
    for prop, on in needs.items():
        mentions = pl.col("properties").str.contains(orjson.dumps(prop).decode(), literal=True)
        held = held | (mentions if on is None else mentions & pl.col("name").is_in(list(on)))
    some = read.filter(held.fill_null(False)).select("id", "name", "properties")
    return _decoded(some.iter_rows(), needs)


def long_properties(ids: Sequence[str], texts: Sequence[str | None]) -> pl.DataFrame:
    """(id, name, kind, value) of the scalar properties of stored events (their JSON text)."""
    return _decoded(((i, None, text) for i, text in zip(ids, texts, strict=True)), None)


def _decoded(
    events: Iterable[tuple[str, str | None, str | None]],
    needs: Mapping[str, frozenset[str] | None] | None,
) -> pl.DataFrame:
    """The long properties of (id, event name, JSON text): those `needs` names on the events
    it names them for (None: every scalar property)."""
    rows: dict[str, list[str]] = {name: [] for name in EVENT_PROPERTIES}
    for event_id, event, text in events:
        if not text:
            continue
        for prop, value in orjson.loads(text).items():
            if needs is not None:
                on = needs.get(prop, frozenset())
                if on is not None and event not in on:
                    continue
            scalar = property_text(value)
            if scalar is None:
                continue
            rows["id"].append(event_id)
            rows["name"].append(prop)
            rows["kind"].append(scalar[0])
            rows["value"].append(scalar[1])
    return pl.DataFrame(rows, schema=EVENT_PROPERTIES)


def _chunks(values: list[str]) -> list[list[str]]:
    return [values[start : start + _CHUNK] for start in range(0, len(values), _CHUNK)]
