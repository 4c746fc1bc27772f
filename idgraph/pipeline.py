"""The one place that knows the order: read -> normalize -> block -> match -> cluster -> store.

`run_ingest` is what `idgraph ingest` calls; services and tests call it directly.
"""

from __future__ import annotations

import copy
import logging
import time
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import polars as pl
from pydantic import BaseModel, ConfigDict

from idgraph import rehearsed
from idgraph.cluster.diff import ResolutionChanges, resolution_changes
from idgraph.ingest.batch import InputPlan, SourceBatch, check_inputs, read_checked
from idgraph.ingest.mapping import SourceMapping
from idgraph.ingest.rejects import RejectsWriter
from idgraph.match.config import MatchConfig, load_match_config
from idgraph.memory import give_back
from idgraph.normalize.fold import fold
from idgraph.normalize.record import NormalizeOptions
from idgraph.resolve import Overrides, plan_changes
from idgraph.run_record import LineTotals, make_run_record
from idgraph.segment.refresh import memberships_of, refresh_segments, segment_moves
from idgraph.segment.saved import SegmentChange
from idgraph.settings import open_store
from idgraph.stages import (
    Progress,
    StageTimer,
    StageTiming,
    deduplicated,
    memory_mb,
    no_gc,
)
from idgraph.state.batch_scope import load_scope, needs_full, stored_records
from idgraph.state.events import EventReads, stored_event_ids
from idgraph.state.mirror import Mirror, new_version
from idgraph.state.model import stored_model
from idgraph.state.rebuild import open_mirror
from idgraph.state.snapshot import take_snapshot
from idgraph.store.base import GraphStore, RehearsalUnsupported
from idgraph.store.plan import WritePlan, plan_rows
from idgraph.store.queries import READS
from idgraph.traits.config import TraitsConfig, load_traits_config

logger = logging.getLogger(__name__)

__all__ = [
    "FileReport",
    "IngestReport",
    "Overrides",
    "Progress",
    "count_segment_changes",
    "erased_hashes",
    "ingest_batches",
    "run_ingest",
    "write_plan",
]


class FileReport(BaseModel):
    """Per input file: read = ingested + rejected lines, always; `field_rejects` counts the
    values dropped from ingested lines (each a `field` reject in the rejects file)."""

    model_config = ConfigDict(frozen=True)

    path: str
    source: str
    read: int
    ingested: int
    rejected: int
    field_rejects: int = 0
    #: Why the file had no line to read ("empty file (0 bytes)", "binary file (gzip data)...").
    note: str | None = None
    #: True when the file was refused whole (binary); the other files were still ingested.
    refused: bool = False


class IngestReport(LineTotals, BaseModel):
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
    #: Pairs kept apart before clustering: "households" (holders of a shared identifier with
    #: different first names), "must_agree" (scored pairs a must-agree field stopped).
    pairs_kept_apart: dict[str, int] = {}
    #: Guards the store's model lifted: its records show no households
    #: (`scoring.lift_without_households`), so a `must_agree` field's disagreement stops no
    #: link and a strong attribute keeps no records apart (`["first_name", "birth_date"]`).
    guards_lifted: list[str] = []
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
    #: (origin id, target id, records) for records that left one surviving customer for another.
    moved_records: list[tuple[str, str, int]] = []
    #: Customer ids left without records by an erasure.
    erased_ids: list[str] = []
    #: Per materialised segment, customers that entered / exited and why, e.g.
    #: {"vip": {"entered (merge)": 1}}; each change is stored as a `SegmentChange`.
    segment_changes: dict[str, dict[str, int]] = {}
    seconds: float
    #: True when nothing was written (`dry_run=True`); `changes` then says what would change.
    dry_run: bool = False
    changes: ResolutionChanges | None = None
    #: A rehearsed dry run (`rehearse=True`): per materialised segment, the customers that
    #: would enter and exit, {"vip": {"entered": [...], "exited": [...]}}; None when not
    #: rehearsed or the store cannot rehearse.
    segment_moves: dict[str, dict[str, list[str]]] | None = None
    #: Seconds and peak memory per stage, in the order they ran (`idgraph ingest --timings`).
    timings: list[StageTiming] = []

    @property
    def field_rejects(self) -> int:
        return sum(f.field_rejects for f in self.files)


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
        rejects_path: where rejected lines and dropped values go (JSONL); written only when
            something is rejected.
        progress: optional callback `(stage, done, total)`, called per stage and per step
            with counts: bytes read per file, records folded, candidate pairs, customers,
            rows written (keys and units in `idgraph.stages`).
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
    step = deduplicated(progress)
    config = (
        match_config if isinstance(match_config, MatchConfig) else load_match_config(match_config)
    )
    trait_config = traits if isinstance(traits, TraitsConfig) else load_traits_config(traits)
    options = options or NormalizeOptions()
    files = [Path(p) for p in paths]
    checked = check_inputs(files, mappings=mappings)  # before the store is even created
    with open_store(store, database=database, read_only=dry_run) as graph, no_gc():
        # Lines carrying an identifier someone had erased are refused while reading.
        options = options.model_copy(update={"erased": erased_hashes(graph)})
        if Path(rejects_path).is_file():  # a stale file would blame this run; never unlink a device
            Path(rejects_path).unlink()
        read_started = time.perf_counter()
        with RejectsWriter(Path(rejects_path)) as rejects:
            batches = _read_files(checked, options, rejects, step)
            wrote_rejects = rejects.total > 0
        rss, peak = memory_mb()
        reading = StageTiming(
            stage="read",
            seconds=round(time.perf_counter() - read_started, 3),
            rss_mb=rss,
            peak_mb=peak,
            count=sum(b.counts.read for b in batches),
            unit="lines",
        )
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
            consume=True,
            record_run=True,
            rejects_path=str(Path(rejects_path).resolve()) if wrote_rejects else None,
        )
    report = report.model_copy(update={"timings": [reading, *report.timings]})
    return report.model_copy(
        update={
            "rejects_path": str(rejects_path) if wrote_rejects else None,
            "seconds": round(time.perf_counter() - started, 3),
        }
    )


