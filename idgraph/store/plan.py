"""What one ingest writes: computed in memory first, then applied by a store in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from idgraph.models import Event, Link, MatchEvidence, Record
from idgraph.store.schema import ColumnType


@dataclass(slots=True)
class IdentifierRow:
    key: str
    kind: str
    value: str
    linking: bool
    reason: str


class StoredEvent(NamedTuple):
    """A stored event as computed traits need it: whose record, what, when, and its properties."""

    record: str
    name: str
    ts: int
    properties: dict[str, Any]
    id: str = ""


@dataclass(slots=True)
class RecordIndex:
    """A record's lists in the scope index (`store/adjacency.py`), each sorted."""

    identifier_keys: list[str] = field(default_factory=list)
    customer: str | None = None
    ties: list[str] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class KnownRows:
    """Rows an incremental run already read while finding its scope (`idgraph/scope.py`).

    Loading the scope's state takes them from here instead of reading them again; nothing is
    written in between, so they are still what the store holds.
    """

    #: Stored records, with or without their identifiers (those come from `index`).
    records: dict[str, Record] = field(default_factory=dict)
    index: dict[str, RecordIndex] = field(default_factory=dict)
    identifiers: dict[str, IdentifierRow] = field(default_factory=dict)


@dataclass(slots=True)
class StoreState:
    """What the store already holds that resolution needs."""

    records: dict[str, Record] = field(default_factory=dict)
    links: list[Link] = field(default_factory=list)
    assignment: dict[str, str] = field(default_factory=dict)
    identifiers: dict[str, IdentifierRow] = field(default_factory=dict)
    record_event_span: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: Every stored event, for the computed traits rewritten at each ingest.
    events: list[StoredEvent] = field(default_factory=list)
    customer_columns: dict[str, ColumnType] = field(default_factory=dict)
    event_columns: dict[str, ColumnType] = field(default_factory=dict)
    #: Cannot-link overrides: record pairs a reviewer split apart.
    apart: list[tuple[str, str]] = field(default_factory=list)
    #: The loaded records' scope index as stored (incremental runs only).
    index: dict[str, RecordIndex] = field(default_factory=dict)


@dataclass(slots=True)
class IdChanges:
    """Customer-id registry changes of one ingest (`CustomerId`, `MERGED_INTO`, `SPLIT_FROM`,
    `MOVED_TO`)."""

    #: Ids issued now, or found without a registry entry: (id, created_ts).
    created: list[tuple[str, int]] = field(default_factory=list)
    #: (absorbed id, survivor id, ts, evidence, records moved).
    merged: list[tuple[str, str, int, str, int]] = field(default_factory=list)
    #: (new id, origin id, ts, reason, records taken).
    split: list[tuple[str, str, int, str, int]] = field(default_factory=list)
    #: Records that left one surviving customer for another: (origin id, target id, ts,
    #: reason, evidence, records).
    moved: list[tuple[str, str, int, str, str, int]] = field(default_factory=list)
    #: Ids left with no records because their records were erased: (id, ts).
    erased: list[tuple[str, int]] = field(default_factory=list)


@dataclass(slots=True)
class WritePlan:
    """The changes of one ingest.

    The customers of the re-resolved records (`retired_customers`, all of them when `full`)
    are deleted and written again as `customers`, with the computed evidence of
    `scope_records`; everything else in the store is left alone.
    """

    #: True when every record was re-resolved: all customers, evidence and blocks are rewritten.
    full: bool = True
    #: Customer ids to delete before `customers` are written (their records are all in scope).
    retired_customers: list[str] = field(default_factory=list)
    #: Records whose computed evidence is rewritten.
    scope_records: list[str] = field(default_factory=list)
    #: Records (and their events) to delete, for an erasure; then the identifiers and blocks
    #: they held, deleted when no other record holds them.
    erased_records: list[str] = field(default_factory=list)
    erased_identifiers: list[str] = field(default_factory=list)
    erased_blocks: list[str] = field(default_factory=list)
    #: Identifiers to refuse from now on, as (hash, kind, epoch ms) (`idgraph forget`).
    erased_hashes: list[tuple[str, str, int]] = field(default_factory=list)
    #: Block nodes to create, and record-block edges to add and remove.
    new_blocks: list[str] = field(default_factory=list)
    add_blocks: list[tuple[str, str]] = field(default_factory=list)
    drop_blocks: list[tuple[str, str]] = field(default_factory=list)
    ids: IdChanges = field(default_factory=IdChanges)
    #: RFM scores of customers not otherwise written that moved a quintile: {id, rfm_*}.
    trait_updates: list[dict[str, Any]] = field(default_factory=list)

    new_records: list[Record] = field(default_factory=list)
    changed_records: list[Record] = field(default_factory=list)
    new_identifiers: list[IdentifierRow] = field(default_factory=list)
    changed_identifiers: list[IdentifierRow] = field(default_factory=list)
    new_record_identifiers: list[tuple[str, str]] = field(default_factory=list)
    new_events: list[Event] = field(default_factory=list)
    new_links: list[Link] = field(default_factory=list)
    customers: list[dict[str, Any]] = field(default_factory=list)
    memberships: list[tuple[str, str]] = field(default_factory=list)
    #: Computed (fuzzy) evidence only; shared identifiers and explicit links are stored apart.
    evidence: list[MatchEvidence] = field(default_factory=list)
    #: New cannot-link overrides: (record a, record b, reason, epoch ms).
    new_apart: list[tuple[str, str, str, int]] = field(default_factory=list)
    customer_columns: dict[str, ColumnType] = field(default_factory=dict)
    event_columns: dict[str, ColumnType] = field(default_factory=dict)
    #: The scope index's lists this run changes (`store/adjacency.py`), by `Adjacency` key;
    #: an empty list removes its node. On a full run, the whole index.
    adjacency: dict[str, list[str]] = field(default_factory=dict)
