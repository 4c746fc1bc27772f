"""The one place that knows the order: read -> normalize -> block -> match -> cluster -> store.

`run_ingest` is what `idgraph ingest` calls; services and tests call it directly.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from idgraph.block.keys import record_blocks
from idgraph.cluster.components import BlockedLink, Clustering, cluster
from idgraph.cluster.customers import build_customers
from idgraph.cluster.diff import ResolutionChanges, resolution_changes
from idgraph.cluster.ids import new_customer_id
from idgraph.cluster.lineage import lineage
from idgraph.cluster.split import ComponentSplit, split_oversized
from idgraph.errors import ConfigError, NotFoundError
from idgraph.ingest.batch import SourceBatch, check_inputs, read_checked
from idgraph.ingest.mapping import SourceMapping
from idgraph.ingest.rejects import RejectsWriter
from idgraph.match.config import MatchConfig, load_match_config
from idgraph.match.decide import collect_evidence
from idgraph.match.view import match_fields
from idgraph.models import EXPLICIT_LINK_RULES, Event, Link, MatchEvidence, Record, identifier_key
from idgraph.normalize.record import NormalizeOptions
from idgraph.scope import Scope, find_scope
from idgraph.segment.refresh import memberships_of, refresh_segments
from idgraph.segment.saved import SegmentChange
from idgraph.settings import open_store
from idgraph.store.base import GraphStore
from idgraph.store.plan import IdentifierRow, StoreState, WritePlan
from idgraph.store.queries import READS, SCOPED_STATE_READS
from idgraph.store.rows import record_row
from idgraph.store.schema import NODE_TABLES, ColumnType, check_property_name
from idgraph.traits.compute import compute_traits, events_frame, rfm_scores, rfm_text
from idgraph.traits.config import TraitsConfig, load_traits_config

logger = logging.getLogger(__name__)

#: Called with (stage, done, total) as work advances; the CLI draws it as a progress bar.
Progress = Callable[[str, int, int], None]


class Overrides(BaseModel):
    """A reviewer's decisions, kept in the store and obeyed by every later run.

    `must_link` pairs become `MATCHED {rule: must_link}` links, which join like an alias;
    `cannot_link` pairs become `CANNOT_LINK` edges, which nothing may join across, not even an
    alias or a must-link.
    """

    model_config = ConfigDict(frozen=True)

    must_link: list[tuple[str, str]] = []
    cannot_link: list[tuple[str, str]] = []
    reason: str = ""


class FileReport(BaseModel):
    """Per input file: read = ingested + rejected, always."""

    model_config = ConfigDict(frozen=True)

    path: str
    source: str
    read: int
    ingested: int
    rejected: int


class IngestReport(BaseModel):
    """What one ingest did, for the summary table and for callers."""

    files: list[FileReport]
    rejects_path: str | None
    records_new: int
    records_updated: int
    records_unchanged: int
    events_new: int
    events_duplicate: int
    records_total: int
    customers: int
    identifiers_not_linking: dict[str, int]
    links_blocked: int
    pairs_compared: int
    cluster_sizes: dict[int, int]
    largest_clusters: list[tuple[str, int]]
    flagged_customers: int
    #: Oversized components split by dropping their weakest links: records, part sizes, reason.
    components_split: list[dict[str, object]] = []
    #: "incremental": only the customers the batch touches were re-resolved; "full": all.
    mode: str = "full"
    records_erased: int = 0
    #: Records re-resolved (the batch and the stored records it may touch).
    records_resolved: int = 0
    #: Customers written by this run (all of them on a full run).
    customers_touched: int = 0
    #: (absorbed id, surviving id) for customers merged; (new id, origin id) for parts split off.
    merged_ids: list[tuple[str, str]] = []
    split_ids: list[tuple[str, str]] = []
    #: Customer ids left without records by an erasure.
    erased_ids: list[str] = []
    #: Per materialised segment, customers that entered / exited and why, e.g.
    #: {"vip": {"entered (merge)": 1}}; each change is stored as a `SegmentChange`.
    segment_changes: dict[str, dict[str, int]] = {}
    seconds: float
    #: True when nothing was written (`dry_run=True`); `changes` then says what would change.
    dry_run: bool = False
    changes: ResolutionChanges | None = None

    @property
    def read(self) -> int:
        return sum(f.read for f in self.files)

    @property
    def ingested(self) -> int:
        return sum(f.ingested for f in self.files)

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)


def run_ingest(
    paths: Sequence[Path | str],
    *,
    store: str | Path | None = None,
    database: str | None = None,
    match_config: MatchConfig | Path | str | None = None,
    options: NormalizeOptions | None = None,
    mappings: Mapping[Path, SourceMapping] | None = None,
    rejects_path: Path | str = "idgraph-rejects.jsonl",
    progress: Progress | None = None,
    traits: TraitsConfig | Path | str | None = None,
    as_of_ms: int | None = None,
    dry_run: bool = False,
    overrides: Overrides | None = None,
    full: bool = False,
) -> IngestReport:
    """Ingest files into the store and resolve customers, all in one transaction.

    Only the stored customers the new records may touch are re-resolved (found through the
    identifiers and blocking keys kept in the store), so the cost grows with the batch, not
    the store; `full=True` re-resolves everything, as after changing the match config.

    Args:
        paths: CSV tables (with a mapping beside them) and JSONL event streams.
        store: store path or URL; default `$IDGRAPH_STORE` or `./idgraph.db`.
        database: Neo4j database name (Neo4j stores only); default the server's.
        match_config: a `MatchConfig`, a path to one, or None for the shipped default.
        options: normalization options (default phone region, date order, junk lists).
        mappings: explicit CSV mappings by path, overriding `X.mapping.yaml` sidecars.
        rejects_path: where rejected lines go (JSONL); written only when something is rejected.
        progress: optional callback `(stage, done, total)`.
        traits: the computed traits to store on every customer: a `TraitsConfig`, a path to
            one, or None for the shipped default (docs/traits.md).
        as_of_ms: the instant trait windows and day counts are measured from (epoch ms);
            default now.
        overrides: must-link / cannot-link decisions to store and apply (with no files, this
            re-resolves the stored records under them; `idgraph link` and `idgraph split`).
        full: re-resolve every stored record, not just those the batch may touch.
        dry_run: resolve everything but write nothing to the store; the report's `changes`
            lists the customers that would merge or split, and why (e.g. before applying a
            changed match config, with no input files).

    Returns:
        The report: per-file counts that reconcile, what changed, the cluster-size distribution.

    Raises:
        InputError: an input file cannot be read at all; nothing was written.
        ConfigError: a mapping, the match config or the traits config is invalid.
        StoreError: the store failed; the store is as it was before this call.
    """
    started = time.perf_counter()
    step = progress or (lambda _stage, _done, _total: None)
    config = (
        match_config if isinstance(match_config, MatchConfig) else load_match_config(match_config)
    )
    trait_config = traits if isinstance(traits, TraitsConfig) else load_traits_config(traits)
    options = options or NormalizeOptions()
    files = [Path(p) for p in paths]
    checked = check_inputs(files, mappings=mappings)  # before the store is even created
    with open_store(store, database=database, read_only=dry_run) as graph:
        # Lines carrying an identifier someone had erased are refused while reading.
        options = options.model_copy(update={"erased": erased_hashes(graph)})
        step("read", 0, len(files))
        if Path(rejects_path).is_file():  # a stale file would blame this run; never unlink a device
            Path(rejects_path).unlink()
        with RejectsWriter(Path(rejects_path)) as rejects:
            batches = read_checked(checked, options=options, rejects=rejects)
            wrote_rejects = rejects.total > 0
        step("read", len(files), len(files))
        report = ingest_batches(
            graph,
            batches,
            match_config=config,
            traits=trait_config,
            as_of_ms=as_of_ms,
            dry_run=dry_run,
            overrides=overrides,
            progress=step,
            full=full,
        )
    return report.model_copy(
        update={
            "rejects_path": str(rejects_path) if wrote_rejects else None,
            "seconds": round(time.perf_counter() - started, 3),
        }
    )


def ingest_batches(
    graph: GraphStore,
    batches: Sequence[SourceBatch],
    *,
    match_config: MatchConfig | None = None,
    traits: TraitsConfig | None = None,
    as_of_ms: int | None = None,
    dry_run: bool = False,
    overrides: Overrides | None = None,
    progress: Progress | None = None,
    full: bool = False,
    erase: Collection[str] = (),
    remember: Sequence[tuple[str, str, int]] = (),
    summary: bool = True,
) -> IngestReport:
    """Resolve already-read batches into an open store, in one transaction.

    This is `run_ingest` without the files: the HTTP service parses calls into batches and
    calls it with the store it keeps open. Arguments are as for `run_ingest`; `None` configs
    mean the shipped defaults.

    Args:
        full: re-resolve every stored record, not just those the batch may touch (after a
            match-config change); dry runs and probabilistic matching always do.
        erase: keys of records to delete with their events (`idgraph forget`); the customers
            they belonged to are re-resolved and may split.
        remember: erased identifiers to refuse from now on, as (hash, kind, epoch ms),
            written in the same transaction as the erasure.
        summary: count customers and cluster sizes over the whole store for the report
            (one scan of the customers); without it they cover the touched customers only.
    """
    started = time.perf_counter()
    step = progress or (lambda _stage, _done, _total: None)
    config = match_config or load_match_config(None)
    trait_config = traits or load_traits_config(None)
    as_of = int(time.time() * 1000) if as_of_ms is None else as_of_ms
    overrides = overrides or Overrides()
    batch = _gather(batches)
    full = (
        full
        or dry_run
        or config.probabilistic is not None
        or _needs_full(graph, len(batch.records))
    )
    step("resolve", 0, 1)
    scope = None
    if full:
        state = graph.load_state()
    else:
        scope, state = _load_scope(graph, batch, overrides, config, set(erase))
    plan, stats = _plan(
        graph, state, batch, config, trait_config, as_of, overrides, scope, set(erase)
    )
    plan.erased_hashes = list(remember)
    step("resolve", 1, 1)
    changes = None
    moved: list[SegmentChange] = []
    if dry_run:
        changes = resolution_changes(
            state.assignment, plan.memberships, stats.accepted, stats.blocked_links
        )
    else:
        step("write", 0, 1)
        before = memberships_of(graph, plan.retired_customers)
        graph.apply(plan)
        moved = refresh_segments(
            graph,
            before=before,
            touched=[row["id"] for row in plan.customers],
            causes=_causes(plan, erase),
            as_of_ms=as_of,
            now_ms=int(time.time() * 1000),
        )
        step("write", 1, 1)
    sizes: dict[int, int] = dict(Counter(stats.sizes))
    largest = sorted(
        ((row["id"], row["record_count"]) for row in plan.customers),
        key=lambda item: (-item[1], item[0]),
    )[:5]
    customers, records_total = len(plan.customers), stats.records_total
    if summary and not plan.full and not dry_run:
        customers = _count(graph, "count_customers")
        records_total = _count(graph, "count_records")
        sizes = {
            int(row["size"]): int(row["n"])
            for row in graph.query("cluster_sizes", READS["cluster_sizes"])
        }
        largest = [
            (row["id"], int(row["size"]))
            for row in graph.query("largest_customers", READS["largest_customers"], {"limit": 5})
        ]
    return IngestReport(
        files=[
            FileReport(
                path=str(b.counts.path),
                source=b.counts.source,
                read=b.counts.read,
                ingested=b.counts.ingested,
                rejected=b.counts.rejected,
            )
            for b in batches
        ],
        rejects_path=None,
        mode="full" if plan.full else "incremental",
        records_new=len(plan.new_records),
        records_updated=len(plan.changed_records),
        records_unchanged=stats.unchanged,
        records_erased=len(plan.erased_records),
        records_resolved=stats.records_total,
        events_new=len(plan.new_events),
        events_duplicate=stats.events_duplicate,
        records_total=records_total,
        customers=customers,
        customers_touched=len(plan.customers),
        identifiers_not_linking=stats.not_linking,
        links_blocked=stats.blocked,
        pairs_compared=stats.pairs,
        cluster_sizes=dict(sorted(sizes.items())),
        largest_clusters=largest,
        flagged_customers=sum(1 for row in plan.customers if row["flagged"]),
        components_split=[
            {"records": sp.records, "parts": sp.parts, "reason": sp.reason} for sp in stats.splits
        ],
        merged_ids=[(old, new) for old, new, *_ in plan.ids.merged],
        split_ids=[(new, old) for new, old, *_ in plan.ids.split],
        erased_ids=[cid for cid, _ in plan.ids.erased],
        segment_changes=_count_changes(moved),
        seconds=round(time.perf_counter() - started, 3),
        dry_run=dry_run,
        changes=changes,
    )


def _causes(plan: WritePlan, erase: Collection[str]) -> dict[str, str]:
    """Why each written (or vanished) customer changed, strongest reason first."""
    causes: dict[str, str] = {}
    for cid, _ in plan.ids.erased:
        causes[cid] = "erasure"
    if erase:
        for row in plan.customers:
            causes.setdefault(row["id"], "erasure")
    for new, old, *_ in plan.ids.split:
        causes.setdefault(new, "split")
        causes.setdefault(old, "split")
    for old, new, *_ in plan.ids.merged:
        causes.setdefault(old, "merge")
        causes.setdefault(new, "merge")
    owner = {record: customer for customer, record in plan.memberships}
    for event in plan.new_events:
        if event.record_key in owner:
            causes.setdefault(owner[event.record_key], "new event")
    for record in plan.new_records:
        if record.key in owner:
            causes.setdefault(owner[record.key], "new record")
    return causes


def _count_changes(changes: Sequence[SegmentChange]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for change in changes:
        per = counts.setdefault(change.segment, {})
        key = f"{change.change} ({change.cause})"
        per[key] = per.get(key, 0) + 1
    return counts


def erased_hashes(graph: GraphStore) -> frozenset[str]:
    """Hashes of every identifier erased at a person's request (`idgraph forget`)."""
    return frozenset(row["hash"] for row in graph.query("erased_hashes", READS["erased_hashes"]))


