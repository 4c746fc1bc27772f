"""The read API other services import: find a customer by any identifier, read the 360° view.

It imports neither the CLI stack (typer, rich) nor a database driver it does not need.

Examples:
    >>> from idgraph.query import IdentityGraph
    >>> with IdentityGraph(store="idgraph.db") as graph:  # doctest: +SKIP
    ...     customer_id = graph.lookup("maria.rossi@example.it")[0]
    ...     print(graph.profile(customer_id).golden["first_name"])
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from idgraph.activate.config import DestinationsConfig
from idgraph.activate.status import DestinationStatus
from idgraph.cluster.review import ReviewItem, review_customers
from idgraph.errors import FieldError, NotFoundError
from idgraph.match.config import MatchConfig, load_match_config
from idgraph.match.households import household_names
from idgraph.match.model import MatchModel
from idgraph.match.scored import lifted_config
from idgraph.match.tolerance import values_compatible
from idgraph.models import CustomerSummary, identifier_key
from idgraph.normalize.fields import normalize_email, normalize_phone
from idgraph.normalize.junk import ANY_KIND, DEFAULT_JUNK, JunkConfig
from idgraph.settings import open_store
from idgraph.state.model import stored_model
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


class Refusal(BaseModel):
    """Something that could join two records' customers and does not, with the setting behind it.

    `kind` says what: `identifier`, an identifier both customers' records hold that links
    nobody (`reason` is the verdict stored with it); `guard`, a link between the two customers
    that an identity limit or a strong attribute refuses; `block`, a blocking key the two
    records share that is too common for their pair to be compared; `override`, a reviewer's
    split; `history`, a split or move between the two ids recorded by an earlier run.
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["identifier", "guard", "block", "override", "history"]
    reason: str
    #: The identifier's `kind:value` (for `identifier` and `guard`), or the blocking key.
    identifier: str | None = None
    #: The records concerned, of both customers.
    records: list[str] = []
    #: The match config key that decides it, e.g. `limits.user_id`,
    #: `identifiers[kind=email].max_records`, `strong_attributes`, `max_block_size`.
    setting: str | None = None
    #: How to change the outcome.
    change: str = ""


