"""The read API other services import: find a customer by any identifier, read the 360° view.

It imports neither the CLI stack (typer, rich) nor a database driver it does not need.

Examples:
    >>> from idgraph.query import IdentityGraph
    >>> with IdentityGraph(store="idgraph.db") as graph:  # doctest: +SKIP
    ...     customer_id = graph.lookup("maria.rossi@example.it")[0]
    ...     print(graph.profile(customer_id).golden["first_name"])
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict

from idgraph.errors import FieldError, NotFoundError
from idgraph.models import identifier_key
from idgraph.normalize.fields import normalize_email, normalize_phone
from idgraph.settings import open_store
from idgraph.store.base import GraphStore
from idgraph.store.queries import READS
from idgraph.store.schema import NODE_TABLES

__all__ = ["CustomerProfile", "IdentityGraph", "StoreStats"]

_CUSTOMER_META = (
    "id",
    "record_count",
    "sources",
    "first_seen_ts",
    "last_seen_ts",
    "flagged",
    "flag_reason",
    "updated_ts",
)
_GOLDEN = tuple(n for n in NODE_TABLES["Customer"] if n not in _CUSTOMER_META)


class CustomerProfile(BaseModel):
    """The 360° view of one unified customer."""

    model_config = ConfigDict(frozen=True)

    id: str
    golden: dict[str, Any]
    traits: dict[str, Any]
    summary: dict[str, Any]
    records: list[dict[str, Any]]
    identifiers: list[dict[str, Any]]
    events: list[dict[str, Any]]
    event_count: int
    evidence: list[dict[str, Any]]


class StoreStats(BaseModel):
    """Counts of what the store holds."""

    records: int
    customers: int
    events: int
    records_per_source: dict[str, int]
    events_per_name: dict[str, int]
    identifiers: dict[str, dict[str, int]]
    cluster_sizes: dict[int, int]
    largest_customers: list[dict[str, Any]]


class IdentityGraph:
    """Read access to an idgraph store; use it as a context manager.

    Args:
        store: store path or URL; default `$IDGRAPH_STORE` or `./idgraph.db`.
        default_region: phone region used to normalize a phone number given to `lookup`.
    """

    def __init__(self, store: str | Path | None = None, *, default_region: str = "US") -> None:
        self._store: GraphStore = open_store(store, read_only=True)
        self._region = default_region

    @property
    def store(self) -> GraphStore:
        return self._store

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> IdentityGraph:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _read(self, name: str, **params: Any) -> list[dict[str, Any]]:
        return self._store.query(name, READS[name], params)

    def lookup(self, identifier: str) -> list[str]:
        """Customer ids for a customer id, record key, email, phone or any stored identifier.

        Several ids come back when the value is an identifier that links nobody (a shared
        device, a junk email) but sits on records of different customers.
        """
        value = identifier.strip()
        if self._read("customer_by_id", id=value):
            return [value]
        by_record = self._read("customer_by_record", key=value)
        if by_record:
            return [row["id"] for row in by_record]
        keys = [
            identifier_key(kind, value)
            for kind in ("user_id", "anonymous_id", "device_id", "customer_id")
        ]
        for kind, normalize in (("email", normalize_email), ("phone", self._phone)):
            try:
                normalized = normalize(value)
            except FieldError:
                continue
            if normalized:
                keys.append(identifier_key(kind, normalized))
        return [row["id"] for row in self._read("customers_by_identifier", keys=keys)]

    def _phone(self, value: str) -> str | None:
        return normalize_phone(value, self._region)

    def profile(self, customer_id: str, *, events: int = 20) -> CustomerProfile:
        """The customer's golden fields, traits, records, identifiers and recent events.

        Raises:
            NotFoundError: no customer has that id.
        """
        rows = self._read("customer_node", id=customer_id)
        if not rows:
            raise NotFoundError(f"no customer with id {customer_id!r}")
        node = rows[0]["customer"]
        golden = {k: node.get(k) for k in _GOLDEN if node.get(k) is not None}
        summary = {k: node.get(k) for k in _CUSTOMER_META}
        traits = {
            k: v for k, v in node.items() if k not in NODE_TABLES["Customer"] and v is not None
        }
        records = []
        for row in self._read("customer_records", id=customer_id):
            record = {k: v for k, v in row["record"].items() if v is not None}
            if record.get("traits"):
                record["traits"] = orjson.loads(record["traits"])
            records.append(record)
        event_rows = []
        for row in self._read("customer_events", id=customer_id, limit=events):
            event = dict(row)
            event["properties"] = orjson.loads(row["properties"]) if row["properties"] else {}
            event_rows.append(event)
        count = self._read("customer_event_count", id=customer_id)[0]["n"]
        return CustomerProfile(
            id=customer_id,
            golden=golden,
            traits=traits,
            summary=summary,
            records=records,
            identifiers=self._read("customer_identifiers", id=customer_id),
            events=event_rows,
            event_count=count,
            evidence=self._read("customer_evidence", id=customer_id),
        )

    def stats(self) -> StoreStats:
        """How many records, customers, events and identifiers the store holds."""
        identifiers: dict[str, dict[str, int]] = {}
        for row in self._read("count_identifiers"):
            state = "linking" if row["linking"] else "not_linking"
            identifiers.setdefault(row["kind"], {})[state] = row["n"]
        return StoreStats(
            records=self._read("count_records")[0]["n"],
            customers=self._read("count_customers")[0]["n"],
            events=self._read("count_events")[0]["n"],
            records_per_source={r["source"]: r["n"] for r in self._read("records_per_source")},
            events_per_name={r["name"]: r["n"] for r in self._read("events_per_name")},
            identifiers=identifiers,
            cluster_sizes={r["size"]: r["n"] for r in self._read("cluster_sizes")},
            largest_customers=self._read("largest_customers", limit=5),
        )

    def clusters(self) -> list[tuple[str, str]]:
        """Every `(record_key, customer_id)` pair, sorted by record key."""
        return [(r["record_key"], r["customer_id"]) for r in self._read("export_clusters")]