def _needs_full(graph: GraphStore, incoming: int) -> bool:
    """Whether to re-resolve everything rather than find a scope.

    A store written before blocks and the id registry existed is re-resolved whole once; an
    empty store, or a batch larger than the store, has nothing to gain from a scope.
    """
    stored = _count(graph, "count_records")
    if stored == 0 or incoming > stored:
        return True
    rows = graph.query("count_customer_ids", READS["count_customer_ids"])
    return not rows[0]["n"]


def _count(graph: GraphStore, name: str) -> int:
    rows = graph.query(name, READS[name])
    return int(rows[0]["n"]) if rows else 0


@dataclass(slots=True)
class _Batch:
    """The records, events and links of all files of one run, each once."""

    records: dict[str, Record]
    events: dict[str, Event]
    links: list[Link]


def _gather(batches: Sequence[SourceBatch]) -> _Batch:
    records: dict[str, Record] = {}
    events: dict[str, Event] = {}
    links: list[Link] = []
    for batch in batches:
        for key, record in batch.records.items():
            if key in records:
                records[key].merge_newer(record)
            else:
                records[key] = record
        for event in batch.events:
            events.setdefault(event.id, event)
        links.extend(batch.links)
    return _Batch(records, events, links)


def _load_scope(
    graph: GraphStore,
    batch: _Batch,
    overrides: Overrides,
    config: MatchConfig,
    erase: set[str],
) -> tuple[Scope, StoreState]:
    """Find the stored records this run may touch, and load the state of those only."""
    forced = {k for pair in [*overrides.must_link, *overrides.cannot_link] for k in pair}
    linked = {k for link in batch.links for k in (link.a, link.b)}
    before = {r.key: r for r in graph.load_records(set(batch.records) | erase | forced | linked)}
    known = {
        (row["a"], row["b"], row["rule"])
        for row in graph.keyed_read(
            "state_links",
            SCOPED_STATE_READS["state_links"],
            "keys",
            linked,
            {"rules": sorted(EXPLICIT_LINK_RULES)},
        )
    }
    forced.update(
        k for lk in batch.links if (lk.a, lk.b, lk.rule) not in known for k in (lk.a, lk.b)
    )
    named = set(batch.records) | erase | forced
    stored_events = graph.existing_event_ids(sorted(batch.events))
    active = {e.record_key for eid, e in batch.events.items() if eid not in stored_events}
    seeds: dict[str, Record] = {}
    for key in sorted(named - erase):
        old, new = before.get(key), batch.records.get(key)
        if new is None:
            if old is not None:
                seeds[key] = old
            continue
        if old is None:
            seeds[key] = new
            continue
        merged = old.copy()
        merged.merge_newer(new)
        unchanged = record_row(merged) == record_row(old) and merged.identifiers == old.identifiers
        if not unchanged or key in active or key in forced:
            seeds[key] = merged  # an unchanged record with no new event changes nothing
    stored = {k: before[k] for k in seeds if k in before}
    untouched = {k for k in batch.records if k in before and k not in seeds}
    gone = [before[k] for k in sorted(erase) if k in before]
    scope = find_scope(graph, seeds, stored, config, gone=gone)
    scope.untouched = untouched - scope.keys
    state = graph.load_state(scope.keys | {r.key for r in gone})
    for key, row in scope.settled.items():
        state.identifiers.setdefault(key, row)  # stored, though no holder was loaded
    return scope, state