def _read_files(
    checked: Sequence[InputPlan],
    options: NormalizeOptions,
    rejects: RejectsWriter,
    step: Progress,
) -> list[SourceBatch]:
    """Read the checked inputs in order, reporting bytes read per file and over all of them
    ("read: <file>", "read") and the rows normalized so far ("read: rows normalized")."""
    counter = _ReadProgress(step, [_size(plan.path) for plan in checked])
    batches: list[SourceBatch] = []
    for plan in checked:
        counter.start(str(plan.path))
        batches.extend(read_checked([plan], options=options, rejects=rejects, progress=counter))
        counter.finish()
    step("read: rows normalized", counter.rows, counter.rows)
    return batches


class _ReadProgress:
    """Turns a reader's calls on the file being read into the read stage's keys."""

    def __init__(self, step: Progress, sizes: list[int]) -> None:
        self._step = step
        self._sizes = sizes
        self._total = sum(sizes)
        self._file = -1
        self._name = ""
        self._before = 0  # bytes of the files already read
        self.rows = 0  # rows normalized so far
        self._announced = 0  # rows normalized or being normalized
        step("read", 0, self._total)

    def start(self, name: str) -> None:
        self._file += 1
        self._name = name
        self._step(f"read: {name}", 0, self._sizes[self._file])

    def __call__(self, what: str, done: int, total: int) -> None:
        if what == "bytes":
            size = self._sizes[self._file]
            done = min(done, size)
            self._step(f"read: {self._name}", done, size)
            self._step("read", self._before + done, self._total)
        elif done == 0:
            self._announced = self.rows + total
            self._step("read: rows normalized", self.rows, self._announced)
        else:
            self.rows += done
            self._step("read: rows normalized", self.rows, self._announced)

    def finish(self) -> None:
        size = self._sizes[self._file]
        self._step(f"read: {self._name}", size, size)
        self._before += size
        self._step("read", self._before, self._total)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _customers_of_groups(graph: GraphStore, groups: pl.DataFrame) -> list[str]:
    """Customers whose `account:` conditions a change's group calls may flip: those of the
    calling records and every member of the accounts they describe."""
    if groups.height == 0:
        return []
    found = graph.keyed_read(
        "customers_of_records",
        READS["customers_of_records"],
        "keys",
        groups["record_key"].unique().to_list(),
    )
    found += graph.keyed_read(
        "customers_of_accounts",
        READS["customers_of_accounts"],
        "ids",
        groups["account"].unique().to_list(),
    )
    return sorted({row["id"] for row in found})


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
    consume: bool = False,
    meta: Mapping[str, str] | None = None,
    record_run: bool = False,
    rejects_path: str | None = None,
    rehearse: bool = False,
) -> IngestReport:
    """Resolve already-read batches into an open store, in one transaction.

    This is `run_ingest` without the files: the HTTP service parses calls into batches and
    calls it with the store it keeps open. Arguments are as for `run_ingest`; `None` configs
    mean the shipped defaults.

    Args:
        full: re-resolve every stored record, not just those the batch may touch (after a
            match-config change); dry runs always do.
        erase: keys of records to delete with their events (`idgraph forget`); the customers
            they belonged to are re-resolved and may split.
        remember: erased identifiers to refuse from now on, as (hash, kind, epoch ms),
            written in the same transaction as the erasure.
        summary: count customers and cluster sizes over the whole store for the report
            (one scan of the customers); without it they cover the touched customers only.
        consume: empty each batch's frames once they are folded (their counts stay), so a
            big one-shot ingest does not hold its input twice; the service keeps them, to
            retry a failed group of calls one call at a time.
        meta: `Meta` rows (key -> value) written in the same transaction as the batches (the
            service's applied call-log offset).
        record_run: keep the run's aggregates in the store (`idgraph.run_record`) for
            `idgraph report`; file ingests do, the service's micro-batches do not.
        rejects_path: the rejects file the run wrote, for its record.
        rehearse: with `dry_run`, resolve as the real run would (only the records it may
            touch, when it can), write the plan in a transaction that is rolled back, and
            report which customers would enter and exit each materialised segment
            (`segment_moves`): a preview of an override, in a fraction of a full dry run.
    """
    started = time.perf_counter()
    step = deduplicated(progress)
    timer = StageTimer(step)
    config = match_config or load_match_config(None)
    trait_config = traits or load_traits_config(None)
    as_of = int(time.time() * 1000) if as_of_ms is None else as_of_ms
    now_ms = int(time.time() * 1000)
    overrides = overrides or Overrides()
    # The same change confirmed right after its preview: write the plan the preview made.
    reusable = not (batches or erase or remember or meta or full or summary or record_run)
    reusable = (
        reusable
        and as_of_ms is None
        and bool(overrides.must_link or overrides.cannot_link or overrides.uncut)
    )
    change = rehearsed.change_key(overrides, config, trait_config) if reusable else ""
    if reusable and not dry_run:
        kept = rehearsed.take(graph.location, graph.state_version(), change)
        if kept is not None:
            mirror = open_mirror(graph, config)
            if mirror.version == kept.version:
                return _write_rehearsed(graph, mirror, kept, timer, started)
    with timer.stage("fold") as stage:
        ingested = sum(b.counts.ingested for b in batches)
        stage.step("lines ingested", 0, ingested)
        # Group calls' memberships do not take part in resolving: they are written beside it.
        groups = pl.concat([b.groups for b in batches]) if batches else None
        batch = fold(batches)
        if consume:
            for source in batches:
                source.release()
            give_back(ingested)
        stage.step("lines ingested", ingested, ingested)
        stage.count = batch.records.height
    with timer.stage("state") as stage:
        mirror = open_mirror(graph, config)
        stored_events = stored_event_ids(graph, mirror, batch.events["id"])
        stage.count = stored_records(mirror)
    model = stored_model(graph, config)
    full = full or (dry_run and not rehearse) or needs_full(mirror, batch, config)
    # A store that has grown past `min_records` without a model of its own learns one now.
    full = full or (
        model is None
        and any(rule.scored for rule in config.fuzzy)
        and stored_records(mirror) + batch.records.height >= config.scoring.min_records
    )
    with timer.stage("scope") as stage:
        scope = None
        if full:
            snapshot = take_snapshot(mirror)
        else:
            reads = EventReads(graph, trait_config.property_reads())
            scope, snapshot = load_scope(
                reads, mirror, batch, overrides, config, set(erase), stored_events, model
            )
        stage.count = snapshot.records.height
    with timer.stage("resolve") as stage:
        plan, stats = plan_changes(
            mirror=mirror,
            snapshot=snapshot,
            batch=batch,
            stored_event_ids=stored_events,
            config=config,
            traits=trait_config,
            as_of_ms=as_of,
            now_ms=now_ms,
            overrides=overrides,
            scope=scope,
            erase=set(erase),
            explain=dry_run,
            consume=consume,
            progress=stage.step,
            model=None if full else model,
        )
        stage.count = plan.customers.height
    plan.erased_hashes = list(remember)
    plan.meta.update(meta or {})
    if record_run:
        run = make_run_record(
            ts=now_ms,
            full=plan.full,
            files=[b.counts for b in batches],
            rejects_path=rejects_path,
            stats=stats,
            records_new=plan.new_records.height,
            customers_touched=plan.customers.height,
        )
        plan.meta[run.key] = run.model_dump_json()
    if groups is not None:
        plan.groups = groups.filter(~pl.col("record_key").is_in(list(erase)))
    changes = None
    moved: list[SegmentChange] = []
    would_move = None
    if dry_run:
        changes = resolution_changes(
            dict(snapshot.assignment.iter_rows()),
            list(plan.memberships.select("customer", "record").iter_rows()),
            stats.accepted,
            stats.blocked_links,
        )
        if rehearse:
            # The rehearsal's write trims the plan's frames as it copies them: keep them whole.
            planned = copy.copy(plan)
            with timer.stage("segments"):
                would_move = _rehearse_segments(graph, plan, as_of)
    else:
        # What resolving needed is not needed to write: free it before the store's own buffers
        # grow, which is where a big run peaks.
        del batch, snapshot, scope
        moved = write_plan(graph, mirror, plan, timer=timer, as_of_ms=as_of, erase=erase)
    sizes: dict[int, int] = dict(Counter(stats.sizes))
    largest = (
        [
            (cid, int(n))
            for cid, n in plan.customers.select("id", "record_count")
            .sort(["record_count", "id"], descending=[True, False])
            .head(5)
            .iter_rows()
        ]
        if plan.customers.height
        else []
    )
    customers, records_total = plan.customers.height, stats.records_total
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
    report = IngestReport(
        files=[
            FileReport(
                path=str(b.counts.path),
                source=b.counts.source,
                read=b.counts.read,
                ingested=b.counts.ingested,
                rejected=b.counts.rejected,
                field_rejects=b.counts.field_rejects,
                note=b.counts.note,
                refused=b.counts.refused,
            )
            for b in batches
        ],
        rejects_path=None,
        mode="full" if plan.full else "incremental",
        records_new=plan.new_records.height,
        records_updated=plan.changed_records.height,
        records_unchanged=stats.unchanged,
        records_erased=len(plan.erased_records),
        records_resolved=stats.records_total,
        events_new=plan.new_events.height,
        events_duplicate=stats.events_duplicate,
        records_total=records_total,
        customers=customers,
        customers_touched=plan.customers.height,
        identifiers_not_linking=stats.not_linking,
        links_blocked=stats.blocked,
        pairs_compared=stats.pairs,
        pairs_kept_apart=stats.kept_apart,
        guards_lifted=stats.lifted,
        cluster_sizes=dict(sorted(sizes.items())),
        largest_clusters=largest,
        flagged_customers=int(plan.customers["flagged"].sum()) if plan.customers.height else 0,
        components_split=[
            {"records": sp.records, "parts": sp.parts, "reason": sp.reason} for sp in stats.splits
        ],
        merged_ids=[(old, new) for old, new, *_ in plan.ids.merged],
        split_ids=[(new, old) for new, old, *_ in plan.ids.split],
        moved_records=[(origin, target, n) for origin, target, *_, n in plan.ids.moved],
        erased_ids=[cid for cid, _ in plan.ids.erased],
        segment_changes=count_segment_changes(moved),
        seconds=round(time.perf_counter() - started, 3),
        dry_run=dry_run,
        changes=changes,
        segment_moves=would_move,
        timings=timer.rows,
    )
    if rehearse and dry_run and reusable and scope is not None:
        rehearsed.keep(
            rehearsed.Rehearsed(
                graph.location, mirror.version, change, time.monotonic(), planned, report, as_of
            )
        )
    return report


