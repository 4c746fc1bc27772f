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
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict

from idgraph.cluster.review import ReviewItem, review_customers
from idgraph.errors import FieldError, NotFoundError
from idgraph.models import CustomerSummary, identifier_key
from idgraph.normalize.fields import normalize_email, normalize_phone
from idgraph.settings import open_store
from idgraph.store.base import GraphStore
from idgraph.store.queries import READS
from idgraph.store.schema import NODE_TABLES
from idgraph.types import FIELD_NAMES

__all__ = [
    "CustomerHistory",
    "CustomerProfile",
    "EventView",
    "EvidencePath",
    "EvidenceStep",
    "HistoryEntry",
    "IdentifierView",
    "IdentityGraph",
    "MatchView",
    "RecordView",
    "SegmentMember",
    "SegmentMembership",
    "SegmentPage",
    "StoreStats",
]

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


class RecordView(BaseModel):
    """One source record of a customer: its normalized fields and source traits."""

    model_config = ConfigDict(frozen=True)

    key: str
    source: str
    source_id: str | None = None
    kind: str | None = None
    updated_ts: int | None = None
    fields: dict[str, str] = {}
    traits: dict[str, Any] = {}


class IdentifierView(BaseModel):
    """An identifier on a customer's records, and whether it links them (why not, if not)."""

    model_config = ConfigDict(frozen=True)

    kind: str
    value: str
    linking: bool
    reason: str | None = None
    records: list[str]


class EventView(BaseModel):
    """One event a customer performed."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    ts: int
    time: str | None = None
    source: str | None = None
    record_key: str | None = None
    properties: dict[str, Any] = {}


class MatchView(BaseModel):
    """A stored match edge between two of the customer's records."""

    model_config = ConfigDict(frozen=True)

    record_a: str
    record_b: str
    rule: str
    fields: str | None = None
    score: float | None = None


class SegmentMembership(BaseModel):
    """A saved segment a customer is in, since when (epoch ms of the run that added them)."""

    model_config = ConfigDict(frozen=True)

    name: str
    since_ts: int | None = None


class CustomerProfile(BaseModel):
    """The 360° view of one unified customer."""

    model_config = ConfigDict(frozen=True)

    id: str
    golden: dict[str, Any]
    traits: dict[str, Any]
    summary: dict[str, Any]
    records: list[RecordView]
    identifiers: list[IdentifierView]
    events: list[EventView]
    event_count: int
    evidence: list[MatchView]
    segments: list[SegmentMembership]


class SegmentMember(CustomerSummary):
    """A member of a saved segment, with the time the customer entered it."""

    since_ts: int | None = None


class SegmentPage(BaseModel):
    """One page of a saved segment's members, ordered by customer id."""

    model_config = ConfigDict(frozen=True)

    name: str
    total: int
    offset: int
    limit: int
    members: list[SegmentMember]


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


class EvidenceStep(BaseModel):
    """One link on an evidence path: a shared identifier, or a match edge between two records."""

    model_config = ConfigDict(frozen=True)

    from_record: str
    to_record: str
    via: Literal["identifier", "match"]
    #: The identifier's `kind:value`, for `via="identifier"`.
    identifier: str | None = None
    #: The match rule (`alias`, `must_link` or a fuzzy rule's name), for `via="match"`.
    rule: str | None = None
    fields: list[str] = []
    score: float | None = None


class EvidencePath(BaseModel):
    """Why two records are one customer: the shortest chain of evidence joining them.

    `steps` is empty when no linking evidence joins them (then `same_customer` is False, or
    the two keys name the same record).
    """

    model_config = ConfigDict(frozen=True)

    record_a: str
    record_b: str
    customer_a: str | None
    customer_b: str | None
    same_customer: bool
    steps: list[EvidenceStep]


class HistoryEntry(BaseModel):
    """One thing that happened to a customer id."""

    model_config = ConfigDict(frozen=True)

    ts: int
    #: created, absorbed (another id merged into this one), merged_into (this id was
    #: absorbed), split_off (a part left, as `other`), split_from (this id was cut out of
    #: `other`), moved_out (some records left for `other`, which lives on), moved_in (some of
    #: `other`'s records joined this one), erased (its last records were forgotten).
    kind: Literal[
        "created",
        "absorbed",
        "merged_into",
        "split_off",
        "split_from",
        "moved_out",
        "moved_in",
        "erased",
    ]
    other: str | None = None
    records: int | None = None
    #: The evidence of a merge or of records moving in, the reason of a split or move out.
    detail: str = ""


class CustomerHistory(BaseModel):
    """A customer id's life: where it came from and, if it is gone, where its records went."""

    model_config = ConfigDict(frozen=True)

    id: str
    #: active, merged, erased; "unknown" for an id issued before the registry existed.
    status: str
    #: The live customer holding this id's records now (itself when active), or None.
    current: str | None
    entries: list[HistoryEntry]