class EvidencePath(BaseModel):
    """Why two records are one customer: the shortest chain of evidence joining them.

    `steps` is empty when no linking evidence joins them (then `same_customer` is False, or
    the two keys name the same record). For records of different customers, `refusals` says
    what could have joined them and why it does not (empty when nothing they share could).
    """

    model_config = ConfigDict(frozen=True)

    record_a: str
    record_b: str
    customer_a: str | None
    customer_b: str | None
    same_customer: bool
    steps: list[EvidenceStep]
    refusals: list[Refusal] = []


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
        splits recorded between the two ids, each with the setting that decides it.

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
        same = customers[0] == customers[1]
        return EvidencePath(
            record_a=record_a,
            record_b=record_b,
            customer_a=customers[0],
            customer_b=customers[1],
            same_customer=same,
            steps=steps,
            refusals=[] if same else self._refusals(record_a, record_b, *customers),
        )

    def _config(self) -> MatchConfig:
        if self._match_config is None:
            self._match_config = load_match_config(None)
        return self._match_config

    def _refusals(
        self, record_a: str, record_b: str, customer_a: str, customer_b: str
    ) -> list[Refusal]:
        """What the records of two customers share that does not join them, and why."""
        model = stored_model(self._store, self._config())
        config = lifted_config(self._config(), model.lifted if model is not None else [])
        held_a, held_b = self._identifiers(customer_a), self._identifiers(customer_b)
        refusals, linking = _shared_identifiers(held_a, held_b)
        blocked, compared = self._shared_blocks(record_a, record_b, config)
        records_a, records_b = self._records(customer_a), self._records(customer_b)
        apart = self._kept_apart({r.key for r in records_a}, {r.key for r in records_b})
        conflicts = _guard_conflicts(config, records_a, records_b, held_a, held_b)
        for name, records in linking:
            # A shared identifier that links yet leaves two customers: a household's value,
            # or a guard refused the join when they were resolved. A reviewer's split
            # explains it too.
            household = self._household(records, records_a, records_b, config, model)
            if household:
                refusals.append(_refusal("guard", household, identifier=name, records=records))
                continue
            for reason in conflicts or ([] if apart else [_UNKNOWN_GUARD]):
                refusals.append(_refusal("guard", reason, identifier=name, records=records))
        if compared and not linking:
            keys = ", ".join(compared)
            for reason in conflicts:
                refusals.append(
                    _refusal(
                        "guard",
                        f"a fuzzy match between them (blocking keys {keys}) would be refused: "
                        + reason,
                        records=[record_a, record_b],
                    )
                )
        return refusals + blocked + apart + self._parted(customer_a, customer_b)

    def _household(
        self,
        holders: list[str],
        records_a: list[RecordView],
        records_b: list[RecordView],
        config: MatchConfig,
        model: MatchModel | None,
    ) -> str:
        """Why a shared value links no holder of one customer to one of the other as a
        household's (`idgraph.match.households`), or "". `config` is the store's model's
        (`lifted_config`): where its records hold no households, no value is one's."""
        if "first_name" not in config.scoring.must_agree:
            return ""
        held = set(holders)

        def names(records: list[RecordView]) -> list[tuple[str | None, str | None]]:
            return [
                (r.fields.get("first_name"), r.fields.get("last_name"))
                for r in records
                if r.key in held
            ]

        side_a, side_b = names(records_a), names(records_b)
        if not side_a or not side_b:
            return ""
        found = household_names(side_a, side_b, model.aliases if model is not None else [])
        if found is None:
            return ""
        return (
            f"a household's value: first names {found[0]!r} and {found[1]!r} are two people "
            "(scoring.must_agree first_name)"
        )

    def _shared_blocks(
        self, record_a: str, record_b: str, config: MatchConfig
    ) -> tuple[list[Refusal], list[str]]:
        """Blocking keys both records have: refusals for those over `max_block_size`, and the
        others (also those whose size is unknown: no mirror beside the store)."""
        # Imported here: blocking keys pull in the matching stack.
        from idgraph.state.blocks import shared_blocks

        refusals, compared = [], []
        fields = {
            row["record"]["key"]: row["record"]
            for row in self._read("records_by_key", keys=[record_a, record_b])
        }
        for block, size in shared_blocks(self.store, config, fields):
            rule, _, key = block.partition("\x1f")
            shown = f"{rule}:" + key.replace("\x1f", "|")
            cap = config.block_cap(rule)
            if size is None or size <= cap:
                compared.append(shown)
                continue
            reason = (
                f"blocking key shared by {size} records (max_block_size {cap}): "
                "the pair was never compared"
            )
            refusals.append(
                _refusal("block", reason, identifier=shown, records=[record_a, record_b])
            )
        return refusals, compared

    def _kept_apart(self, keys_a: set[str], keys_b: set[str]) -> list[Refusal]:
        """Reviewer splits (cannot-links) between records of the two customers."""
        refusals = []
        for row in self._read("records_cannot_link", keys=sorted(keys_a | keys_b)):
            pair = {row["a"], row["b"]}
            if pair & keys_a and pair & keys_b:
                reason = f"a reviewer split these records apart: {row['reason'] or 'no reason'}"
                refusals.append(_refusal("override", reason, records=sorted(pair)))
        return refusals

    def _parted(self, customer_a: str, customer_b: str) -> list[Refusal]:
        """Splits and moves between the two ids that earlier runs recorded, with the reason."""
        refusals, seen = [], set()
        for this, that in ((customer_a, customer_b), (customer_b, customer_a)):
            for entry in self.history(this).entries:
                if entry.other != that or entry.kind not in _PARTED or not entry.detail:
                    continue
                if (entry.ts, entry.detail) not in seen:
                    seen.add((entry.ts, entry.detail))
                    what = f"{this} {entry.kind.replace('_', ' ')} {that}: {entry.detail}"
                    refusals.append(_refusal("history", what))
        return refusals

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
_REFRESH = "then re-resolve with `idgraph ingest --full --match-config FILE`"
_UNKNOWN_GUARD = (
    "links, but a guard refused joining the two customers when they were resolved "
    "(the reason is not stored)"
)
#: Stored reasons (`match.decide`, `cluster.components`) -> the setting behind them.
_SETTINGS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (
        re.compile(r"shared by \d+ records \(max_records \d+\)"),
        "identifiers[kind={kind}].max_records",
        "raise max_records of the {kind} entry under `identifiers:` in a match config, " + _REFRESH,
    ),
    (
        re.compile(r"held by \d+ different first names \(max_names \d+\)"),
        "identifiers[kind={kind}].max_names",
        "raise max_names of the {kind} entry under `identifiers:` in a match config, " + _REFRESH,
    ),
    (
        re.compile(r"(?:joins|would give one customer) \d+ distinct (?P<limited>\w+) \(limit"),
        "limits.{limited}",
        "raise `limits.{limited}` in a match config, " + _REFRESH + "; or, when the "
        "{limited} values are one person, join them with an alias call or `idgraph link A B`",
    ),
    (
        re.compile(r"(?:joins records with \d+ different|records disagree on) (?P<name>\w+)"),
        "strong_attributes",
        "correct the records' {name}, or take {name} out of `strong_attributes` in a match "
        "config, " + _REFRESH,
    ),
    (
        re.compile(r"(?P<id_kind>\w+) is not a linking identifier"),
        "identifiers[kind={id_kind}].link",
        "list {id_kind} under `identifiers:` with `link: true` in a match config, " + _REFRESH,
    ),
    (
        re.compile(r"max_block_size"),
        "max_block_size",
        "raise `max_block_size` in a match config, or block the fuzzy rule on a rarer key "
        "(`fuzzy[].block_on`), " + _REFRESH,
    ),
    (
        re.compile(r"reviewer split"),
        "idgraph split",
        "a reviewer's decision (`idgraph split`); `idgraph unsplit` removes it",
    ),
    (
        re.compile(r"erased at the person's request"),
        "idgraph forget",
        "erased with `idgraph forget`; it cannot be restored",
    ),
)


