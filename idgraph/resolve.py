"""What one run writes: records, identifiers, evidence, customers, ids, traits — as frames.

`plan_changes` resolves the records it is given (the whole store, or an incremental run's
scope) with the stage functions — match view, blocking, comparisons, verdicts, clustering,
customers, traits — and returns the `WritePlan` a store applies in one transaction, with the
mirror's changes beside it. `pipeline.py` decides which records those are and applies the plan.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from pydantic import BaseModel, ConfigDict

from idgraph.block.keys import BlockingStats, blocking_fingerprint, record_blocks
from idgraph.cluster.components import Clustering, Constraints, cluster
from idgraph.cluster.customers import Customers, build_customers
from idgraph.cluster.ids import new_customer_id
from idgraph.cluster.lineage import lineage
from idgraph.cluster.split import ComponentSplit, split_oversized
from idgraph.errors import ConfigError, NotFoundError
from idgraph.frames import FIELDS, RECORDS, VALUE_COUNTS
from idgraph.match.config import MatchConfig
from idgraph.match.decide import Evidence, collect_evidence
from idgraph.match.edges import FUZZY
from idgraph.match.identity import identity_classes
from idgraph.match.model import MatchModel
from idgraph.match.scored import (
    COUNTED_VIEW,
    MODEL_KEY,
    Frequencies,
    count_rows,
    counted_frequencies,
)
from idgraph.match.tolerance import guard_values
from idgraph.match.view import VIEW_FIELDS, match_view
from idgraph.models import BlockedLink, MatchEvidence
from idgraph.normalize.fold import RECORD_TRAITS, Gathered, traits_json
from idgraph.stages import Progress
from idgraph.state.mirror import Mirror, MirrorChanges
from idgraph.state.scope import Scope, id_keys
from idgraph.state.snapshot import Snapshot
from idgraph.store.plan import APART_ROWS, EVIDENCE, LINK_ROWS, PAIRS, VERDICTS, WritePlan
from idgraph.store.schema import NODE_TABLES, ColumnType
from idgraph.traits.columns import new_columns, typed_column
from idgraph.traits.compute import (
    Ints,
    TraitEvents,
    compute_trait_columns,
    rfm_codes,
)
from idgraph.traits.config import TraitsConfig
from idgraph.traits.rfm_book import RFM_BOOK, Rescored, RfmBook

logger = logging.getLogger(__name__)

__all__ = [
    "Merged",
    "Overrides",
    "PlanStats",
    "SharedFacts",
    "merge_records",
    "plan_changes",
    "registry_rows",
    "verdict_changes",
    "whole_registry",
]


class Overrides(BaseModel):
    """A reviewer's decisions, kept in the store and obeyed by every later run.

    `must_link` pairs become `MATCHED {rule: must_link}` links, which join like an alias;
    `cannot_link` pairs become `CANNOT_LINK` edges, which nothing may join across, not even an
    alias or a must-link. `uncut` names stored cannot-links to remove (a reviewer undoing a
    split, `idgraph unsplit`): the records they kept apart are resolved again without them.
    """

    model_config = ConfigDict(frozen=True)

    must_link: list[tuple[str, str]] = []
    cannot_link: list[tuple[str, str]] = []
    uncut: list[tuple[str, str]] = []
    reason: str = ""


@dataclass(slots=True)
class SharedFacts:
    """What a full run over a whole data set knows, handed to a run over one shard of it.

    A distributed run (`idgraph.spark`) resolves the records in shards that no match can
    cross; the guards, block caps and scores must still see the whole data set, so the
    verdicts of identifiers held across shards, the sizes of oversized blocks, the model,
    the value counts and the number of records are decided once and passed to every shard.
    """

    settled: pl.DataFrame | None
    block_sizes: pl.DataFrame | None
    model: MatchModel | None
    frequencies: Frequencies | None
    records_total: int


@dataclass(slots=True)
class PlanStats:
    """What resolving one run found, for its report."""

    unchanged: int
    events_duplicate: int
    records_total: int
    not_linking: dict[str, int]
    blocked: int
    pairs: int
    sizes: list[int]
    splits: list[ComponentSplit]
    #: Pairs the match kept apart before clustering: "households" (shared identifiers),
    #: "must_agree" (scored pairs over the threshold).
    kept_apart: dict[str, int] = field(default_factory=dict)
    #: Accepted and refused links as objects, for dry runs (`resolution_changes`).
    accepted: list[MatchEvidence] = field(default_factory=list)
    blocked_links: list[BlockedLink] = field(default_factory=list)
    #: What the run's record keeps (`idgraph.run_record`): blocking per fuzzy rule,
    #: candidate links accepted per rule, refused per (rule, guard).
    blocking: list[BlockingStats] = field(default_factory=list)
    links: dict[str, int] = field(default_factory=dict)
    refused: dict[tuple[str, str], int] = field(default_factory=dict)


@dataclass(slots=True)
class Merged:
    """The records being resolved after the batch is folded in."""

    records: pl.DataFrame
    traits: pl.DataFrame
    identifiers: pl.DataFrame
    new: pl.DataFrame
    changed: pl.DataFrame
    unchanged: int


def merge_records(
    stored: pl.DataFrame,
    stored_traits: pl.DataFrame,
    stored_ids: pl.DataFrame,
    batch: Gathered,
    skip: Collection[str],
) -> Merged:
    """Fold the batch's records into the stored ones: newer non-empty values win."""
    incoming = batch.records
    skipped = 0
    if skip:
        held = incoming["key"].is_in(list(skip))
        skipped = int(held.sum())
        incoming = incoming.filter(~held)
    columns = list(RECORDS)
    if not skip and stored.height == 0 and stored_traits.height == 0 and stored_ids.height == 0:
        # A first load: every record is new; one sorted copy serves as both records and new.
        records = incoming.select(columns).sort("key")
        return Merged(
            records, batch.record_traits, batch.identifiers.unique(), records, records.clear(), 0
        )
    base = stored.select(columns)
    new = incoming.join(base.select("key"), on="key", how="anti")
    both = incoming.join(base, on="key", how="inner", suffix="_old")
    newer = pl.col("updated_ts") >= pl.col("updated_ts_old")
    merged = both.select(
        "key",
        pl.col("source_old").alias("source"),
        pl.col("source_id_old").alias("source_id"),
        pl.col("kind_old").alias("kind"),
        pl.max_horizontal("updated_ts", "updated_ts_old").alias("updated_ts"),
        *[
            pl.when(newer)
            .then(pl.coalesce(name, f"{name}_old"))
            .otherwise(pl.coalesce(f"{name}_old", name))
            .alias(name)
            for name in FIELDS
        ],
        newer.alias("_newer"),
    )
    merged_keys = merged.select("key")
    new_traits = batch.record_traits.join(merged_keys, left_on="record", right_on="key", how="semi")
    old_traits = stored_traits.join(merged_keys, left_on="record", right_on="key", how="semi")
    side = merged.select(pl.col("key").alias("record"), "_newer")
    traits = (
        pl.concat(
            [
                old_traits.with_columns(pl.lit(0).alias("_side")),
                new_traits.with_columns(pl.lit(1).alias("_side")),
            ]
        )
        .join(side, on="record")
        .with_columns(
            pl.when(pl.col("_newer"))
            .then(pl.col("_side"))
            .otherwise(1 - pl.col("_side"))
            .alias("_rank")
        )
        .sort("record", "name", "_rank")
        .group_by("record", "name", maintain_order=True)
        .last()
        .select(list(RECORD_TRAITS))
    )
    merged = (
        merged.drop("_newer")
        .join(traits_json(traits, on="record"), left_on="key", right_on="record", how="left")
        .with_columns(pl.col("traits").fill_null("{}"))
        .select(columns)
    )
    old_ids = stored_ids.join(merged_keys, left_on="record", right_on="key", how="semi")
    new_ids = batch.identifiers.join(merged_keys, left_on="record", right_on="key", how="semi")
    merged_ids = pl.concat([old_ids, new_ids]).unique()
    grown = (
        merged_ids.group_by("record")
        .len()
        .join(old_ids.group_by("record").len(), on="record", how="left", suffix="_old")
        .filter(pl.col("len") != pl.col("len_old").fill_null(0))["record"]
    )
    same = merged.join(base, on=columns, how="semi", nulls_equal=True)
    changed = merged.join(same.select("key"), on="key", how="anti")
    changed = pl.concat([changed, merged.filter(pl.col("key").is_in(grown.implode()))]).unique(
        subset=["key"], keep="first"
    )
    unchanged = skipped + merged.height - changed.height
    keep = base.join(merged_keys, on="key", how="anti")
    records = pl.concat([keep, merged, new.select(columns)]).sort("key")
    all_traits = pl.concat(
        [
            stored_traits.join(merged_keys, left_on="record", right_on="key", how="anti"),
            traits,
            batch.record_traits.join(
                new.select("key"), left_on="record", right_on="key", how="semi"
            ),
        ]
    )
    identifiers = pl.concat(
        [
            stored_ids,
            batch.identifiers.join(
                records.select("key"), left_on="record", right_on="key", how="semi"
            ),
        ]
    ).unique()
    return Merged(records, all_traits, identifiers, new.select(columns), changed, unchanged)