#: Longest MERGED_INTO chain followed from an old id to its survivor.
_MAX_MERGE_HOPS = 64


class IdentityGraph:
    """Read access to an idgraph store; use it as a context manager.

    Args:
        store: store path or URL; default `$IDGRAPH_STORE` or `./idgraph.db`.
        default_region: phone region used to normalize a phone number given to `lookup`.
        database: Neo4j database name (Neo4j stores only); default the server's.
    """

    def __init__(
        self,
        store: str | Path | None = None,
        *,
        default_region: str = "US",
        database: str | None = None,
    ) -> None:
        self._store: GraphStore = open_store(store, read_only=True, database=database)
        self._region = default_region
        self._owns_store = True

    @classmethod
    def over(cls, store: GraphStore, *, default_region: str = "US") -> IdentityGraph:
        """Read through a store the caller already holds open (and closes itself).

        The HTTP service keeps one writable store for ingest and reads through it too: an
        embedded database file cannot be opened twice.
        """
        graph = cls.__new__(cls)
        graph._store = store
        graph._region = default_region
        graph._owns_store = False
        return graph

    @property
    def store(self) -> GraphStore:
        return self._store

    def close(self) -> None:
        if self._owns_store:
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

    def _read(self, statement: str, /, **params: Any) -> list[dict[str, Any]]:
        return self._store.query(statement, READS[statement], params)

    def lookup(self, identifier: str) -> list[str]:
        """Customer ids for a customer id, record key, email, phone or any stored identifier.

        Several ids come back when the value is an identifier that links nobody (a shared
        device, a junk email) but sits on records of different customers.
        """
        value = identifier.strip()
        if self._read("customer_by_id", id=value):
            return [value]
        survivor = self.current_id(value)
        if survivor is not None:
            return [survivor]
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

    def current_id(self, customer_id: str) -> str | None:
        """The live customer an id names now: itself, or the survivor it was merged into.

        Ids handed to other systems keep working after merges. None when the id is unknown
        or its records were erased.
        """
        seen = customer_id
        for _ in range(_MAX_MERGE_HOPS):
            if self._read("customer_by_id", id=seen):
                return seen
            onward = self._read("id_merged_into", id=seen)
            if not onward:
                return None
            seen = onward[0]["other"]
        return None

    def history(self, customer_id: str) -> CustomerHistory:
        """What happened to a customer id: created, merges in and out, splits, erasure.

        Raises:
            NotFoundError: the id was never issued.
        """
        registry = self._read("id_registry", id=customer_id)
        live = bool(self._read("customer_by_id", id=customer_id))
        if not registry and not live:
            raise NotFoundError(f"no customer id {customer_id!r} was ever issued")
        entries: list[HistoryEntry] = []
        status = "unknown"
        if registry:
            row = registry[0]
            status = row["status"] or "active"
            if row["created_ts"]:
                entries.append(HistoryEntry(ts=row["created_ts"], kind="created"))
            if status == "erased" and row["retired_ts"]:
                entries.append(HistoryEntry(ts=row["retired_ts"], kind="erased"))
        for read, kind in (
            ("id_absorbed", "absorbed"),
            ("id_merged_into", "merged_into"),
            ("id_split_off", "split_off"),
            ("id_split_from", "split_from"),
            ("id_moved_out", "moved_out"),
            ("id_moved_in", "moved_in"),
        ):
            for row in self._read(read, id=customer_id):
                entries.append(
                    HistoryEntry(
                        ts=row["ts"] or 0,
                        kind=kind,  # type: ignore[arg-type]
                        other=row["other"],
                        records=row["records"],
                        detail=row["detail"] or "",
                    )
                )
        entries.sort(key=lambda e: (e.ts, e.kind, e.other or ""))
        return CustomerHistory(
            id=customer_id,
            status="active" if live else status,
            current=self.current_id(customer_id),
            entries=entries,
        )

    def profile(self, customer_id: str, *, events: int = 20) -> CustomerProfile:
        """The customer's golden fields, traits, records, identifiers and recent events.

        An id that was merged into another answers with the survivor's profile (its `id`
        says which).

        Raises:
            NotFoundError: no customer has that id, now or before.
        """
        current = self.current_id(customer_id)
        if current is None:
            raise NotFoundError(f"no customer with id {customer_id!r}")
        customer_id = current
        rows = self._read("customer_node", id=customer_id)
        node = rows[0]["customer"]
        golden = {k: node.get(k) for k in _GOLDEN if node.get(k) is not None}
        summary = {k: node.get(k) for k in _CUSTOMER_META}
        traits = {
            k: v for k, v in node.items() if k not in NODE_TABLES["Customer"] and v is not None
        }
        records = [
            _record_view(row["record"]) for row in self._read("customer_records", id=customer_id)
        ]
        event_rows = [
            EventView(
                **{
                    **row,
                    "properties": orjson.loads(row["properties"]) if row["properties"] else {},
                }
            )
            for row in self._read("customer_events", id=customer_id, limit=events)
        ]
        count = self._read("customer_event_count", id=customer_id)[0]["n"]
        return CustomerProfile(
            id=customer_id,
            golden=golden,
            traits=traits,
            summary=summary,
            records=records,
            identifiers=[
                IdentifierView(**row) for row in self._read("customer_identifiers", id=customer_id)
            ],
            events=event_rows,
            event_count=count,
            evidence=[MatchView(**row) for row in self._read("customer_evidence", id=customer_id)],
            segments=[
                SegmentMembership(**row) for row in self._read("customer_segments", id=customer_id)
            ],
        )

    def segment_members(self, name: str, *, offset: int = 0, limit: int = 100) -> SegmentPage:
        """One page of a saved segment's members as of its last run, by customer id.

        Raises:
            NotFoundError: no segment of that name is saved.
            ValueError: a negative offset or a limit outside 1..10000.
        """
        if offset < 0 or not 1 <= limit <= 10_000:
            raise ValueError("offset must be >= 0 and limit between 1 and 10000")
        if not self._read("segment_get", name=name):
            raise NotFoundError(f"no saved segment {name!r}")
        total = self._read("segment_member_count", name=name)[0]["n"]
        rows = self._read("segment_members_page", name=name, offset=offset, limit=limit)
        members = [
            SegmentMember(
                id=row["customer_id"],
                email=row["email"],
                first_name=row["first_name"],
                last_name=row["last_name"],
                country=row["country"],
                record_count=row["record_count"] or 0,
                since_ts=row["since_ts"],
            )
            for row in rows
        ]
        return SegmentPage(name=name, total=total, offset=offset, limit=limit, members=members)

    def in_segment(self, customer_id: str, name: str) -> bool:
        """Whether the customer was in the saved segment at its last run."""
        return bool(self._read("customer_in_segment", id=customer_id, name=name))

    def explain(self, record_a: str, record_b: str) -> EvidencePath:
        """The shortest path of linking evidence between two records, step by step.

        It follows match edges and shared identifiers that link; identifiers a guard stopped
        (shared by too many people, conflicting) are not evidence.

        Raises:
            NotFoundError: either record key is unknown.
        """
        customers = []
        for key in (record_a, record_b):
            rows = self._read("customer_by_record", key=key)
            if not rows:
                raise NotFoundError(f"no record with key {key!r}")
            customers.append(rows[0]["id"])
        steps: list[EvidenceStep] = []
        if record_a != record_b:
            rows = self._store.query(
                "evidence_path",
                self._store.dialect.evidence_path(),
                {"record_a": record_a, "record_b": record_b},
            )
            if rows:
                steps = _evidence_steps(rows[0])
        return EvidencePath(
            record_a=record_a,
            record_b=record_b,
            customer_a=customers[0],
            customer_b=customers[1],
            same_customer=customers[0] == customers[1],
            steps=steps,
        )

    def review(self, *, limit: int = 50) -> list[ReviewItem]:
        """Customers a person should check, worst first: conflicting dates of birth, names
        that are not variants of one another, flagged groups, identifiers shared with other
        customers that were judged too common to link."""
        return review_customers(self._store, limit=limit)

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


