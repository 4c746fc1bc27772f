"""What one run writes: records, identifiers, evidence, customers, ids, traits — as frames.

`plan_changes` resolves the records it is given (the whole store, or an incremental run's
scope) with the stage functions — match view, blocking, comparisons, verdicts, clustering,
customers, ids, traits — and returns the `WritePlan` a store applies in one transaction, with
the mirror's changes beside it. `pipeline.py` decides which records those are and applies the
plan. The steps that fill the plan live with their stage: the merged records
(`idgraph.state.merge`), customer ids (`idgraph.cluster.id_plan`), customer rows and traits
(`idgraph.traits.customer_rows`), what is kept as stored (`idgraph.state.unchanged`) and the
mirror's changes (`idgraph.state.changes`).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import polars as pl
from pydantic import BaseModel, ConfigDict

from idgraph.block.keys import BlockingStats
from idgraph.cluster.components import Constraints, cluster
from idgraph.cluster.customers import build_customers
from idgraph.cluster.id_plan import (
    IdReasons,
    id_registry,
    plan_ids,
)
from idgraph.cluster.split import ComponentSplit, split_oversized
from idgraph.errors import ConfigError, NotFoundError
from idgraph.match.config import MatchConfig
from idgraph.match.decide import collect_evidence
from idgraph.match.edges import FUZZY, evidence_objects
from idgraph.match.identity import identity_classes
from idgraph.match.model import MatchModel
from idgraph.match.scored import (
    MODEL_KEY,
    Frequencies,
    counted_frequencies,
    lifted_config,
)
from idgraph.match.tolerance import guard_values
from idgraph.match.view import VIEW_FIELDS, match_view, with_customer_ids
from idgraph.models import BlockedLink, MatchEvidence
from idgraph.normalize.fold import Gathered
from idgraph.stages import Progress
from idgraph.state.changes import counted_changes, mirror_changes
from idgraph.state.merge import Merged, merge_records
from idgraph.state.mirror import Mirror
from idgraph.state.scope import Scope, id_keys
from idgraph.state.snapshot import Snapshot
from idgraph.state.unchanged import keep_unchanged
from idgraph.store.plan import APART_ROWS, EVIDENCE, LINK_ROWS, PAIRS, VERDICTS, WritePlan
from idgraph.traits.columns import new_columns
from idgraph.traits.config import TraitsConfig
from idgraph.traits.customer_rows import customer_rows

logger = logging.getLogger(__name__)

__all__ = [
    "Overrides",
    "PlanStats",
    "SharedFacts",
    "plan_changes",
    "verdict_changes",
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
    #: Guards the run's model lifted (`MatchModel.lifted`).
    lifted: list[str] = field(default_factory=list)
    #: Accepted and refused links as objects, for dry runs (`resolution_changes`).
    accepted: list[MatchEvidence] = field(default_factory=list)
    blocked_links: list[BlockedLink] = field(default_factory=list)
    #: What the run's record keeps (`idgraph.run_record`): blocking per fuzzy rule,
    #: candidate links accepted per rule, refused per (rule, guard).
    blocking: list[BlockingStats] = field(default_factory=list)
    links: dict[str, int] = field(default_factory=dict)
    refused: dict[tuple[str, str], int] = field(default_factory=dict)


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


def _id_reasons(overrides: Overrides, erase: set[str]) -> IdReasons:
    split = ""
    if erase:
        split = "records erased (idgraph forget)"
    elif overrides.cannot_link:
        split = f"split by a reviewer: {overrides.reason or 'no reason given'}"
    undone = f"split undone: {overrides.reason or 'no reason given'}; " if overrides.uncut else ""
    return IdReasons(split, undone)


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
    view = match_view(with_customer_ids(records, merged.identifiers), VIEW_FIELDS)
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
    if evidence.model is not None:
        config = lifted_config(config, evidence.model.lifted)
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
    registry = id_registry(mirror, snapshot.assignment["customer"].unique(), keys, clustering)
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
    plan_ids(
        plan,
        registry,
        previous,
        snapshot.assignment["customer"].unique(),
        customers,
        keys,
        evidence,
        clustering,
        _id_reasons(overrides, erase_set),
        now_ms,
    )
    blocked = len(clustering.blocked)
    links, refused = _link_counts(evidence.edges, accepted, clustering.blocked)
    if consume and not explain:
        evidence.edges = evidence.edges.clear()
        clustering.blocked = []
    del fuzzy
    customer_rows(
        plan,
        customers,
        splits,
        snapshot,
        merged.traits,
        traits,
        as_of_ms=as_of_ms,
        mirror=mirror if scope is not None else None,
        progress=step,
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
        keep_unchanged(mirror, plan, snapshot, scope, merged)
    plan.state = mirror_changes(
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
        lifted=list(evidence.model.lifted) if evidence.model is not None else [],
        blocking=evidence.blocking,
        links=links,
        refused=refused,
    )
    if explain:
        stats.accepted = evidence_objects(keys, evidence.edges, accepted.tolist())
        objects = evidence_objects(keys, evidence.edges, [i for i, _ in clustering.blocked])
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


def _records_outside(mirror: Mirror, snapshot: Snapshot) -> int:
    """Stored records an incremental run does not re-resolve."""
    stored = int(mirror.view("records", ["key"]).select(pl.len()).collect().item())
    return stored - snapshot.records.height


def _event_spans(stored: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    both = pl.concat([stored.select("record_key", "ts"), new.select("record_key", "ts")])
    return (
        both.group_by("record_key")
        .agg(pl.col("ts").min().alias("first"), pl.col("ts").max().alias("last"))
        .rename({"record_key": "record"})
    )