def _overrides(
    keys: pl.Series,
    stored_apart: pl.DataFrame,
    overrides: Overrides,
    now_ms: int,
) -> tuple[list[tuple[str, str, str]], pl.DataFrame, pl.DataFrame, list[tuple[str, str]]]:
    """Validate the overrides; return must-links, new and removed cannot-links, and every
    cannot-link that holds after this run."""
    named = [*overrides.must_link, *overrides.cannot_link, *overrides.uncut]
    known = set(keys.to_list()) if named else set()
    for a, b in named:
        for key in (a, b):
            if key not in known:
                raise NotFoundError(f"no record with key {key!r}")
        if a == b:
            raise ConfigError(f"an override needs two different records, got {a!r} twice")
    apart = {tuple(sorted(pair)) for pair in stored_apart.select("a", "b").iter_rows()}
    uncut = sorted({tuple(sorted(pair)) for pair in overrides.uncut})
    for a, b in uncut:
        if (a, b) not in apart:
            raise ConfigError(f"no reviewer's split keeps records {a} and {b} apart")
        apart.discard((a, b))
    removed = pl.DataFrame({"a": [p[0] for p in uncut], "b": [p[1] for p in uncut]}, schema=PAIRS)
    links: list[tuple[str, str, str]] = []
    for a, b in overrides.must_link:
        if tuple(sorted((a, b))) in apart:
            raise ConfigError(
                f"records {a} and {b} were split apart by a reviewer; a must-link cannot "
                "override that: undo the split first (`idgraph unsplit`)"
            )
        links.append((a, b, "must_link"))
    fresh: list[tuple[str, str, str, int]] = []
    for a, b in overrides.cannot_link:
        pair = tuple(sorted((a, b)))
        if pair not in apart:
            apart.add(pair)
            fresh.append((pair[0], pair[1], overrides.reason or "split by a reviewer", now_ms))
    new_apart = pl.DataFrame(
        {
            "a": [r[0] for r in fresh],
            "b": [r[1] for r in fresh],
            "reason": [r[2] for r in fresh],
            "ts": [r[3] for r in fresh],
        },
        schema=APART_ROWS,
    )
    return links, new_apart, removed, sorted((str(a), str(b)) for a, b in apart)


def _constraints(
    records: pl.DataFrame,
    identifiers: pl.DataFrame,
    links: pl.DataFrame,
    apart: Sequence[tuple[str, str]],
    config: MatchConfig,
    personal: pl.DataFrame | None = None,
) -> Constraints:
    positions = records.select("key").with_row_index("pos")
    constraints = Constraints()
    if config.limits:
        classes = identity_classes(identifiers, links, config.limits)
        placed = classes.join(positions, left_on="record", right_on="key")
        for kind in config.limits:
            constraints.limited[kind] = placed.filter(pl.col("kind") == kind).select(
                pl.col("pos").cast(pl.Int64), "cls"
            )
    for name in config.strong_attributes:
        constraints.strong[name] = (
            pl.DataFrame({"value": guard_values(records, name)})
            .with_row_index("pos")
            .select(pl.col("pos").cast(pl.Int64), "value")
            .filter(pl.col("value").is_not_null())
        )
    if personal is not None and personal.height:
        at = positions.select(pl.col("key"), pl.col("pos").cast(pl.Int64))
        constraints.personal = (
            personal.join(at.rename({"key": "a", "pos": "pa"}), on="a")
            .join(at.rename({"key": "b", "pos": "pb"}), on="b")
            .select(pl.col("pa").alias("a"), pl.col("pb").alias("b"))
        )
    index = dict(zip(records["key"].to_list(), range(records.height), strict=True)) if apart else {}
    constraints.apart = [(index[a], index[b]) for a, b in apart if a in index and b in index]
    return constraints