@dataclass(slots=True)
class _PlanStats:
    unchanged: int
    events_duplicate: int
    records_total: int
    not_linking: dict[str, int]
    blocked: int
    pairs: int
    sizes: list[int]
    accepted: list[MatchEvidence]
    blocked_links: list[BlockedLink]
    splits: list[ComponentSplit]


def _plan(
    graph: GraphStore,
    state: StoreState,
    batch: _Batch,
    config: MatchConfig,
    traits: TraitsConfig,
    as_of_ms: int,
    overrides: Overrides,
    scope: Scope | None,
    erase: set[str],
) -> tuple[WritePlan, _PlanStats]:
    now_ms = int(time.time() * 1000)
    plan = WritePlan(full=scope is None)
    plan.erased_records = sorted(k for k in erase if k in state.records)
    gone = [state.records[k] for k in plan.erased_records]
    plan.erased_identifiers = sorted(
        {identifier_key(kind, value) for r in gone for kind, value in r.identifiers}
    )
    plan.erased_blocks = sorted(
        {b for r in gone for b in record_blocks(match_fields(r), config.fuzzy)}
    )
    records: dict[str, Record] = {k: r for k, r in state.records.items() if k not in erase}
    unchanged = 0
    for key, record in batch.records.items():
        if scope is not None and key in scope.untouched:
            unchanged += 1  # stored, unchanged, no new event: outside the scope on purpose
            continue
        old = state.records.get(key)
        if old is None:
            records[key] = record
            plan.new_records.append(record)
            continue
        merged = old.copy()
        merged.merge_newer(record)
        records[key] = merged
        if record_row(merged) != record_row(old) or merged.identifiers != old.identifiers:
            plan.changed_records.append(merged)
        else:
            unchanged += 1
    links = list(batch.links)
    apart = _apply_overrides(records, state, overrides, links, plan, now_ms)
    existing_events = graph.existing_event_ids(sorted(batch.events))
    plan.new_events = [e for eid, e in sorted(batch.events.items()) if eid not in existing_events]
    known_links = {(lk.a, lk.b, lk.rule) for lk in state.links}
    for link in links:
        if (link.a, link.b, link.rule) not in known_links and link.a != link.b:
            known_links.add((link.a, link.b, link.rule))
            plan.new_links.append(link)
    all_links = [
        lk for lk in [*state.links, *plan.new_links] if lk.a in records and lk.b in records
    ]

    ordered = [records[k] for k in sorted(records)]
    views = [match_fields(r) for r in ordered]
    settled = None
    if scope is not None:
        settled = {
            key: (row.linking, row.reason)
            for key, row in state.identifiers.items()
            if key not in scope.recompute
        }
    evidence = collect_evidence(
        ordered,
        views,
        all_links,
        config,
        settled=settled,
        block_sizes=scope.block_sizes if scope is not None else None,
    )
    clustering = cluster(ordered, evidence.edges, all_links, config, apart=apart)
    splits = (
        split_oversized(ordered, clustering, limit=config.flag_component_records)
        if config.split_oversized
        else []
    )

    for key, verdict in evidence.identifiers.items():
        row = IdentifierRow(key, verdict.kind, verdict.value, verdict.linking, verdict.reason)
        old_row = state.identifiers.get(key)
        if old_row is None:
            plan.new_identifiers.append(row)
        elif (old_row.linking, old_row.reason) != (row.linking, row.reason):
            plan.changed_identifiers.append(row)
    for record in [*plan.new_records, *plan.changed_records]:
        stored = state.records.get(record.key)
        before = stored.identifiers if stored is not None else set()
        for kind, value in sorted(record.identifiers - before):
            plan.new_record_identifiers.append((record.key, identifier_key(kind, value)))
    _plan_blocks(plan, scope, ordered, views, config)

    span = dict(state.record_event_span)
    for event in plan.new_events:
        first, last = span.get(event.record_key, (event.ts, event.ts))
        span[event.record_key] = (min(first, event.ts), max(last, event.ts))
    previous = {k: c for k, c in state.assignment.items() if k not in erase}
    components = clustering.components()
    registry = _registry(graph, state.assignment.values(), ordered, components)
    customers = build_customers(
        ordered,
        components,
        previous=previous,
        event_span=span,
        config=config,
        now_ms=now_ms,
        created={cid: ts for cid, (ts, _) in registry.items()},
        taken=set(registry),
    )
    plan.customers = customers.rows
    plan.memberships = customers.memberships
    plan.retired_customers = sorted(set(state.assignment.values()))
    plan.scope_records = sorted(records)
    _plan_ids(plan, registry, state.assignment, clustering, overrides, erase, now_ms)
    _flag_split_parts(plan, splits)
    _add_traits(graph, plan, state, traits, as_of_ms)
    # Shared identifiers are evidence as Identifier nodes, explicit links are stored once as
    # they arrive; what is left is the computed fuzzy evidence, rewritten every run.
    plan.evidence = [
        e
        for e in clustering.accepted
        if not e.rule.startswith("same_") and e.rule not in EXPLICIT_LINK_RULES
    ]
    plan.customer_columns = _customer_columns(
        [r.traits for r in ordered], plan.customers, traits, state.customer_columns
    )
    plan.event_columns = _new_columns(
        "Event", [e.properties for e in plan.new_events], state.event_columns
    )
    not_linking = Counter(v.kind for v in evidence.identifiers.values() if not v.linking)
    stats = _PlanStats(
        unchanged=unchanged,
        events_duplicate=len(batch.events) - len(plan.new_events),
        records_total=len(ordered),
        not_linking=dict(sorted(not_linking.items())),
        blocked=len(clustering.blocked),
        pairs=evidence.pairs_compared,
        sizes=customers.sizes,
        accepted=clustering.accepted,
        blocked_links=clustering.blocked,
        splits=splits,
    )
    return plan, stats


