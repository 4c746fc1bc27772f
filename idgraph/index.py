"""What each run writes to the scope index, and a check of the index against the graph.

LadybugDB plans any keyed walk over a relationship (`UNWIND $keys ... MATCH (r {key: k})-->()`)
as hash joins over whole tables, so finding a batch's scope that way costs seconds per
statement on a store of a million records, whatever the batch; a primary-key lookup costs
microseconds. So every run also writes, for what it changed, the neighbour lists `scope.py`
reads (`store/adjacency.py`): each record's identifier keys, customer, ties (explicit links and
cannot-links, either way) and event ids; each identifier's holders; each block's members; each
customer id's records. The relationships stay the truth every query and full run reads; an
incremental run rewrites only the lists that changed, a full run all of them, and a store
without the index is re-resolved whole once, which writes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from idgraph.models import EXPLICIT_LINK_RULES, Record, identifier_key
from idgraph.scope import Scope
from idgraph.store import adjacency
from idgraph.store.base import GraphStore
from idgraph.store.plan import RecordIndex, StoreState, WritePlan
from idgraph.store.queries import INDEX_CHECKS


def plan_index(
    plan: WritePlan,
    state: StoreState,
    scope: Scope | None,
    records: Mapping[str, Record],
) -> None:
    """Fill `plan.adjacency` with the index lists this run changes (all of them when full).

    Args:
        plan: the run's plan, complete but for the index.
        state: what was loaded from the store (everything on a full run, `scope` otherwise).
        scope: the incremental run's scope, or None on a full run.
        records: every record the run resolved (erased ones excluded).
    """
    full = scope is None
    erased = set(plan.erased_records)
    owner = {record: customer for customer, record in plan.memberships}
    ties = _ties(plan, state, full=full)
    events: dict[str, set[str]] = {}
    if full:
        for event in state.events:
            events.setdefault(event.record, set()).add(event.id)
    else:
        events = {key: set(index.event_ids) for key, index in state.index.items()}
    for arrived in plan.new_events:
        events.setdefault(arrived.record_key, set()).add(arrived.id)
    lists: dict[str, list[str]] = {}
    for key, resolved in sorted(records.items()):
        wanted = RecordIndex(
            sorted({identifier_key(kind, value) for kind, value in resolved.identifiers}),
            owner.get(key),
            sorted(ties.get(key, set()) - erased),
            sorted(events.get(key, ())),
        )
        stored = adjacency.record_lists(key, state.index.get(key, RecordIndex()))
        for entry, items in adjacency.record_lists(key, wanted).items():
            if full or items != stored[entry]:
                lists[entry] = items
    for key in erased:
        lists.update({entry: [] for entry in adjacency.record_lists(key, RecordIndex())})

    added = grouped((identifier, record) for record, identifier in plan.new_record_identifiers)
    if scope is None:
        holders = grouped(
            (identifier_key(kind, value), key)
            for key, record in records.items()
            for kind, value in record.identifiers
        )
        stored_holders: Mapping[str, list[str]] = {}
    else:
        stored_holders = scope.holders
        holders = {key: set(items) for key, items in stored_holders.items()}
        for key, new in added.items():
            holders.setdefault(key, set()).update(new)
    lists.update(_changed(adjacency.HOLDERS, holders, stored_holders, erased, full=full))

    members = grouped((block, record) for record, block in plan.add_blocks)
    stored_members: Mapping[str, list[str]] = {}
    if scope is not None:
        stored_members = scope.members
        for block, items in stored_members.items():
            members.setdefault(block, set()).update(items)
        for record, block in plan.drop_blocks:
            members.get(block, set()).discard(record)
    lists.update(_changed(adjacency.MEMBERS, members, stored_members, erased, full=full))

    by_customer = grouped(plan.memberships)
    before = grouped((customer, record) for record, customer in state.assignment.items())
    for cid in set(plan.retired_customers) - set(by_customer):
        lists[adjacency.entry(adjacency.RECORDS, cid)] = []
    for cid, keys in by_customer.items():
        if full or before.get(cid) != keys:
            lists[adjacency.entry(adjacency.RECORDS, cid)] = sorted(keys)
    plan.adjacency = lists


def _ties(plan: WritePlan, state: StoreState, *, full: bool) -> dict[str, set[str]]:
    """Each record's partners by an explicit link or a cannot-link, either way."""
    ties: dict[str, set[str]] = {}
    pairs = [(lk.a, lk.b) for lk in plan.new_links]
    pairs += [(a, b) for a, b, _, _ in plan.new_apart]
    if full:
        pairs += [(lk.a, lk.b) for lk in state.links] + list(state.apart)
    else:
        ties = {key: set(index.ties) for key, index in state.index.items()}
    for a, b in pairs:
        if a != b:
            ties.setdefault(a, set()).add(b)
            ties.setdefault(b, set()).add(a)
    return ties


def grouped(pairs: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    """Pairs `(key, value)` as key -> the set of its values."""
    out: dict[str, set[str]] = {}
    for key, value in pairs:
        out.setdefault(key, set()).add(value)
    return out


def _changed(
    kind: str,
    wanted: Mapping[str, set[str]],
    stored: Mapping[str, list[str]],
    erased: set[str],
    *,
    full: bool,
) -> dict[str, list[str]]:
    """The lists of `kind` that differ from the stored ones (erased records dropped)."""
    lists = {}
    for key in sorted(wanted):
        items = sorted(wanted[key] - erased)
        if full or items != stored.get(key, []):
            lists[adjacency.entry(kind, key)] = items
    return lists


def index_problems(graph: GraphStore) -> list[str]:
    """Where the scope index disagrees with the relationships it mirrors (empty: none).

    Reads the whole store; for tests and for checking a store by hand, never run by an ingest.
    """

    def pairs(name: str, **params: Any) -> list[tuple[str, str]]:
        return [(row["a"], row["b"]) for row in graph.query(name, INDEX_CHECKS[name], params)]

    identifiers = pairs("check_identifiers")
    customers = pairs("check_customers")
    links = pairs("check_ties", rules=sorted(EXPLICIT_LINK_RULES)) + pairs("check_apart")
    blocks = pairs("check_blocks")
    groups = {
        adjacency.IDENTIFIERS: identifiers,
        adjacency.CUSTOMER: customers,
        adjacency.TIES: [(a, b) for a, b in links if a != b] + [(b, a) for a, b in links if a != b],
        adjacency.EVENTS: pairs("check_events"),
        adjacency.HOLDERS: [(i, r) for r, i in identifiers],
        adjacency.MEMBERS: [(b, r) for r, b in blocks],
        adjacency.RECORDS: [(c, r) for r, c in customers],
    }
    wanted = {
        adjacency.entry(kind, key): sorted(items)
        for kind, found in groups.items()
        for key, items in grouped(found).items()
    }
    stored = {
        row["key"]: sorted(row["items"] or [])
        for row in graph.query("check_adjacency", INDEX_CHECKS["check_adjacency"])
    }
    return [
        f"{key}: index holds {stored.get(key)}, the graph says {wanted.get(key)}"
        for key in sorted(wanted.keys() | stored.keys())
        if wanted.get(key) != stored.get(key)
    ]
