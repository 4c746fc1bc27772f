"""Stored events by key (`idgraph.state.events`): the graph's answer is the mirror's, and a
process that keeps the mirror in memory keeps no events there."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from idgraph.match.config import load_match_config
from idgraph.settings import open_store
from idgraph.state.cache import kept_tables
from idgraph.state.events import EventReads, events_of, stored_event_ids
from idgraph.state.rebuild import open_mirror
from idgraph.traits.config import load_traits_config
from tests.conftest import FIXTURE_INPUTS
from tests.state.conftest import ingest_file, warmed_before_email


def test_events_looked_up_in_the_graph_are_those_the_mirror_holds(tmp_path: Path) -> None:
    store = tmp_path / "idgraph.db"
    for path in FIXTURE_INPUTS:
        ingest_file(store, path)
    with open_store(store) as graph:
        mirror = open_mirror(graph, load_match_config(None))
        held = mirror.load("events")
        props = mirror.load("event_properties")
        assert held.height > 0 and props.height > 0
        records = mirror.load("records")["key"]
        # Records with events, records without, and a key no record has.
        keys = pl.concat([records, pl.Series(["nobody"])])
        every = EventReads(graph, dict.fromkeys(props["name"].unique().to_list()))
        from_graph = events_of(every, mirror, keys)
        from_files = events_of(every, mirror, keys, graph_keys=0)
        for found, read in zip(from_graph, from_files, strict=True):
            assert found.height > 0
            order = found.columns
            assert found.sort(order).equals(read.sort(order))
        assert from_graph[0].sort("id").equals(held.sort("id"))

        # What the shipped traits read, and only that, on the events they read it on.
        needs = load_traits_config(None).property_reads()
        _, some = events_of(EventReads(graph, needs), mirror, keys)
        on = props.join(held.select("id", pl.col("name").alias("event")), on="id")
        wanted = on.filter(
            pl.any_horizontal(
                (pl.col("name") == prop)
                & (pl.lit(True) if where is None else pl.col("event").is_in(list(where)))
                for prop, where in needs.items()
            )
        ).drop("event")
        assert wanted.height > 0 and wanted.height < props.height
        assert some.sort("id", "name").equals(wanted.sort("id", "name"))

        ids = pl.Series([*held["id"].head(5).to_list(), "never-sent-1", "never-sent-2"])
        assert stored_event_ids(graph, mirror, ids) == set(held["id"].head(5).to_list())
        assert stored_event_ids(graph, mirror, ids, graph_keys=0) == set(
            held["id"].head(5).to_list()
        )
        nothing = pl.Series([], dtype=pl.Utf8)
        assert stored_event_ids(graph, mirror, nothing) == set()
        assert [f.height for f in events_of(every, mirror, nothing)] == [0, 0]


def test_a_process_keeping_the_mirror_in_memory_keeps_no_events(
    tmp_path: Path, in_memory: None
) -> None:
    store = tmp_path / "idgraph.db"
    email = warmed_before_email(store)  # as a service starting on this store
    root = Path(f"{store}.state")
    ingest_file(store, email)  # an incremental run: its scope's events come from the graph
    kept = kept_tables(root)
    assert {"records", "identifiers", "customers"} <= kept
    assert not kept & {"events", "event_properties"}
