"""Open the mirror of a store, rebuilding it from the graph when it is missing or stale."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
import polars as pl

from idgraph.block.keys import blocking_fingerprint, record_blocks
from idgraph.frames import FIELDS, IDENTIFIERS, RECORDS
from idgraph.match.config import MatchConfig
from idgraph.match.scored import count_rows
from idgraph.match.view import VIEW_FIELDS, match_view, with_customer_ids
from idgraph.state.cache import mirror_in_memory
from idgraph.state.events import long_properties
from idgraph.state.mirror import MIRROR_TABLES, Mirror, MirrorChanges
from idgraph.store.base import GraphStore
from idgraph.store.plan import APART_ROWS, LINK_ROWS, VERDICTS
from idgraph.store.queries import READS, STATE_READS
from idgraph.store.schema import NODE_TABLES
from idgraph.traits.rfm_book import RFM_BOOK, RfmBook

logger = logging.getLogger(__name__)

__all__ = ["LOOKUPS", "open_mirror", "rebuild_mirror", "warm_mirror"]

#: The (table, column) pairs an incremental run looks rows up by (`Mirror.where`).
LOOKUPS: tuple[tuple[str, str], ...] = (
    ("records", "key"),
    ("records", "customer"),
    ("record_traits", "record"),
    ("identifiers", "record"),
    ("identifiers", "value"),
    ("blocks", "record"),
    ("blocks", "block"),
    ("verdicts", "key"),
    ("customers", "id"),
    ("registry", "id"),
    ("value_counts", "value"),
)

#: Link rules a source or reviewer asserts; the rest of `MATCHED` is computed evidence.
_EXPLICIT = ["alias", "must_link"]


def open_mirror(graph: GraphStore, config: MatchConfig) -> Mirror:
    """The store's mirror, rebuilt from the graph first when its version is not the graph's."""
    root = graph.state_dir()
    mirror = Mirror.open(root)
    version = graph.state_version()
    # A store never stamped may be any store at this place: its mirror cannot be trusted.
    if mirror is not None and version and mirror.version == version:
        return mirror
    logger.info("rebuilding the resolution mirror of %s from the graph", graph.location)
    return rebuild_mirror(graph, config, version)


def warm_mirror(graph: GraphStore, config: MatchConfig) -> None:
    """Read the store's mirror into memory with the indexes incremental runs look rows up by,
    in a process that keeps it there (`keep_mirror_in_memory`), before a run needs them.

    The service's resolver calls this as it starts: at a million customers the first
    micro-batch otherwise spent ~20 s reading tables and building indexes while calls waited.
    """
    if not mirror_in_memory():
        return
    mirror = open_mirror(graph, config)
    nothing = pl.Series([], dtype=pl.Utf8)
    for name, table in MIRROR_TABLES.items():
        if table.kept:
            mirror.scan(name)
    for name, column in LOOKUPS:
        mirror.where(name, column, nothing)
    mirror.derived("customers", RFM_BOOK, RfmBook.of, len)


def _frame(columns: Mapping[str, list[Any]], schema: Mapping[str, Any]) -> pl.DataFrame:
    if not columns:
        return pl.DataFrame(schema=schema)
    return pl.DataFrame({name: columns.get(name, []) for name in schema}, schema=schema)


def rebuild_mirror(graph: GraphStore, config: MatchConfig, version: str) -> Mirror:
    """Read everything resolution keeps from the graph and write it as a fresh mirror."""
    read = graph.query_columns
    records = _frame(read("state_records", STATE_READS["state_records"]), RECORDS)
    assignment = _frame(
        read("state_assignment", STATE_READS["state_assignment"]),
        {"record": pl.Utf8, "customer": pl.Utf8},
    )
    records = (
        records.with_columns(pl.col("updated_ts").fill_null(0), pl.col("traits").fill_null("{}"))
        .join(assignment.rename({"record": "key"}), on="key", how="left")
        .sort("key")
    )
    traits = _long_traits(records)
    identifiers = _frame(
        read("state_record_identifiers", STATE_READS["state_record_identifiers"]), IDENTIFIERS
    )
    verdicts = _frame(read("state_identifiers", STATE_READS["state_identifiers"]), VERDICTS)
    verdicts = verdicts.with_columns(pl.col("reason").fill_null(""))
    links = _frame(read("state_links", STATE_READS["state_links"], {"rules": _EXPLICIT}), LINK_ROWS)
    apart = _frame(read("state_cannot_links", STATE_READS["state_cannot_links"]), APART_ROWS)
    raw_events = read("state_events", STATE_READS["state_events"])
    events = _frame(
        {
            "id": raw_events.get("id", []),
            "record_key": raw_events.get("record", []),
            "name": raw_events.get("name", []),
            "ts": raw_events.get("ts", []),
        },
        MIRROR_TABLES["events"].schema,
    )
    properties = long_properties(raw_events.get("id", []), raw_events.get("properties", []))
    customers = _customers(graph)
    registry = _frame(
        read("state_registry", STATE_READS["state_registry"]), MIRROR_TABLES["registry"].schema
    )
    view = match_view(with_customer_ids(records.select("key", *FIELDS), identifiers), VIEW_FIELDS)
    changes = MirrorChanges(
        full=True,
        upserts={
            "records": records.select(*RECORDS, "customer"),
            "record_traits": traits,
            "identifiers": identifiers.sort("record", "kind", "value"),
            "blocks": record_blocks(view, config.fuzzy),
            "verdicts": verdicts,
            "links": links,
            "apart": apart,
            "events": events,
            "event_properties": properties,
            "customers": customers,
            "registry": registry,
            "value_counts": count_rows(view),
        },
        customer_columns=graph.columns("Customer"),
        event_columns=graph.columns("Event"),
        config=blocking_fingerprint(config),
    )
    mirror = Mirror(graph.state_dir()).write(changes, version)
    mirror.publish()
    return mirror


def _long_traits(records: pl.DataFrame) -> pl.DataFrame:
    schema = {"record": pl.Utf8, "name": pl.Utf8, "value": pl.Utf8}
    rows: dict[str, list[str]] = {"record": [], "name": [], "value": []}
    for key, text in records.filter(pl.col("traits") != "{}").select("key", "traits").iter_rows():
        for name, value in orjson.loads(text).items():
            rows["record"].append(key)
            rows["name"].append(name)
            rows["value"].append(orjson.dumps(value).decode())
    return pl.DataFrame(rows, schema=schema).sort("record", "name")


def _customers(graph: GraphStore) -> pl.DataFrame:
    rows = [row["customer"] for row in graph.query("all_customers", READS["all_customers"])]
    if not rows:
        return pl.DataFrame(schema={"id": pl.Utf8})
    columns = sorted({name for row in rows for name in row} | set(NODE_TABLES["Customer"]))
    return pl.DataFrame({name: [row.get(name) for row in rows] for name in columns}, strict=False)