#: History entries that record two ids parting, whose detail is the reason.
_PARTED = frozenset({"split_off", "split_from", "moved_out"})


def _shared_identifiers(
    held_a: list[IdentifierView], held_b: list[IdentifierView]
) -> tuple[list[Refusal], list[tuple[str, list[str]]]]:
    """Identifiers on both customers' records: refusals for those that link nobody (with the
    reason stored with them, as `profile` shows it), and the `kind:value` and holders of those
    that link."""
    by_key = {(i.kind, i.value): i for i in held_a}
    refusals, linking = [], []
    for other in held_b:
        one = by_key.get((other.kind, other.value))
        if one is None:
            continue
        name, records = f"{one.kind}:{one.value}", sorted({*one.records, *other.records})
        if one.linking:
            linking.append((name, records))
        else:
            reason = one.reason or "does not link"
            refusals.append(_refusal("identifier", reason, identifier=name, records=records))
    return refusals, linking


def _refusal(
    kind: Literal["identifier", "guard", "block", "override", "history"],
    reason: str,
    *,
    identifier: str | None = None,
    records: list[str] | None = None,
) -> Refusal:
    """A refusal with the setting its reason names, and how to change it."""
    id_kind = identifier.partition(":")[0] if identifier else ""
    setting, change = None, ""
    for pattern, key, how in _SETTINGS:
        found = pattern.search(reason)
        if found:
            names = {"kind": id_kind, **{k: v for k, v in found.groupdict().items() if v}}
            setting, change = key.format(**names), how.format(**names)
            break
    return Refusal(
        kind=kind,
        reason=reason,
        identifier=identifier,
        records=records or [],
        setting=setting,
        change=change,
    )


def _guard_conflicts(
    config: MatchConfig,
    records_a: list[RecordView],
    records_b: list[RecordView],
    held_a: Collection[IdentifierView],
    held_b: Collection[IdentifierView],
) -> list[str]:
    """Why the guards refuse joining two customers, worded as `cluster.components` words it.

    Limits count distinct values (aliased user ids count once there, so this may overcount
    when a customer holds several aliased values); strong attributes compare value sets.
    """
    found = []
    for kind, limit in config.limits.items():
        left = {i.value for i in held_a if i.kind == kind}
        right = {i.value for i in held_b if i.kind == kind}
        if left and right and len(left | right) > limit:
            found.append(
                f"would give one customer {len(left | right)} distinct {kind} (limit {limit})"
            )
    for name in config.strong_attributes:
        left = {r.fields[name] for r in records_a if r.fields.get(name)}
        right = {r.fields[name] for r in records_b if r.fields.get(name)}
        if not values_compatible(name, left, right):
            found.append(f"records disagree on {name}")
    return found


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
