"""The scope index as stored: one `Adjacency` node per (kind of neighbour list, node).

An incremental ingest must find, for a handful of records, their identifiers, customer, ties
and events, and for identifiers, blocks and customer ids their records. Walking relationships
for that is cheap on Neo4j but not on LadybugDB, which plans every keyed walk as scans of
whole tables. So each list is also kept as an `Adjacency {key: "<kind>:<node key>", items}`
node and read by primary key.

The lists live on nodes of their own, not as properties of the nodes they describe, because
LadybugDB's checkpoint rewrites every column chunk a transaction updated in place: scattered
updates to a property of a million-row table cost seconds at every commit, while deleting a
node and appending its new version costs about what the batch writes. So a changed list is
deleted and written again, never updated; an empty list is no node at all.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Final

from idgraph.store.plan import RecordIndex

if TYPE_CHECKING:
    from idgraph.store.base import GraphStore

#: Kinds of list, by the node they belong to.
IDENTIFIERS: Final = "ri"  # record -> its identifier keys
CUSTOMER: Final = "rc"  # record -> [its customer id]
TIES: Final = "rt"  # record -> records an explicit link or cannot-link ties it to, either way
EVENTS: Final = "re"  # record -> its event ids
HOLDERS: Final = "ih"  # identifier -> records holding it
MEMBERS: Final = "bm"  # block -> records in it
RECORDS: Final = "cr"  # customer id -> its records (none once the id is retired)

RECORD_KINDS: Final = (IDENTIFIERS, CUSTOMER, TIES, EVENTS)


def entry(kind: str, key: str) -> str:
    """The `Adjacency` key of `kind`'s list for node `key`."""
    return f"{kind}:{key}"


def split_entry(key: str) -> tuple[str, str]:
    kind, _, node = key.partition(":")
    return kind, node


def read(graph: GraphStore, kind: str, keys: Collection[str]) -> dict[str, list[str]]:
    """`kind`'s stored list for each of `keys` that has one."""
    rows = graph.scope_rows("scope_adjacency", [entry(kind, k) for k in keys])
    return {split_entry(row["key"])[1]: list(row["items"] or ()) for row in rows}


def read_records(graph: GraphStore, keys: Collection[str]) -> dict[str, RecordIndex]:
    """The stored index of each record of `keys` (empty lists where nothing is stored)."""
    index = {key: RecordIndex() for key in keys}
    wanted = [entry(kind, key) for key in keys for kind in RECORD_KINDS]
    for row in graph.scope_rows("scope_adjacency", wanted):
        kind, key = split_entry(row["key"])
        set_list(index[key], kind, list(row["items"] or ()))
    return index


def set_list(index: RecordIndex, kind: str, items: list[str]) -> None:
    if kind == IDENTIFIERS:
        index.identifier_keys = items
    elif kind == CUSTOMER:
        index.customer = items[0] if items else None
    elif kind == TIES:
        index.ties = items
    elif kind == EVENTS:
        index.event_ids = items


def record_lists(key: str, index: RecordIndex) -> dict[str, list[str]]:
    """A record's index as `Adjacency` entries (empty lists included)."""
    return {
        entry(IDENTIFIERS, key): index.identifier_keys,
        entry(CUSTOMER, key): [index.customer] if index.customer else [],
        entry(TIES, key): index.ties,
        entry(EVENTS, key): index.event_ids,
    }


def rows(lists: Mapping[str, list[str]]) -> list[dict[str, object]]:
    """`Adjacency` nodes to create: one per non-empty list."""
    return [{"key": key, "items": items} for key, items in sorted(lists.items()) if items]
