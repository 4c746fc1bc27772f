"""What one ingest writes: computed as frames first, then applied by a store in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from idgraph.frames import EVENT_PROPERTIES, GROUPS, RECORDS, STORED_EVENTS
from idgraph.store.schema import ColumnType

__all__ = [
    "APART_ROWS",
    "EVIDENCE",
    "LINK_ROWS",
    "PAIRS",
    "VERDICTS",
    "IdChanges",
    "WritePlan",
    "plan_rows",
]

#: Identifier nodes: key (`kind:value`), kind, value, and the guards' verdict.
VERDICTS = {
    "key": pl.Utf8,
    "kind": pl.Utf8,
    "value": pl.Utf8,
    "linking": pl.Boolean,
    "reason": pl.Utf8,
}
#: Computed evidence between two records: what a `MATCHED` relationship holds.
EVIDENCE = {"a": pl.Utf8, "b": pl.Utf8, "rule": pl.Utf8, "fields": pl.Utf8, "score": pl.Float64}
LINK_ROWS = {"a": pl.Utf8, "b": pl.Utf8, "rule": pl.Utf8}
APART_ROWS = {"a": pl.Utf8, "b": pl.Utf8, "reason": pl.Utf8, "ts": pl.Int64}
PAIRS = {"a": pl.Utf8, "b": pl.Utf8}


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
    """The changes of one ingest, as frames (schemas above and in `idgraph.frames`).

    The customers of the re-resolved records (`retired_customers`, all of them when `full`)
    are deleted and written again as `customers` (the embedded store updates those of
    `customer_updates` in place instead), with the computed evidence of `scope_records`;
    everything else in the store is left alone.
    """

    #: True when every record was re-resolved: all customers and evidence are rewritten.
    full: bool = True
    #: Customer ids to delete before `customers` are written (their records are all in scope).
    retired_customers: list[str] = field(default_factory=list)
    #: Stored records whose computed evidence is rewritten (a record new to the store has
    #: none stored: reading or deleting it would only cost the engine a lookup per key).
    scope_records: list[str] = field(default_factory=list)
    #: Records (and their events) to delete, for an erasure; then the identifiers they held,
    #: deleted when no other record holds them.
    erased_records: list[str] = field(default_factory=list)
    erased_identifiers: list[str] = field(default_factory=list)
    #: Identifiers to refuse from now on, as (hash, kind, epoch ms) (`idgraph forget`).
    erased_hashes: list[tuple[str, str, int]] = field(default_factory=list)
    ids: IdChanges = field(default_factory=IdChanges)
    #: RFM scores of customers not otherwise written that moved a quintile: id, rfm_*.
    trait_updates: pl.DataFrame = field(default_factory=pl.DataFrame)
    #: Of `customers`, those that keep their id and every record they had: their id, the
    #: columns whose values changed for any of them, and `changed` (a list: the columns each
    #: one's own row changes). The embedded store sets these columns in place and adds
    #: `gained_memberships` rather than deleting such a customer and writing it again
    #: (`idgraph.state.unchanged`); they stay in `retired_customers`, `customers` and
    #: `memberships` for everything else that reads the plan.
    customer_updates: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema={"id": pl.Utf8})
    )
    #: The (customer, record) pairs of `customer_updates` not stored yet.
    gained_memberships: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema={"customer": pl.Utf8, "record": pl.Utf8})
    )

    new_records: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=RECORDS))
    changed_records: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=RECORDS))
    new_identifiers: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=VERDICTS))
    changed_identifiers: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=VERDICTS))
    #: (record, identifier key) relationships to add.
    new_record_identifiers: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema={"record": pl.Utf8, "identifier": pl.Utf8})
    )
    new_events: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=STORED_EVENTS))
    new_event_properties: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema=EVENT_PROPERTIES)
    )
    new_links: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=LINK_ROWS))
    #: Group calls: account memberships and account traits (`idgraph.store.accounts`).
    groups: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=GROUPS))
    #: Customer rows: id, golden fields, summary, flags, then trait columns.
    customers: pl.DataFrame = field(default_factory=pl.DataFrame)
    #: (customer, record) pairs.
    memberships: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema={"customer": pl.Utf8, "record": pl.Utf8})
    )
    #: Computed (fuzzy) evidence only; shared identifiers and explicit links are stored apart.
    evidence: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=EVIDENCE))
    #: New cannot-link overrides: (record a, record b, reason, epoch ms).
    new_apart: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=APART_ROWS))
    #: Cannot-link overrides a reviewer removed (`idgraph unsplit`): (record a, record b), a < b.
    removed_apart: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=PAIRS))
    customer_columns: dict[str, ColumnType] = field(default_factory=dict)
    event_columns: dict[str, ColumnType] = field(default_factory=dict)
    #: The resolution state after this run, for the columnar mirror (`idgraph.state`).
    state: Any = None
    #: `Meta` rows (key -> value) stamped with the state version, in the same transaction on
    #: the embedded store: the service records the call-log offset it has applied here.
    meta: dict[str, str] = field(default_factory=dict)


def plan_rows(plan: WritePlan) -> int:
    """The rows of a plan's bulk writes (nodes and relationships created), which the write
    stage counts; the small updates (changed records, id history, RFM) are not counted."""
    return (
        plan.new_records.height
        + plan.new_identifiers.height
        + plan.new_record_identifiers.height
        + 2 * plan.new_events.height
        + plan.new_links.height
        + 2 * plan.groups.height
        + plan.customers.height
        + plan.memberships.height
        + plan.evidence.height
    )