def _write_rehearsed(
    graph: GraphStore,
    mirror: Mirror,
    kept: rehearsed.Rehearsed,
    timer: StageTimer,
    started: float,
) -> IngestReport:
    """Write a rehearsed plan (`idgraph.rehearsed`): the change its preview resolved."""
    moved = write_plan(graph, mirror, kept.plan, timer=timer, as_of_ms=kept.as_of_ms)
    return kept.report.model_copy(
        update={
            "dry_run": False,
            "changes": None,
            "segment_moves": None,
            "segment_changes": count_segment_changes(moved),
            "seconds": round(time.perf_counter() - started, 3),
            "timings": timer.rows,
        }
    )


def write_plan(
    graph: GraphStore,
    mirror: Mirror,
    plan: WritePlan,
    *,
    timer: StageTimer,
    as_of_ms: int,
    erase: Collection[str] = (),
) -> list[SegmentChange]:
    """The write half of a run: the mirror's new files, the store's transaction, then the
    mirror published and the segments refreshed; returns who entered and left segments.

    A run resolved anywhere (here, or in buckets on Spark, `idgraph.spark.store_run`) is
    written by this one path, so history, segments and the mirror stay in step.
    """
    version = new_version()
    with timer.stage("mirror"):
        staged = mirror.write(plan.state, version)
    plan.state = None
    give_back(plan.new_records.height + plan.customers.height)
    with timer.stage("write") as stage:
        grouped = _customers_of_groups(graph, plan.groups)
        before = memberships_of(graph, sorted({*plan.retired_customers, *grouped}))
        stage.count = plan_rows(plan)
        graph.apply(plan, version=version, progress=stage.step)
    with timer.stage("mirror"):
        staged.publish()
    with timer.stage("segments") as stage:
        moved = refresh_segments(
            graph,
            before=before,
            touched=sorted(
                {*plan.customers["id"].to_list(), *_customers_of_groups(graph, plan.groups)}
            ),
            causes=lambda: _causes(plan, erase),
            as_of_ms=as_of_ms,
            now_ms=int(time.time() * 1000),
        )
        stage.count = len(moved)
    return moved