def _evidence_objects(
    keys: pl.Series, edges: pl.DataFrame, rows: Sequence[int] | None = None
) -> list[MatchEvidence]:
    chosen = edges if rows is None else edges[list(rows)]
    if chosen.height == 0:
        return []
    a = keys.gather(chosen["a"]).to_list()
    b = keys.gather(chosen["b"]).to_list()
    return [
        MatchEvidence(x, y, rule, tuple(fields.split(",")), score)
        for x, y, rule, fields, score in zip(
            a,
            b,
            chosen["rule"].to_list(),
            chosen["fields"].to_list(),
            chosen["score"].to_list(),
            strict=True,
        )
    ]


def plan_changes(
    *,
    mirror: Mirror,
    snapshot: Snapshot,
    batch: Gathered,
    stored_event_ids: Collection[str],
    config: MatchConfig,
    traits: TraitsConfig,
    as_of_ms: int,
    now_ms: int,
    overrides: Overrides,
    scope: Scope | None,
    erase: Collection[str],
    explain: bool = False,
    progress: Progress | None = None,
    consume: bool = False,
    model: MatchModel | None = None,
    facts: SharedFacts | None = None,
) -> tuple[WritePlan, PlanStats]:
    """Resolve the snapshot's records with the batch folded in; say what to write.

    Args:
        mirror: the stored state (for the id registry and, on incremental runs, RFM).
        snapshot: the stored rows of the records being re-resolved.
        batch: the run's input.
        stored_event_ids: which of the batch's event ids the store holds already.
        scope: the incremental run's scope, or None when everything is re-resolved.
        erase: keys of records to delete with their events (`idgraph forget`).
        explain: also return the accepted and refused links as objects (dry runs).
        progress: gets each step's count as it ends ("records", "identifiers", "candidate
            pairs", "edges clustered", "customers", "traits"), announced as (step, 0, 1)
            when it starts if the count is not known before.
        consume: empty the batch's record frames once they are merged, and drop each
            intermediate frame as soon as the plan no longer needs it: at a million records
            the resolve stage is where a run peaks.
        model: the match model the store keeps (learned by its last full run), which an
            incremental run scores with; a full run learns a new one and puts it in the
            plan's `meta`.
        facts: the whole data set's verdicts, block sizes, model and value counts when these
            records are one shard of a full run (`SharedFacts`); None otherwise.
    """
    step = progress or _no_progress
    step("records", 0, 1)
    plan = WritePlan(full=scope is None)
    erase_set = set(erase)
    erased = snapshot.records.filter(pl.col("key").is_in(list(erase_set)))
    plan.erased_records = sorted(erased["key"].to_list())
    gone_ids = snapshot.identifiers.filter(pl.col("record").is_in(plan.erased_records))
    plan.erased_identifiers = sorted(set(id_keys(gone_ids).to_list()))
    stored = snapshot.records.filter(~pl.col("key").is_in(plan.erased_records))
    stored_traits = snapshot.record_traits.filter(~pl.col("record").is_in(plan.erased_records))
    stored_ids = snapshot.identifiers.filter(~pl.col("record").is_in(plan.erased_records))
    merged = merge_records(
        stored, stored_traits, stored_ids, batch, scope.untouched if scope is not None else ()
    )
    plan.new_records = merged.new
    plan.changed_records = merged.changed
    records = merged.records
    keys = records["key"]
    step("records", records.height, records.height)

    must, plan.new_apart, plan.removed_apart, apart = _overrides(
        keys, snapshot.apart, overrides, now_ms
    )
    stored_links = snapshot.links.filter(
        ~pl.col("a").is_in(plan.erased_records) & ~pl.col("b").is_in(plan.erased_records)
    )
    incoming_links = pl.concat(
        [
            batch.links.select(list(LINK_ROWS)),
            pl.DataFrame(
                {
                    "a": [m[0] for m in must],
                    "b": [m[1] for m in must],
                    "rule": [m[2] for m in must],
                },
                schema=LINK_ROWS,
            ),
        ]
    )
    plan.new_links = (
        incoming_links.filter(pl.col("a") != pl.col("b"))
        .unique(maintain_order=True)
        .join(stored_links, on=["a", "b", "rule"], how="anti")
    )
    all_links = pl.concat([stored_links.select(list(LINK_ROWS)), plan.new_links])
    present = keys.implode()
    all_links = all_links.filter(pl.col("a").is_in(present) & pl.col("b").is_in(present))

    plan.new_events = batch.events.filter(~pl.col("id").is_in(list(stored_event_ids)))
    plan.new_event_properties = batch.event_properties.join(
        plan.new_events.select("id"), on="id", how="semi"
    )
    events_duplicate = batch.events.height - plan.new_events.height
    if consume:
        batch.release()

    settled = None
    block_sizes = None
    if scope is not None:
        settled = pl.concat(
            [
                snapshot.verdicts.filter(~pl.col("key").is_in(list(scope.recompute))),
                scope.settled.select(list(VERDICTS))
                if scope.settled.height
                else pl.DataFrame(schema=VERDICTS),
            ]
        ).unique(subset=["key"], keep="first")
        block_sizes = scope.block_sizes
    view = match_view(records, VIEW_FIELDS)
    records_total = records.height
    frequencies = None
    counts = None
    if scope is not None:
        records_total += _records_outside(mirror, snapshot)
        counts = counted_changes(mirror, snapshot, view)
        if model is not None:
            frequencies = counted_frequencies(counts.scope, list(config.scoring.fields))
    if facts is not None:
        settled, block_sizes, frequencies = facts.settled, facts.block_sizes, facts.frequencies
        model, records_total = facts.model, facts.records_total
    elif scope is None:
        model = None
    evidence = collect_evidence(
        records,
        merged.identifiers,
        all_links,
        config,
        settled=settled,
        block_sizes=block_sizes,
        view=view,
        progress=step,
        model=model,
        frequencies=frequencies,
        records_total=records_total,
    )
    if evidence.model_trained and evidence.model is not None:
        plan.meta[MODEL_KEY] = evidence.model.to_json()
    step("edges clustered", 0, evidence.edges.height)
    constraints = _constraints(
        records, merged.identifiers, all_links, apart, config, evidence.personal
    )
    clustering = cluster(records.height, evidence.edges, constraints, config)
    splits = (
        split_oversized(
            keys.to_list(), evidence.edges, clustering, limit=config.flag_component_records
        )
        if config.split_oversized
        else []
    )
    step("edges clustered", evidence.edges.height, evidence.edges.height)

    accepted = np.flatnonzero(clustering.accepted)
    fuzzy = evidence.edges[accepted.tolist()].filter(pl.col("class") == FUZZY)
    plan.evidence = fuzzy.select(
        keys.gather(fuzzy["a"]).alias("a"),
        keys.gather(fuzzy["b"]).alias("b"),
        "rule",
        "fields",
        "score",
    ).cast(EVIDENCE)  # type: ignore[arg-type]
    step("customers", 0, 1)
    _plan_identifiers(plan, evidence.verdicts, snapshot, merged)
    span = _event_spans(snapshot.events, plan.new_events)
    previous = snapshot.assignment.filter(~pl.col("key").is_in(plan.erased_records))
    registry = _registry(mirror, snapshot.assignment["customer"].unique(), keys, clustering)
    customers = build_customers(
        records,
        clustering.labels,
        record_traits=merged.traits,
        previous=previous,
        event_span=span,
        config=config,
        now_ms=now_ms,
        created={cid: ts for cid, (ts, _) in registry.items()},
        taken=set(registry),
    )
    plan.memberships = customers.memberships
    step("customers", customers.rows.height, customers.rows.height)
    plan.retired_customers = sorted(set(snapshot.assignment["customer"].to_list()))
    plan.scope_records = keys.filter(~keys.is_in(plan.new_records["key"].implode())).to_list()
    _plan_ids(
        plan,
        registry,
        previous,
        snapshot.assignment["customer"].unique(),
        customers,
        keys,
        evidence,
        clustering,
        overrides,
        erase_set,
        now_ms,
    )
    blocked = len(clustering.blocked)
    links, refused = _link_counts(evidence.edges, accepted, clustering.blocked)
    if consume and not explain:
        evidence.edges = evidence.edges.clear()
        clustering.blocked = []
    del fuzzy
    plan.customers = _customer_rows(customers, splits, plan)
    step("traits", 0, plan.customers.height)
    plan.customers = _add_traits(plan, customers, snapshot, traits, as_of_ms)
    if scope is not None and traits.builtins.rfm is not None:
        _rescore_rfm(mirror, plan)
    step("traits", plan.customers.height, plan.customers.height)
    plan.customer_columns = _customer_columns(merged.traits, plan.customers, traits, snapshot)
    plan.customers = _type_traits(
        plan.customers, customers, traits, snapshot, plan.customer_columns
    )
    plan.event_columns = new_columns(
        "Event",
        plan.new_event_properties.select(
            "name",
            pl.when(pl.col("kind") == "string")
            .then(pl.lit('"') + pl.col("value") + pl.lit('"'))
            .otherwise(pl.col("value"))
            .alias("value"),
        ),
        snapshot.event_columns,
    )
    if scope is not None:
        _keep_unchanged(mirror, plan, snapshot, scope, merged)
    plan.state = _mirror_changes(
        mirror,
        plan,
        evidence.verdicts,
        registry,
        merged,
        records,
        view,
        config,
        snapshot,
        scope,
        all_links,
        counts,
    )
    not_linking = Counter(evidence.verdicts.filter(~pl.col("linking"))["kind"].to_list())
    stats = PlanStats(
        unchanged=merged.unchanged,
        events_duplicate=events_duplicate,
        records_total=records.height,
        not_linking=dict(sorted(not_linking.items())),
        blocked=blocked,
        pairs=evidence.pairs_compared,
        sizes=customers.sizes,
        splits=splits,
        kept_apart={"households": evidence.households, "must_agree": evidence.vetoed},
        blocking=evidence.blocking,
        links=links,
        refused=refused,
    )
    if explain:
        stats.accepted = _evidence_objects(keys, evidence.edges, accepted.tolist())
        objects = _evidence_objects(keys, evidence.edges, [i for i, _ in clustering.blocked])
        stats.blocked_links = [
            BlockedLink(e, reason)
            for e, (_, reason) in zip(objects, clustering.blocked, strict=True)
        ]
    return plan, stats