def _plan_blocks(
    plan: WritePlan,
    scope: Scope | None,
    ordered: Sequence[Record],
    views: Sequence[Mapping[str, str]],
    config: MatchConfig,
) -> None:
    """Block edges to write: the scope's changes, or every record's on a full run."""
    if scope is not None:
        plan.new_blocks = sorted(scope.new_blocks)
        plan.add_blocks = sorted(scope.add_blocks)
        plan.drop_blocks = sorted(scope.drop_blocks)
        return
    for record, view in zip(ordered, views, strict=True):
        plan.add_blocks.extend((record.key, b) for b in sorted(record_blocks(view, config.fuzzy)))
    plan.new_blocks = sorted({b for _, b in plan.add_blocks})


def _registry(
    graph: GraphStore,
    previous_ids: Iterable[str],
    ordered: Sequence[Record],
    components: Sequence[Sequence[int]],
) -> dict[str, tuple[int, str]]:
    """Registry entries (created_ts, status) of the previous ids and of the ids new
    components would be given, so an id is never issued twice."""
    bases = {new_customer_id([ordered[i].key for i in c]) for c in components}
    found = _registry_rows(graph, set(previous_ids) | bases)
    taken = [base for base in bases if base in found]
    # An id is never issued twice: a reissue gets a suffix (`assign_ids`); know those too.
    found.update(_registry_rows(graph, {f"{b}-{n}" for b in taken for n in range(2, 10)}))
    return found


