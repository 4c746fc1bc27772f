"""What one run writes: records, identifiers, evidence, customers, ids, traits and blocks.

`plan_changes` resolves the records it is given (the whole store, or an incremental run's
scope) and returns the `WritePlan` a store applies in one transaction; `pipeline.py` decides
which records those are and applies the plan.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from idgraph.block.keys import record_blocks
from idgraph.cluster.components import BlockedLink, Clustering, cluster
from idgraph.cluster.customers import build_customers
from idgraph.cluster.ids import new_customer_id
from idgraph.cluster.lineage import lineage
from idgraph.cluster.split import ComponentSplit, split_oversized
from idgraph.errors import ConfigError, NotFoundError
from idgraph.index import grouped, plan_index
from idgraph.ingest.batch import SourceBatch
from idgraph.match.config import MatchConfig
from idgraph.match.decide import collect_evidence
from idgraph.match.view import match_fields
from idgraph.models import EXPLICIT_LINK_RULES, Event, Link, MatchEvidence, Record, identifier_key
from idgraph.scope import Scope
from idgraph.store.base import GraphStore
from idgraph.store.plan import IdentifierRow, StoreState, WritePlan
from idgraph.store.rows import coerce, record_row
from idgraph.store.schema import NODE_TABLES, ColumnType, check_property_name
from idgraph.traits.compute import compute_traits, events_frame, rfm_scores, rfm_text
from idgraph.traits.config import TraitsConfig

logger = logging.getLogger(__name__)


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


@dataclass(slots=True)
class Batch:
    """The records, events and links of all files of one run, each once."""

    records: dict[str, Record]
    events: dict[str, Event]
    links: list[Link]
    #: Which of `events` the store holds already (filled once per run).
    stored_events: set[str] = field(default_factory=set)


def gather(batches: Sequence[SourceBatch]) -> Batch:
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
    return Batch(records, events, links)


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
    accepted: list[MatchEvidence]
    blocked_links: list[BlockedLink]
    splits: list[ComponentSplit]


def plan_changes(
    graph: GraphStore,
    state: StoreState,
    batch: Batch,
    config: MatchConfig,
    traits: TraitsConfig,
    as_of_ms: int,
    overrides: Overrides,
    scope: Scope | None,
    erase: set[str],
) -> tuple[WritePlan, PlanStats]:
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
    plan.new_events = [
        e for eid, e in sorted(batch.events.items()) if eid not in batch.stored_events
    ]
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
    plan_index(plan, state, scope, records)
    if scope is not None:
        _keep_unchanged(graph, plan, state, scope)
    not_linking = Counter(v.kind for v in evidence.identifiers.values() if not v.linking)
    stats = PlanStats(
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


def _keep_unchanged(
    graph: GraphStore,
    plan: WritePlan,
    state: StoreState,
    scope: Scope,
) -> None:
    """Leave out of the plan the customers of the scope that come out exactly as stored.

    Most of a scope is neighbours: records read because the batch might join them, whose
    customer ends up with the same records and the same traits. Rewriting those would be
    correct but is the costliest write the embedded engine has (deleting nodes and
    relationships scattered through the store), so a customer is kept as stored when its id,
    its records and every property but `updated_ts` are unchanged, and none of its records
    could have different computed evidence: none is new, changed, erased or named by a link
    or override, none gained an event, none holds an identifier whose verdict changed, and
    none sits in a block crossing the size cap.
    """
    dirty = {r.key for r in [*plan.new_records, *plan.changed_records]}
    dirty |= {e.record_key for e in plan.new_events} | set(plan.erased_records)
    dirty |= {k for lk in plan.new_links for k in (lk.a, lk.b)}
    dirty |= {k for a, b, _, _ in plan.new_apart for k in (a, b)} | scope.unsettled
    flipped = {row.key for row in plan.changed_identifiers}
    dirty |= {h for key in flipped for h in scope.holders.get(key, ())}
    before = grouped((customer, record) for record, customer in state.assignment.items())
    now = grouped(plan.memberships)
    candidates = {cid for cid, keys in now.items() if before.get(cid) == keys and not keys & dirty}
    if not candidates:
        return
    types = {**NODE_TABLES["Customer"], **state.customer_columns, **plan.customer_columns}
    stored = {
        row["customer"]["id"]: row["customer"]
        for row in graph.scope_rows("scope_customers", candidates, param="ids")
    }
    same = {
        row["id"]
        for row in plan.customers
        if row["id"] in candidates
        and row["id"] in stored
        and _same_customer(row, stored[row["id"]], types)
    }
    if not same:
        return
    kept = {record for cid in same for record in now[cid]}
    plan.customers = [row for row in plan.customers if row["id"] not in same]
    plan.memberships = [(c, r) for c, r in plan.memberships if c not in same]
    plan.retired_customers = [c for c in plan.retired_customers if c not in same]
    plan.scope_records = [k for k in plan.scope_records if k not in kept]
    plan.evidence = [e for e in plan.evidence if e.a not in kept]


def _same_customer(
    row: Mapping[str, object], stored: Mapping[str, object], types: Mapping[str, ColumnType]
) -> bool:
    """Whether a customer row equals the stored node, value for value as the store holds it."""
    names = set(row) | {name for name, value in stored.items() if value is not None}
    return all(
        coerce(row.get(name), types.get(name, "STRING")) == stored.get(name)
        for name in names - {"updated_ts"}
    )


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
    """Record what happened to customer ids: issued, absorbed, split off, records moved, erased."""
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
    plan.ids.moved = [
        (m.origin, m.target, now_ms, m.reason, m.evidence, m.records) for m in changes.moved
    ]
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
    customers alone: the stored measures of the others are read (one scan of the buyers,
    column by column) and every score a full run would change is changed.
    """
    written = {row["id"]: row for row in plan.customers}
    skip = set(written) | set(plan.retired_customers)
    stored: dict[str, list[Any]] = {}
    if "rfm_orders" in state.customer_columns:
        stored = graph.query_columns("rfm_population", _RFM_POPULATION)
    kept = [i for i, cid in enumerate(stored.get("id", [])) if cid not in skip]

    def others(column: str, default: object = None) -> list[Any]:
        values = stored.get(column, [])
        return [default if values[i] is None else values[i] for i in kept]

    buyers = [row for row in plan.customers if (row.get("rfm_orders") or 0) > 0]
    recency, frequency, monetary = rfm_scores(
        [row["rfm_last_order_ts"] for row in buyers] + others("last"),
        [row["rfm_orders"] for row in buyers] + others("orders"),
        [row["rfm_spent"] for row in buyers] + others("spent", 0.0),
    )
    text = rfm_text(recency, frequency, monetary)

    def scores(position: int) -> dict[str, object]:
        return {
            "rfm_recency": int(recency[position]),
            "rfm_frequency": int(frequency[position]),
            "rfm_monetary": int(monetary[position]),
            "rfm_score": text[position],
        }

    for position, row in enumerate(buyers):
        row.update(scores(position))
    ids, before = others("id"), others("score")
    for offset, (customer_id, score) in enumerate(zip(ids, before, strict=True)):
        if text[len(buyers) + offset] != score:
            plan.trait_updates.append({"id": customer_id, **scores(len(buyers) + offset)})


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