#: Counts in a guard's reason, so refusals group by guard: "joins N distinct user_id (limit N)".
_NUMBER = re.compile(r"\d+")


def _link_counts(
    edges: pl.DataFrame, accepted: npt.NDArray[np.intp], blocked: Sequence[tuple[int, str]]
) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """Candidate links accepted per rule, and refused per (rule, guard), for the run record."""
    rules = edges["rule"]
    made = Counter(rules.gather(accepted.tolist()).to_list()) if len(accepted) else Counter()
    refused: Counter[tuple[str, str]] = Counter()
    if blocked:
        names = rules.gather([i for i, _ in blocked]).to_list()
        refused.update(
            (rule, _NUMBER.sub("N", reason))
            for rule, (_, reason) in zip(names, blocked, strict=True)
        )
    return dict(sorted(made.items())), dict(sorted(refused.items()))


def _records_outside(mirror: Mirror, snapshot: Snapshot) -> int:
    """Stored records an incremental run does not re-resolve."""
    stored = int(mirror.view("records", ["key"]).select(pl.len()).collect().item())
    return stored - snapshot.records.height


@dataclass(slots=True)
class CountChanges:
    """The store's value counts (`count_rows`) around one incremental run."""

    #: Every value the scope's records hold now (and each field's total), counted over the
    #: whole store as it will be after the run: what the run's term frequencies read.
    scope: pl.DataFrame
    #: Rows whose count changes, and (field, value) rows no record holds any more.
    upserts: pl.DataFrame
    deletes: pl.DataFrame