def _registry_rows(graph: GraphStore, ids: Collection[str]) -> dict[str, tuple[int, str]]:
    return {
        row["id"]: (int(row["created_ts"] or 0), row["status"] or "active")
        for row in graph.scope_rows("scope_customer_ids", ids, param="ids")
    }


def _plan_ids(
    plan: WritePlan,
    registry: Mapping[str, tuple[int, str]],
    before: Mapping[str, str],
    clustering: Clustering,
    overrides: Overrides,
    erase: set[str],
    now_ms: int,
) -> None:
    """Record what happened to customer ids: issued, absorbed, split off, erased."""
    reason = ""
    if erase:
        reason = "records erased (idgraph forget)"
    elif overrides.cannot_link:
        reason = f"split by a reviewer: {overrides.reason or 'no reason given'}"
    kept = {k: c for k, c in before.items() if k not in erase}
    changes = lineage(
        kept, plan.memberships, clustering.accepted, clustering.blocked, split_reason=reason
    )
    alive = {row["id"] for row in plan.customers}
    absorbed = {a.old for a in changes.absorbed}
    for customer_id in sorted(alive | set(before.values())):
        if customer_id not in registry:
            plan.ids.created.append((customer_id, now_ms if customer_id in alive else 0))
    plan.ids.merged = [(a.old, a.survivor, now_ms, a.evidence, a.records) for a in changes.absorbed]
    plan.ids.split = [(s.new, s.origin, now_ms, s.reason, s.records) for s in changes.split_off]
    plan.ids.erased = [(cid, now_ms) for cid in sorted(set(before.values()) - alive - absorbed)]