def _evidence_steps(row: dict[str, Any]) -> list[EvidenceStep]:
    """Fold a path's parallel lists into steps; `record -id- Identifier -id- record` is one."""
    keys, labels = row["keys"], row["labels"]
    steps: list[EvidenceStep] = []
    i = 0
    while i < len(keys) - 1:
        if labels[i + 1] == "Identifier" and i + 2 < len(keys):
            steps.append(
                EvidenceStep(
                    from_record=keys[i],
                    to_record=keys[i + 2],
                    via="identifier",
                    identifier=keys[i + 1],
                )
            )
            i += 2
            continue
        fields = row["fields"][i]
        steps.append(
            EvidenceStep(
                from_record=keys[i],
                to_record=keys[i + 1],
                via="match",
                rule=row["rules"][i],
                fields=fields.split(",") if fields else [],
                score=row["scores"][i],
            )
        )
        i += 1
    return steps


def _record_view(node: dict[str, Any]) -> RecordView:
    fields: dict[str, str] = {
        name: node[name] for name in FIELD_NAMES if node.get(name) is not None
    }
    traits = orjson.loads(node["traits"]) if node.get("traits") else {}
    return RecordView(
        key=node["key"],
        source=node["source"],
        source_id=node.get("source_id"),
        kind=node.get("kind"),
        updated_ts=node.get("updated_ts"),
        fields=fields,
        traits=traits,
    )