def _rehearse_segments(
    graph: GraphStore, plan: WritePlan, as_of_ms: int
) -> dict[str, dict[str, list[str]]] | None:
    """Segment moves of a plan, read from the store with the plan written and rolled back:
    the same evaluation `refresh_segments` makes after the real write."""
    grouped = _customers_of_groups(graph, plan.groups)
    before = memberships_of(graph, sorted({*plan.retired_customers, *grouped}))
    if not before and not graph.query("count_segments", READS["count_segments"])[0]["n"]:
        return {}
    touched = sorted({*plan.customers["id"].to_list(), *grouped})
    try:
        found = graph.rehearse(
            plan, lambda: segment_moves(graph, before=before, touched=touched, as_of_ms=as_of_ms)
        )
    except RehearsalUnsupported:
        return None
    return {m.segment: {"entered": m.entered, "exited": m.exited} for m in found}


def _causes(plan: WritePlan, erase: Collection[str]) -> dict[str, str]:
    """Why each written (or vanished) customer changed, strongest reason first."""
    causes: dict[str, str] = {}
    for cid, _ in plan.ids.erased:
        causes[cid] = "erasure"
    written = plan.customers["id"].to_list() if plan.customers.height else []
    if erase:
        for cid in written:
            causes.setdefault(cid, "erasure")
    for new, old, *_ in plan.ids.split:
        causes.setdefault(new, "split")
        causes.setdefault(old, "split")
    for origin, target, *_ in plan.ids.moved:
        causes.setdefault(origin, "split")
        causes.setdefault(target, "merge")
    for old, new, *_ in plan.ids.merged:
        causes.setdefault(old, "merge")
        causes.setdefault(new, "merge")
    owner = dict(plan.memberships.select("record", "customer").iter_rows())
    for record in plan.new_events["record_key"].to_list():
        if record in owner:
            causes.setdefault(owner[record], "new event")
    for record in plan.new_records["key"].to_list():
        if record in owner:
            causes.setdefault(owner[record], "new record")
    return causes


def count_segment_changes(changes: Sequence[SegmentChange]) -> dict[str, dict[str, int]]:
    """Per segment, how many customers entered and exited, by cause ("entered (merge)": n)."""
    counts: dict[str, dict[str, int]] = {}
    for change in changes:
        per = counts.setdefault(change.segment, {})
        key = f"{change.change} ({change.cause})"
        per[key] = per.get(key, 0) + 1
    return counts


def erased_hashes(graph: GraphStore) -> frozenset[str]:
    """Hashes of every identifier erased at a person's request (`idgraph forget`)."""
    return frozenset(row["hash"] for row in graph.query("erased_hashes", READS["erased_hashes"]))


def _count(graph: GraphStore, name: str) -> int:
    rows = graph.query(name, READS[name])
    return int(rows[0]["n"]) if rows else 0