def _add_traits(
    graph: GraphStore,
    plan: WritePlan,
    state: StoreState,
    traits: TraitsConfig,
    as_of_ms: int,
) -> None:
    """Compute every trait of the written customers; computed values beat source traits."""
    owner = {record: customer for customer, record in plan.memberships}
    stored = ((owner.get(e.record), e.name, e.ts, e.properties) for e in state.events)
    new = ((owner.get(e.record_key), e.name, e.ts, e.properties) for e in plan.new_events)
    computed = compute_traits(
        traits,
        events_frame([*stored, *new]),
        customers=[row["id"] for row in plan.customers],
        birth_dates=[row.get("birth_date") for row in plan.customers],
        as_of_ms=as_of_ms,
    )
    for row in plan.customers:
        row.update(computed[row["id"]])
    if not plan.full and traits.builtins.rfm is not None:
        _rescore_rfm(graph, plan, state)


#: The RFM measures and scores of every stored buyer (`_rescore_rfm`).
_RFM_POPULATION = (
    "MATCH (c:Customer) WHERE c.rfm_orders > 0 RETURN c.id AS id, "
    "c.rfm_last_order_ts AS last, c.rfm_orders AS orders, c.rfm_spent AS spent, "
    "c.rfm_score AS score"
)


def _rescore_rfm(graph: GraphStore, plan: WritePlan, state: StoreState) -> None:
    """Score the written buyers against every buyer, and rescore stored ones that moved.

    RFM scores are quintiles over all buyers, so they cannot be computed for the touched
    customers alone: the stored measures of the others are read (one scan of the buyers)
    and every score a full run would change is changed.
    """
    written = {row["id"]: row for row in plan.customers}
    retired = set(plan.retired_customers)
    others = []
    if "rfm_orders" in state.customer_columns:
        others = [
            row
            for row in graph.query("rfm_population", _RFM_POPULATION)
            if row["id"] not in written and row["id"] not in retired
        ]
    buyers = [row for row in plan.customers if (row.get("rfm_orders") or 0) > 0]
    ids = [row["id"] for row in buyers] + [row["id"] for row in others]
    last = [row["rfm_last_order_ts"] for row in buyers] + [row["last"] for row in others]
    orders = [row["rfm_orders"] for row in buyers] + [row["orders"] for row in others]
    spent = [row["rfm_spent"] for row in buyers] + [row["spent"] or 0.0 for row in others]
    recency, frequency, monetary = rfm_scores(last, orders, spent)
    text = rfm_text(recency, frequency, monetary)
    for position, customer_id in enumerate(ids):
        scores = {
            "rfm_recency": int(recency[position]),
            "rfm_frequency": int(frequency[position]),
            "rfm_monetary": int(monetary[position]),
            "rfm_score": text[position],
        }
        if customer_id in written:
            written[customer_id].update(scores)
        elif others[position - len(buyers)]["score"] != scores["rfm_score"]:
            plan.trait_updates.append({"id": customer_id, **scores})