def counted_changes(mirror: Mirror, snapshot: Snapshot, view: pl.DataFrame) -> CountChanges:
    """The kept counts, less the scope's records as they were, plus the scope's records as
    resolved (`view`). Scope-sized work: the whole store is never counted again."""
    before = count_rows(match_view(snapshot.records, COUNTED_VIEW))
    after = count_rows(view)
    keys = ["field", "value"]
    delta = (
        after.join(before, on=keys, how="full", coalesce=True, suffix="_before")
        .select(*keys, (pl.col("count").fill_null(0) - pl.col("count_before").fill_null(0)))
        .filter(pl.col("count") != 0)
    )
    stored = _counts_of(mirror, delta)
    changed = delta.join(stored, on=keys, how="left", suffix="_stored").select(
        *keys, (pl.col("count_stored").fill_null(0) + pl.col("count")).alias("count")
    )
    unchanged = after.join(changed.select(keys), on=keys, how="anti")
    kept = _counts_of(mirror, unchanged)
    upserts = changed.filter(pl.col("count") > 0).cast(VALUE_COUNTS)  # type: ignore[arg-type]
    return CountChanges(
        pl.concat([upserts, kept.cast(VALUE_COUNTS)]),  # type: ignore[arg-type]
        upserts,
        changed.filter(pl.col("count") <= 0).select(keys),
    )


def _no_progress(_step: str, _done: int, _total: int) -> None:
    """Progress reported nowhere."""


def _plan_identifiers(
    plan: WritePlan, verdicts: pl.DataFrame, snapshot: Snapshot, merged: Merged
) -> None:
    """Identifier nodes to create or update, and record-identifier edges to add."""
    plan.new_identifiers, plan.changed_identifiers = verdict_changes(verdicts, snapshot.verdicts)
    touched = pl.concat([merged.new.select("key"), merged.changed.select("key")])
    mine = merged.identifiers.join(touched, left_on="record", right_on="key", how="semi")
    before = snapshot.identifiers.join(touched, left_on="record", right_on="key", how="semi")
    added = mine.join(before, on=["record", "kind", "value"], how="anti")
    plan.new_record_identifiers = added.select("record", id_keys(added).alias("identifier"))


