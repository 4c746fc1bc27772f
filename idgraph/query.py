"""The read API other services import: find a customer by any identifier, read the 360° view.

It imports neither the CLI stack (typer, rich) nor a database driver it does not need.

Examples:
    >>> from idgraph.query import IdentityGraph
    >>> with IdentityGraph(store="idgraph.db") as graph:  # doctest: +SKIP
    ...     customer_id = graph.lookup("maria.rossi@example.it")[0]
    ...     print(graph.profile(customer_id).golden["first_name"])
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from idgraph.activate.config import DestinationsConfig
from idgraph.activate.status import DestinationStatus
from idgraph.cluster.review import ReviewItem, review_customers
from idgraph.errors import FieldError, NotFoundError
from idgraph.explain import EvidencePath, EvidenceStep, Refusal, explain
from idgraph.match.config import MatchConfig, load_match_config
from idgraph.models import (
    CustomerHistory,
    CustomerSummary,
    HistoryEntry,
    IdentifierView,
    RecordView,
    identifier_key,
)
from idgraph.normalize.fields import normalize_email, normalize_phone
from idgraph.normalize.junk import ANY_KIND, DEFAULT_JUNK, JunkConfig
from idgraph.settings import open_store
from idgraph.store.base import GraphStore
from idgraph.store.queries import READS
from idgraph.store.schema import NODE_TABLES
from idgraph.types import FIELD_NAMES

__all__ = [
    "AccountView",
    "CustomerHistory",
    "CustomerProfile",
    "EventView",
    "EvidencePath",
    "EvidenceStep",
    "HistoryEntry",
    "IdentifierView",
    "IdentityGraph",
    "JunkMatch",
    "MatchView",
    "RecordView",
    "Refusal",
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


class AccountView(BaseModel):
    """An account the customer belongs to (`group` calls: a company, household, team)."""

    model_config = ConfigDict(frozen=True)

    id: str
    traits: dict[str, Any] = {}
    records: list[str] = Field(description="The customer's records that joined the account.")
    since_ts: int | None = None
    updated_ts: int | None = None


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
    accounts: list[AccountView] = []


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


class JunkMatch(BaseModel):
    """A value the junk lists treat as a placeholder of one identifier kind.

    Ingest drops such a value from every record (the record stays), so it never links records
    and a lookup by it finds nobody.
    """

    model_config = ConfigDict(frozen=True)

    kind: str
    #: The value as checked: an email normalized, a phone in E.164 when it parses, else trimmed.
    value: str
    #: The list holding it: `built-in` (`JunkConfig.use_defaults`), or `kinds.<kind>` /
    #: `kinds.*` of the junk config given with `--junk`.
    rule: str


#: Longest MERGED_INTO chain followed from an old id to its survivor.
_MAX_MERGE_HOPS = 64


class IdentityGraph:
    """Read access to an idgraph store; use it as a context manager.

    Args:
        store: store path or URL; default `$IDGRAPH_STORE` or `./idgraph.db`.
        default_region: phone region used to normalize a phone number given to `lookup`.
        database: Neo4j database name (Neo4j stores only); default the server's.
        junk: the junk lists the store was ingested with (`idgraph ingest --junk`), so a
            lookup that finds nothing can say the value is junk; default the built-in lists.
        match_config: the match config the store was resolved with, whose guard settings
            `explain` names; default the shipped one.
    """

    def __init__(
        self,
        store: str | Path | None = None,
        *,
        default_region: str = "US",
        database: str | None = None,
        junk: JunkConfig = DEFAULT_JUNK,
        match_config: MatchConfig | None = None,
    ) -> None:
        self._store: GraphStore = open_store(store, read_only=True, database=database)
        self._region = default_region
        self._owns_store = True
        self._junk = junk
        self._match_config = match_config

    @classmethod
    def over(
        cls,
        store: GraphStore,
        *,
        default_region: str = "US",
        junk: JunkConfig = DEFAULT_JUNK,
        match_config: MatchConfig | None = None,
    ) -> IdentityGraph:
        """Read through a store the caller already holds open (and closes itself).

        The HTTP service keeps one writable store for ingest and reads through it too: an
        embedded database file cannot be opened twice.
        """
        graph = cls.__new__(cls)
        graph._store = store
        graph._region = default_region
        graph._owns_store = False
        graph._junk = junk
        graph._match_config = match_config
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

    def junk_matches(self, identifier: str) -> list[JunkMatch]:
        """The identifier kinds for which the junk lists drop `identifier` at ingest.

        Checked as ingest checks it: an email or phone in normalized form (or as given, when
        it does not parse), other ids trimmed. An email is only tried for a value with an
        `@`, a phone only for one with a digit.
        """
        text = identifier.strip()
        found: list[JunkMatch] = []
        for kind in _LOOKUP_KINDS:
            if (kind == "email" and "@" not in text) or (
                kind == "phone" and not any(c.isdigit() for c in text)
            ):
                continue
            value = self._checked_form(kind, text)
            if value and self._junk.is_junk(kind, value):
                found.append(JunkMatch(kind=kind, value=value, rule=self._junk_rule(kind, value)))
        return found

    def _checked_form(self, kind: str, text: str) -> str | None:
        """`text` as ingest's junk check sees it for `kind` (see `normalize.record`)."""
        normalize = {"email": normalize_email, "phone": self._phone}.get(kind)
        if normalize is None:
            return text
        try:
            return normalize(text)
        except FieldError:
            return text

    def _junk_rule(self, kind: str, value: str) -> str:
        if self._junk.use_defaults and DEFAULT_JUNK.is_junk(kind, value):
            return "built-in"
        for key, extra in self._junk.kinds.items():
            if key in (kind, ANY_KIND) and JunkConfig(
                use_defaults=False, kinds={key: extra}
            ).is_junk(kind, value):
                return f"kinds.{key}"
        return "built-in"

    def why_not_found(self, identifier: str) -> str:
        """The message for a lookup that found nobody, saying so when the value is junk.

        The CLI, the HTTP service and reports print this, so they give the same answer.
        """
        message = f"no customer found for {identifier!r}"
        matches = self.junk_matches(identifier)
        if not matches:
            return message
        kinds = [m.kind for m in matches]
        listed = kinds[0] if len(kinds) == 1 else ", ".join(kinds[:-1]) + f" and {kinds[-1]}"
        rules = sorted({m.rule for m in matches})
        where = " and ".join(
            "the built-in junk list (JunkConfig, use_defaults: true)"
            if rule == "built-in"
            else f"{rule} of the junk config"
            for rule in rules
        )
        return (
            f"{message}: idgraph treats it as junk, a placeholder {listed} value matched by "
            f"{where}, so ingest drops it from every record and it never links anyone. To "
            "change the junk lists, ingest with --junk FILE and look up with the same --junk FILE: "
            f"`kinds: {{{kinds[0]}: {{values: [...], patterns: [...]}}}}` adds junk, "
            "`use_defaults: false` turns the built-in lists off (docs/matching.md#junk-values)"
        )

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
        records = self._records(customer_id)
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
            identifiers=self._identifiers(customer_id),
            events=event_rows,
            event_count=count,
            evidence=[MatchView(**row) for row in self._read("customer_evidence", id=customer_id)],
            segments=[
                SegmentMembership(**row) for row in self._read("customer_segments", id=customer_id)
            ],
            accounts=self._accounts(customer_id),
        )

    def _accounts(self, customer_id: str) -> list[AccountView]:
        """The accounts the customer's records joined, one entry per account."""
        found: dict[str, dict[str, Any]] = {}
        for row in self._read("customer_accounts", id=customer_id):
            node = row["account"]
            entry = found.setdefault(
                node["id"],
                {
                    "id": node["id"],
                    "traits": {
                        k: v
                        for k, v in node.items()
                        if k not in NODE_TABLES["Account"] and v is not None
                    },
                    "records": [],
                    "since_ts": row["since_ts"],
                    "updated_ts": row["updated_ts"],
                },
            )
            entry["records"].append(row["record"])
            entry["since_ts"] = min(entry["since_ts"], row["since_ts"])
            entry["updated_ts"] = max(entry["updated_ts"], row["updated_ts"])
        return [AccountView(**entry) for entry in found.values()]

    def _identifiers(self, customer_id: str) -> list[IdentifierView]:
        """The identifiers on a customer's records, each with whether it links and why not."""
        return [IdentifierView(**row) for row in self._read("customer_identifiers", id=customer_id)]

    def _records(self, customer_id: str) -> list[RecordView]:
        return [
            _record_view(row["record"]) for row in self._read("customer_records", id=customer_id)
        ]

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

    def find_by_name(self, name: str, *, limit: int = 50) -> list[CustomerSummary]:
        """Customers whose golden name matches `name`, ignoring case: "first last" both, or
        one word as a first or a last name. A scan of the customers (no name index), by
        last name, first name, id.

        Examples:
            >>> with IdentityGraph(store="idgraph.db") as graph:  # doctest: +SKIP
            ...     [c.id for c in graph.find_by_name("Maria Rossi")]
        """
        words = name.lower().split()
        if not words:
            return []
        first, last = words[0], " ".join(words[1:])
        rows = self._read(
            "customers_by_name",
            first=first,
            last=last or first,
            whole=" ".join(words),
            limit=limit,
        )
        return [_summary_of(row) for row in rows]

    def summaries(self, customer_ids: Collection[str]) -> list[CustomerSummary]:
        """Name, email, country and size of each given customer that exists, by id."""
        rows = self._read("customer_summaries", ids=sorted(set(customer_ids)))
        return [_summary_of(row) for row in rows]

    def in_segment(self, customer_id: str, name: str) -> bool:
        """Whether the customer was in the saved segment at its last run."""
        return bool(self._read("customer_in_segment", id=customer_id, name=name))

    def explain(self, record_a: str, record_b: str) -> EvidencePath:
        """The shortest path of linking evidence between two records, step by step.

        It follows match edges and shared identifiers that link; identifiers a guard stopped
        (shared by too many people, conflicting) are not evidence. For records of different
        customers, `refusals` lists what they share that does not join them, and why: each
        shared identifier that links nobody with its stored reason, guards that refuse a link
        between the two customers, blocking keys too common to compare, a reviewer's split and
        splits recorded between the two ids, each with the setting that decides it
        (`idgraph.explain`).

        Raises:
            NotFoundError: either record key is unknown.
        """
        return explain(self, self._config(), record_a, record_b)

    def _config(self) -> MatchConfig:
        if self._match_config is None:
            self._match_config = load_match_config(None)
        return self._match_config

    def review(self, *, limit: int = 50) -> list[ReviewItem]:
        """Customers a person should check, worst first: conflicting dates of birth, names
        that are not variants of one another, flagged groups, identifiers shared with other
        customers that were judged too common to link."""
        return review_customers(self._store, limit=limit)

    def destinations(self, config: DestinationsConfig | Path | str) -> list[DestinationStatus]:
        """Segment-change delivery per destination: pending in the outbox, sent, failed
        attempts, dead-lettered, last error (`idgraph deliver status`).

        Args:
            config: The destinations, or the YAML file declaring them (`load_destinations`).
        """
        from idgraph.activate.config import load_destinations
        from idgraph.activate.status import delivery_status

        if not isinstance(config, DestinationsConfig):
            config = load_destinations(config)
        return delivery_status(self._store, config)

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


#: Identifier kinds a lookup value may be; the junk check tries each.
_LOOKUP_KINDS = ("email", "phone", "user_id", "anonymous_id", "device_id", "customer_id")


def _summary_of(row: dict[str, Any]) -> CustomerSummary:
    return CustomerSummary(**{**row, "record_count": row["record_count"] or 0})


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
