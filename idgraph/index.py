"""The scope index: the adjacency an incremental ingest walks, kept as node properties.

LadybugDB plans any keyed walk over a relationship (`UNWIND $keys ... MATCH (r {key: k})-->()`)
as hash joins over whole tables, so finding a batch's scope that way costs seconds per
statement on a store of a million records, whatever the batch. A primary-key lookup costs
microseconds. So every run also writes, for what it changed, the neighbours `scope.py` needs
(`schema.INDEX_COLUMNS`): each record's identifier keys, customer, ties (explicit links and
cannot-links, either way) and event ids; each identifier's holders; each block's members; each
customer id's records. The relationships stay the truth every query and full run reads; a run
rewrites only the index rows whose value changed, and a store without the index is
re-resolved whole once, which writes all of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from idgraph.models import EXPLICIT_LINK_RULES, Record, identifier_key
from idgraph.scope import Scope
from idgraph.store.base import GraphStore
from idgraph.store.plan import RecordIndex, StoreState, WritePlan
from idgraph.store.queries import INDEX_CHECKS


def plan_index(
    plan: WritePlan,
    state: StoreState,
    scope: Scope | None,
    records: Mapping[str, Record],
) -> None:
    """Fill `plan.index_*` with the index rows this run changes.

    Args:
        plan: the run's plan, complete but for the index.
        state: what was loaded from the store (everything on a full run, `scope` otherwise).
        scope: the incremental run's scope, or None on a full run.
        records: every record the run resolved (erased ones excluded).
    """
    erased = set(plan.erased_records)
    owner = {record: customer for customer, record in plan.memberships}
    ties = _ties(plan, state, full=scope is None)
    events: dict[str, set[str]] = {}
    if scope is None:
        for stored in state.events:
            events.setdefault(stored.record, set()).add(stored.id)
    else:
        events = {key: set(index.event_ids) for key, index in state.index.items()}
    for event in plan.new_events:
        events.setdefault(event.record_key, set()).add(event.id)
    for key, resolved in sorted(records.items()):
        wanted = RecordIndex(
            sorted({identifier_key(kind, value) for kind, value in resolved.identifiers}),
            owner.get(key),
            sorted(ties.get(key, set()) - erased),
            sorted(events.get(key, ())),
        )
        if state.index.get(key) != wanted:
            plan.index_records.append(wanted.row(key))

    added = _grouped((identifier, record) for record, identifier in plan.new_record_identifiers)
    if scope is None:
        holders = _grouped(
            (identifier_key(kind, value), key)
            for key, record in records.items()
            for kind, value in record.identifiers
        )
        stored_holders: Mapping[str, list[str] | None] = state.holders
    else:
        stored_holders = scope.holders
        holders = {key: set(stored_holders.get(key) or ()) for key in stored_holders}
        for key, new in added.items():
            holders.setdefault(key, set()).update(new)
    plan.index_identifiers = _changed("key", "holders", holders, stored_holders, erased)

    members = _grouped((block, record) for record, block in plan.add_blocks)
    stored_members: Mapping[str, list[str] | None] = {}
    if scope is not None:
        stored_members = scope.members
        members = {b: set(m) | members.get(b, set()) for b, m in scope.members.items()} | {
            b: m for b, m in members.items() if b not in scope.members
        }
        for record, block in plan.drop_blocks:
            members.get(block, set()).discard(record)
    plan.index_blocks = _changed("key", "members", members, stored_members, erased)

    by_customer = _grouped(plan.memberships)
    plan.index_customer_ids = [
        {"id": cid, "records": sorted(keys)} for cid, keys in sorted(by_customer.items())
    ]
    plan.index_customer_ids += [
        {"id": cid, "records": []} for cid in sorted(set(plan.retired_customers) - set(by_customer))
    ]


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


def _grouped(pairs: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    grouped: dict[str, set[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, set()).add(value)
    return grouped


def _changed(
    key_name: str,
    value_name: str,
    wanted: Mapping[str, set[str]],
    stored: Mapping[str, list[str] | None],
    erased: set[str],
) -> list[dict[str, Any]]:
    """Rows for the nodes whose list differs from the stored one (erased records dropped)."""
    rows = []
    for key in sorted(wanted):
        value = sorted(wanted[key] - erased)
        if value != stored.get(key):
            rows.append({key_name: key, value_name: value})
    return rows


def index_problems(graph: GraphStore) -> list[str]:
    """Where the scope index disagrees with the relationships it mirrors (empty: none).

    Reads the whole store; for tests and for checking a store by hand, never run by an ingest.
    """

    def pairs(name: str, **params: Any) -> list[tuple[str, str]]:
        return [(row["a"], row["b"]) for row in graph.query(name, INDEX_CHECKS[name], params)]

    problems: list[str] = []
    identifiers = _grouped(pairs("check_identifiers"))
    customer = dict(pairs("check_customers"))
    links = pairs("check_ties", rules=sorted(EXPLICIT_LINK_RULES)) + pairs("check_apart")
    ties = _grouped([*links, *((b, a) for a, b in links)])
    events = _grouped(pairs("check_events"))
    for row in graph.query("index_records", INDEX_CHECKS["index_records"]):
        key = row["key"]
        stored = RecordIndex(
            list(row["identifier_keys"] or []),
            row["customer"],
            list(row["ties"] or []),
            list(row["event_ids"] or []),
        )
        wanted = RecordIndex(
            sorted(identifiers.get(key, ())),
            customer.get(key),
            sorted(ties.get(key, set()) - {key}),
            sorted(events.get(key, ())),
        )
        if stored != wanted:
            problems.append(f"Record {key}: index {stored} but relationships say {wanted}")
    holders = _grouped((i, r) for r, i in pairs("check_identifiers"))
    for row in graph.query("index_identifiers", INDEX_CHECKS["index_identifiers"]):
        if sorted(row["holders"] or []) != sorted(holders.get(row["key"], ())):
            problems.append(f"Identifier {row['key']}: holders {row['holders']}")
    members = _grouped((b, r) for r, b in pairs("check_blocks"))
    for row in graph.query("index_blocks", INDEX_CHECKS["index_blocks"]):
        if sorted(row["members"] or []) != sorted(members.get(row["key"], ())):
            problems.append(f"Block {row['key']}: members {row['members']}")
    records_of = _grouped((c, r) for r, c in customer.items())
    for row in graph.query("index_customer_ids", INDEX_CHECKS["index_customer_ids"]):
        if sorted(row["records"] or []) != sorted(records_of.get(row["id"], ())):
            problems.append(f"CustomerId {row['id']}: records {row['records']}")
    return problems