def verdict_changes(
    verdicts: pl.DataFrame, stored: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Identifier verdicts not stored yet, and stored ones whose linking or reason changed."""
    rows = verdicts.select(list(VERDICTS))
    before = stored.select("key", pl.col("linking").alias("_l"), pl.col("reason").alias("_r"))
    changed = (
        rows.join(before, on="key", how="inner")
        .filter(
            (pl.col("linking") != pl.col("_l")) | (pl.col("reason") != pl.col("_r").fill_null(""))
        )
        .select(list(VERDICTS))
    )
    return rows.join(before, on="key", how="anti"), changed


def _event_spans(stored: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    both = pl.concat([stored.select("record_key", "ts"), new.select("record_key", "ts")])
    return (
        both.group_by("record_key")
        .agg(pl.col("ts").min().alias("first"), pl.col("ts").max().alias("last"))
        .rename({"record_key": "record"})
    )


def _counts_of(mirror: Mirror, wanted: pl.DataFrame) -> pl.DataFrame:
    """The kept value counts of the (field, value) rows of `wanted`."""
    keys = ["field", "value"]
    found = mirror.where("value_counts", "value", wanted["value"])
    return found.join(wanted.select(keys), on=keys, how="semi")


def _registry(
    mirror: Mirror, previous_ids: pl.Series, keys: pl.Series, clustering: Clustering
) -> dict[str, tuple[int, str]]:
    """Registry entries (created_ts, status) of the previous ids and of the ids new
    components would be given, so an id is never issued twice."""
    if mirror.files.get("registry") is None or not (
        mirror.files["registry"].base_rows + mirror.files["registry"].delta_rows
    ):
        return {}
    firsts = np.unique(clustering.labels)
    bases = {new_customer_id([k]) for k in keys.gather(firsts).to_list()}
    wanted = set(previous_ids.to_list()) | bases
    found = {
        row[0]: (int(row[1] or 0), row[2] or "active")
        for row in mirror.where("registry", "id", wanted).iter_rows()
    }
    taken = [b for b in bases if b in found]
    if taken:
        suffixed = [f"{b}-{n}" for b in taken for n in range(2, 10)]
        found.update(
            {
                row[0]: (int(row[1] or 0), row[2] or "active")
                for row in mirror.where("registry", "id", suffixed).iter_rows()
            }
        )
    return found


def _plan_ids(
    plan: WritePlan,
    registry: Mapping[str, tuple[int, str]],
    previous: pl.DataFrame,
    before_ids: pl.Series,
    customers: Customers,
    keys: pl.Series,
    evidence: Evidence,
    clustering: Clustering,
    overrides: Overrides,
    erase: set[str],
    now_ms: int,
) -> None:
    """Record what happened to customer ids: issued, absorbed, split off, records moved, erased."""
    reason = ""
    if erase:
        reason = "records erased (idgraph forget)"
    elif overrides.cannot_link:
        reason = f"split by a reviewer: {overrides.reason or 'no reason given'}"
    alive = customers.rows["id"]
    everyone = pl.concat([alive, before_ids]).unique().sort()
    missing = everyone.filter(~everyone.is_in(list(registry)))
    alive_set = set(alive.to_list())
    plan.ids.created = [(cid, now_ms if cid in alive_set else 0) for cid in missing.to_list()]
    before_set = set(before_ids.to_list())
    if previous.height == 0:
        plan.ids.erased = [(cid, now_ms) for cid in sorted(before_set - alive_set)]
        return
    now = customers.memberships.rename({"record": "key", "customer": "new"})
    paired = previous.join(now, on="key", how="left")
    stable = (
        paired.group_by("customer")
        .agg(pl.col("new").n_unique().alias("n"), pl.col("new").first().alias("only"))
        .filter((pl.col("n") == 1) & (pl.col("only") == pl.col("customer")))
    )
    affected = paired.join(stable.select("customer"), on="customer", how="anti")
    if affected.height:
        before = dict(affected.select("key", "customer").iter_rows())
        targets = set(affected["new"].drop_nulls().to_list())
        after_rows = customers.memberships.filter(pl.col("customer").is_in(list(targets)))
        touched = set(before) | set(after_rows["record"].to_list())
        near_record = pl.Series([k in touched for k in keys.to_list()])
        edges = evidence.edges
        near = (near_record.gather(edges["a"]) | near_record.gather(edges["b"])).to_numpy()
        accepted = _evidence_objects(
            keys, edges, np.flatnonzero(clustering.accepted & near).tolist()
        )
        refused = [(i, r) for i, r in clustering.blocked if near[i]]
        objects = _evidence_objects(keys, edges, [i for i, _ in refused])
        blocked = [BlockedLink(e, r) for e, (_, r) in zip(objects, refused, strict=True)]
        changes = lineage(
            before,
            list(after_rows.select("customer", "record").iter_rows()),
            accepted,
            blocked,
            split_reason=reason,
            previous_ids=before_set,
        )
        undone = (
            f"split undone: {overrides.reason or 'no reason given'}; " if overrides.uncut else ""
        )
        plan.ids.merged = [
            (a.old, a.survivor, now_ms, undone + a.evidence, a.records) for a in changes.absorbed
        ]
        plan.ids.split = [(s.new, s.origin, now_ms, s.reason, s.records) for s in changes.split_off]
        plan.ids.moved = [
            (m.origin, m.target, now_ms, m.reason, m.evidence, m.records) for m in changes.moved
        ]
    absorbed = {old for old, *_ in plan.ids.merged}
    plan.ids.erased = [(cid, now_ms) for cid in sorted(before_set - alive_set - absorbed)]


def _customer_rows(
    customers: Customers, splits: Sequence[ComponentSplit], plan: WritePlan
) -> pl.DataFrame:
    """Customers cut out of an oversized component go to review, with the reason."""
    rows = customers.rows
    reason_of = {key: split.reason for split in splits for key in split.record_keys}
    if not reason_of:
        return rows
    flagged = (
        plan.memberships.filter(pl.col("record").is_in(list(reason_of)))
        .with_columns(pl.col("record").replace_strict(reason_of, return_dtype=pl.Utf8).alias("why"))
        .group_by("customer")
        .agg(pl.col("why").first())
    )
    return (
        rows.join(flagged, left_on="id", right_on="customer", how="left")
        .with_columns(
            pl.when(pl.col("why").is_not_null())
            .then(True)
            .otherwise(pl.col("flagged"))
            .alias("flagged"),
            pl.when(pl.col("why").is_not_null())
            .then(pl.lit("split: ") + pl.col("why"))
            .otherwise(pl.col("flag_reason"))
            .alias("flag_reason"),
        )
        .drop("why")
    )


def _add_traits(
    plan: WritePlan,
    customers: Customers,
    snapshot: Snapshot,
    traits: TraitsConfig,
    as_of_ms: int,
) -> pl.DataFrame:
    """Every computed trait of the written customers (typed later with the source traits)."""
    events = pl.concat(
        [
            snapshot.events.select("id", "record_key", "name", "ts"),
            plan.new_events.select("id", "record_key", "name", "ts"),
        ]
    ).join(plan.memberships.rename({"record": "record_key"}), on="record_key", how="inner")
    # Sums of floats depend on their order: one order, whatever order the events were read
    # or stored in, so every run (local, or a Spark bucket) gives the same totals.
    events = events.sort("customer", "ts", "id")
    properties = pl.concat([snapshot.event_properties, plan.new_event_properties])
    rows = plan.customers
    computed = compute_trait_columns(
        traits,
        TraitEvents(events.select("customer", "name", "ts", "id"), properties),
        customers=rows["id"],
        as_of_ms=as_of_ms,
        birth_dates=rows["birth_date"],
    )
    return pl.concat([rows, computed], how="horizontal") if computed.width else rows


def _rescore_rfm(mirror: Mirror, plan: WritePlan) -> None:
    """Score the written buyers against every buyer, and rescore stored ones that moved.

    RFM scores are quintiles over all buyers, so they cannot be computed for the touched
    customers alone: every score a full run would change is changed, found through the
    stored buyers' sorted measures (`RfmBook`) rather than by ranking everyone again.
    """
    written = plan.customers
    skip = set(written["id"].to_list()) | set(plan.retired_customers)
    buyers = written.filter(pl.col("rfm_orders").fill_null(0) > 0)

    def rescore(book: RfmBook) -> Rescored:
        return book.rescore(skip, buyers)

    result = mirror.derived("customers", RFM_BOOK, RfmBook.of, rescore)
    plan.customers = written.update(_rfm_rows(buyers["id"], *result.mine), on="id")
    plan.trait_updates = _rfm_rows(result.moved_ids, *result.moved)


def _rfm_rows(ids: pl.Series, recency: Ints, frequency: Ints, monetary: Ints) -> pl.DataFrame:
    """Customers' RFM score columns, as a customer row holds them."""
    return pl.DataFrame(
        {
            "id": ids,
            "rfm_recency": recency,
            "rfm_frequency": frequency,
            "rfm_monetary": monetary,
            "rfm_score": rfm_codes(recency, frequency, monetary),
        }
    )


def _customer_columns(
    record_traits: pl.DataFrame,
    customers: pl.DataFrame,
    traits: TraitsConfig,
    snapshot: Snapshot,
) -> dict[str, ColumnType]:
    """Columns for source traits and computed traits; a computed trait's type wins."""
    existing = snapshot.customer_columns
    declared = traits.columns()
    columns = {
        name: kind
        for name, kind in new_columns("Customer", record_traits, existing).items()
        if name not in declared
    }
    undeclared = [
        name for name, kind in declared.items() if kind is None and name in customers.columns
    ]
    for name in undeclared:
        if name in existing:
            continue
        values = customers[name].drop_nulls()
        if values.len() == 0:
            continue
        kinds = {_python_kind(v) for v in values.unique().to_list()}
        kinds.discard(None)
        if kinds:
            columns[name] = kinds.pop() if len(kinds) == 1 else "STRING"  # type: ignore[assignment]
    columns.update({name: kind for name, kind in declared.items() if kind and name not in existing})
    return dict(sorted(columns.items()))


def _python_kind(value: Any) -> ColumnType | None:
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int | float):
        return "DOUBLE"
    if isinstance(value, str):
        return "STRING"
    return None