def _customer_columns(
    record_traits: Sequence[Mapping[str, object]],
    customers: Sequence[Mapping[str, object]],
    traits: TraitsConfig,
    existing: Mapping[str, ColumnType],
) -> dict[str, ColumnType]:
    """Columns for source traits and computed traits; a computed trait's type wins."""
    declared = traits.columns()
    columns = {
        name: kind
        for name, kind in _new_columns("Customer", record_traits, existing).items()
        if name not in declared
    }
    undeclared = [name for name, kind in declared.items() if kind is None]
    columns.update(
        _new_columns(
            "Customer", [{n: row.get(n) for n in undeclared} for row in customers], existing
        )
    )
    columns.update({name: kind for name, kind in declared.items() if kind and name not in existing})
    return dict(sorted(columns.items()))


def _apply_overrides(
    records: Mapping[str, Record],
    state: StoreState,
    overrides: Overrides,
    links: list[Link],
    plan: WritePlan,
    now_ms: int,
) -> list[tuple[str, str]]:
    """Validate the overrides, queue the new ones, and return every cannot-link pair."""
    for a, b in [*overrides.must_link, *overrides.cannot_link]:
        for key in (a, b):
            if key not in records:
                raise NotFoundError(f"no record with key {key!r}")
        if a == b:
            raise ConfigError(f"an override needs two different records, got {a!r} twice")
    apart = {tuple(sorted(pair)) for pair in state.apart}
    for a, b in overrides.must_link:
        if tuple(sorted((a, b))) in apart:
            raise ConfigError(
                f"records {a} and {b} were split apart by a reviewer; a must-link cannot "
                "override that (removing a split is not supported yet)"
            )
        links.append(Link(a, b, "must_link"))
    for a, b in overrides.cannot_link:
        pair = tuple(sorted((a, b)))
        if pair not in apart:
            apart.add(pair)
            plan.new_apart.append(
                (pair[0], pair[1], overrides.reason or "split by a reviewer", now_ms)
            )
    return sorted((a, b) for a, b in apart)


