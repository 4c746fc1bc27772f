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


@dataclass(slots=True)
class WritePlan:
    """The changes of one ingest. Customers and computed evidence are rewritten whole."""

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