def _type_traits(
    rows: pl.DataFrame,
    customers: Customers,
    traits: TraitsConfig,
    snapshot: Snapshot,
    added: Mapping[str, ColumnType],
) -> pl.DataFrame:
    """Source traits as typed customer columns; a computed trait of the same name wins."""
    types = {**snapshot.customer_columns, **added}
    long = customers.traits
    if long.height == 0:
        return rows
    computed = set(rows.columns)
    columns = []
    for name, part in long.partition_by("name", as_dict=True, maintain_order=True).items():
        trait = str(name[0] if isinstance(name, tuple) else name)
        if trait in computed or trait in NODE_TABLES["Customer"] or trait not in types:
            continue
        values = typed_column(part["value"], types[trait]).alias(trait)
        columns.append(pl.DataFrame({"id": part["customer"], trait: values}))
    for extra in columns:
        rows = rows.join(extra, on="id", how="left")
    return rows


def _keep_unchanged(
    mirror: Mirror, plan: WritePlan, snapshot: Snapshot, scope: Scope, merged: Merged
) -> None:
    """Leave out of the plan what the scope's customers would write exactly as stored.

    Most of a scope is neighbours: records read because the batch might join them, whose
    customer ends up with the same records and the same traits. Rewriting those would be
    correct but is the costliest write the embedded engine has (deleting nodes and
    relationships scattered through the store), so a customer is kept as stored when its id,
    its records and every property but `updated_ts` are unchanged, and none of its records
    gained an event or could have different computed evidence: none is new, changed, erased
    or named by a link or override, none holds an identifier whose verdict changed, and none
    sits in a block crossing the size cap.

    A customer with the same id and records, none of which could have different computed
    evidence, keeps its records' stored evidence even when its row is rewritten: deleting and
    copying the same relationships again is one keyed write per record on the embedded
    engine. Its fuzzy evidence is every fuzzy match among its records (a guard refuses a link
    only between records that never share a customer), which only their fields, identifiers
    and blocks decide: an event, a newer `updated_ts` or a source trait changes its row, not
    its evidence.
    """
    rematched = set(merged.new["key"].to_list()) | _matched_differently(snapshot, merged)
    rematched |= set(plan.erased_records)
    rematched |= set(plan.new_links["a"].to_list()) | set(plan.new_links["b"].to_list())
    rematched |= set(plan.new_apart["a"].to_list()) | set(plan.new_apart["b"].to_list())
    rematched |= set(plan.removed_apart["a"].to_list()) | set(plan.removed_apart["b"].to_list())
    rematched |= scope.unsettled
    for key in plan.changed_identifiers["key"].to_list():
        rematched |= scope.holders.get(key, set())
    dirty = rematched | set(merged.changed["key"].to_list())
    dirty |= set(plan.new_events["record_key"].to_list())
    before = snapshot.assignment.group_by("customer").agg(pl.col("key").sort())
    now = plan.memberships.group_by("customer").agg(pl.col("record").sort().alias("key"))
    same_members = now.join(before, on=["customer", "key"], how="semi")
    evidence_kept = same_members.filter(
        ~pl.col("key").list.eval(pl.element().is_in(list(rematched))).list.any()
    )
    _keep_evidence(plan, set(evidence_kept["key"].explode().to_list()))
    clean = evidence_kept.filter(
        ~pl.col("key").list.eval(pl.element().is_in(list(dirty))).list.any()
    )
    candidates = set(clean["customer"].to_list())
    if not candidates:
        return
    stored = mirror.where("customers", "id", candidates)
    if stored.height == 0:
        return
    written = plan.customers.filter(pl.col("id").is_in(list(candidates)))
    same = _same_rows(written, stored)
    if not same:
        return
    plan.customers = plan.customers.filter(~pl.col("id").is_in(list(same)))
    plan.memberships = plan.memberships.filter(~pl.col("customer").is_in(list(same)))
    plan.retired_customers = [c for c in plan.retired_customers if c not in same]


def _matched_differently(snapshot: Snapshot, merged: Merged) -> set[str]:
    """The changed records whose fields or identifiers changed: what matching reads of them."""
    changed = merged.changed
    if changed.height == 0:
        return set()
    columns = ["key", *FIELDS]
    fields = changed.select(columns).join(
        snapshot.records.select(columns), on=columns, how="anti", nulls_equal=True
    )
    keys = changed.select(pl.col("key").alias("record"))
    before = snapshot.identifiers.join(keys, on="record", how="semi")
    now = merged.identifiers.join(keys, on="record", how="semi")
    on = ["record", "kind", "value"]
    grown = now.join(before, on=on, how="anti", nulls_equal=True)
    lost = before.join(now, on=on, how="anti", nulls_equal=True)
    return set(fields["key"].to_list()) | set(grown["record"].to_list()) | set(lost["record"])


def _keep_evidence(plan: WritePlan, records: set[str]) -> None:
    """Leave the stored computed evidence of `records` as it is: not deleted, not written."""
    if not records:
        return
    plan.scope_records = [k for k in plan.scope_records if k not in records]
    plan.evidence = plan.evidence.filter(~pl.col("a").is_in(list(records)))


def _same_rows(written: pl.DataFrame, stored: pl.DataFrame) -> set[str]:
    """Ids whose written row equals the stored one in every column but `updated_ts`."""
    names = [c for c in written.columns if c != "updated_ts"]
    extra = [c for c in stored.columns if c not in written.columns and c != "updated_ts"]
    left = written.select(names)
    right = stored.select([c for c in names if c in stored.columns])
    for column in names:
        if column not in right.columns:
            right = right.with_columns(pl.lit(None).alias(column))
    right = right.select(names).cast(dict(left.schema), strict=False)  # type: ignore[arg-type]
    same = left.join(right, on=names, how="semi", nulls_equal=True)["id"]
    result = set(same.to_list())
    if extra:
        present = stored.filter(pl.any_horizontal([pl.col(c).is_not_null() for c in extra]))["id"]
        result -= set(present.to_list())
    return result