def _flag_split_parts(plan: WritePlan, splits: Sequence[ComponentSplit]) -> None:
    """Customers cut out of an oversized component go to review, with the reason."""
    reason_of = {key: split.reason for split in splits for key in split.record_keys}
    if not reason_of:
        return
    customer_reason = {
        customer: reason_of[record] for customer, record in plan.memberships if record in reason_of
    }
    for row in plan.customers:
        if row["id"] in customer_reason:
            row["flagged"] = True
            row["flag_reason"] = f"split: {customer_reason[row['id']]}"


def _column_type(value: object) -> ColumnType | None:
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int | float):
        return "DOUBLE"
    if isinstance(value, str):
        return "STRING"
    return None


def _new_columns(
    label: str, values: Sequence[Mapping[str, object]], existing: Mapping[str, ColumnType]
) -> dict[str, ColumnType]:
    """Columns to add for traits / event properties: typed by their values, names allowlisted."""
    seen: dict[str, set[ColumnType]] = {}
    for mapping in values:
        for name, value in mapping.items():
            kind = _column_type(value)
            if kind is not None and name not in existing:
                seen.setdefault(name, set()).add(kind)
    added: dict[str, ColumnType] = {}
    for name, kinds in sorted(seen.items()):
        if name in NODE_TABLES[label]:
            continue
        try:
            check_property_name(name)
        except ConfigError:
            logger.warning("%s %r kept in JSON only: not a valid property name", label, name)
            continue
        added[name] = next(iter(kinds)) if len(kinds) == 1 else "STRING"
    return added