def _mirror_changes(
    mirror: Mirror,
    plan: WritePlan,
    verdicts: pl.DataFrame,
    registry: Mapping[str, tuple[int, str]],
    merged: Merged,
    records: pl.DataFrame,
    view: pl.DataFrame,
    config: MatchConfig,
    snapshot: Snapshot,
    scope: Scope | None,
    links: pl.DataFrame,
    counts: CountChanges | None,
) -> MirrorChanges:
    """The mirror's rows this run changes (all of them on a full run)."""
    # A full run's blocks are those of today's rules: record it, or every later run is full.
    changes = MirrorChanges(
        full=scope is None,
        config=blocking_fingerprint(config) if scope is None else "",
        # A full run writes the mirror anew: it keeps the columns the store already has.
        customer_columns={
            **(snapshot.customer_columns if scope is None else {}),
            **plan.customer_columns,
        },
        event_columns={**(snapshot.event_columns if scope is None else {}), **plan.event_columns},
    )
    assigned = records.join(plan.memberships.rename({"record": "key"}), on="key", how="left")
    blocks = record_blocks(view, config.fuzzy)
    if scope is None:
        changes.upserts = {
            "records": assigned.select(*RECORDS, "customer"),
            "record_traits": merged.traits,
            "identifiers": merged.identifiers.sort("record", "kind", "value"),
            "blocks": blocks,
            "verdicts": verdicts.select(list(VERDICTS)),
            "links": links,
            "apart": pl.concat(
                [
                    snapshot.apart.join(plan.removed_apart, on=["a", "b"], how="anti"),
                    plan.new_apart,
                ]
            ),
            "events": pl.concat(
                [
                    snapshot.events.filter(~pl.col("record_key").is_in(plan.erased_records)),
                    plan.new_events.select("id", "record_key", "name", "ts"),
                ]
            ),
            "event_properties": pl.concat([snapshot.event_properties, plan.new_event_properties]),
            "customers": plan.customers,
            "registry": whole_registry(mirror, registry_rows(plan, registry)),
            "value_counts": count_rows(view),
        }
        return changes
    written = set(plan.memberships["record"].to_list())
    touched = pl.concat([merged.new.select("key"), merged.changed.select("key")])
    changes.upserts = {
        "records": assigned.filter(pl.col("key").is_in(list(written))).select(*RECORDS, "customer"),
        "record_traits": merged.traits.join(touched, left_on="record", right_on="key", how="semi"),
        "identifiers": merged.identifiers.join(
            touched, left_on="record", right_on="key", how="semi"
        ),
        "blocks": blocks.join(touched, left_on="record", right_on="key", how="semi"),
        "verdicts": pl.concat([plan.new_identifiers, plan.changed_identifiers]),
        "links": plan.new_links,
        "apart": plan.new_apart,
        "events": plan.new_events.select("id", "record_key", "name", "ts"),
        "event_properties": plan.new_event_properties,
        "customers": _with_rfm_updates(mirror, plan),
        "registry": registry_rows(plan, registry),
    }
    if counts is not None:
        changes.upserts["value_counts"] = counts.upserts
    gone = pl.DataFrame({"key": plan.erased_records}, schema={"key": pl.Utf8})
    alive = set(plan.customers["id"].to_list())
    retired = [c for c in plan.retired_customers if c not in alive]
    changes.deletes = {
        "records": gone,
        "record_traits": gone.rename({"key": "record"}),
        "identifiers": gone.rename({"key": "record"}),
        "blocks": gone.rename({"key": "record"}),
        "events": snapshot.events.filter(pl.col("record_key").is_in(plan.erased_records)).select(
            "id"
        ),
        "event_properties": snapshot.events.filter(
            pl.col("record_key").is_in(plan.erased_records)
        ).select("id"),
        "links": snapshot.links.filter(
            pl.col("a").is_in(plan.erased_records) | pl.col("b").is_in(plan.erased_records)
        ).select("a", "b", "rule"),
        "apart": pl.concat(
            [
                snapshot.apart.filter(
                    pl.col("a").is_in(plan.erased_records) | pl.col("b").is_in(plan.erased_records)
                ).select("a", "b"),
                plan.removed_apart,
            ]
        ),
        "customers": pl.DataFrame({"id": retired}, schema={"id": pl.Utf8}),
    }
    if counts is not None:
        changes.deletes["value_counts"] = counts.deletes
    return changes


def whole_registry(mirror: Mirror, changed: pl.DataFrame) -> pl.DataFrame:
    """Every registry entry, with this run's changes (a full run rewrites the table)."""
    stored = mirror.load("registry").join(changed.select("id"), on="id", how="anti")
    return pl.concat([stored, changed]).sort("id")


def _with_rfm_updates(mirror: Mirror, plan: WritePlan) -> pl.DataFrame:
    """The written customers, and stored ones whose RFM scores moved (whole rows)."""
    if plan.trait_updates.height == 0:
        return plan.customers
    ids = plan.trait_updates["id"]
    stored = mirror.where("customers", "id", ids)
    moved = stored.update(plan.trait_updates, on="id")
    return pl.concat([plan.customers, moved], how="diagonal_relaxed")


def registry_rows(plan: WritePlan, registry: Mapping[str, tuple[int, str]]) -> pl.DataFrame:
    """Registry rows this run writes: ids issued, and ids retired by a merge or erasure."""
    created = dict(plan.ids.created)

    def born(cid: str) -> int:
        return created.get(cid, registry.get(cid, (0, ""))[0])

    rows = [(cid, ts, "active") for cid, ts in plan.ids.created]
    rows += [(old, born(old), "merged") for old, *_ in plan.ids.merged]
    rows += [(cid, born(cid), "erased") for cid, _ in plan.ids.erased]
    return pl.DataFrame(
        {
            "id": [r[0] for r in rows],
            "created_ts": [r[1] for r in rows],
            "status": [r[2] for r in rows],
        },
        schema={"id": pl.Utf8, "created_ts": pl.Int64, "status": pl.Utf8},
    ).unique(subset=["id"], keep="last")
