"""Which stored records an incremental ingest must re-resolve, found through the store's indexes.

A batch can only change the customers its records could join: the holders of the identifiers
its records carry, the members of their fuzzy blocks a rule matches (blocks are kept in the
store as `Block` nodes), and, transitively, every record of those customers and every record
tied to them by an explicit link or cannot-link (and, one step out, by a linking identifier a
guard kept apart). Re-resolving that closure with the store-wide guard facts (identifier
verdicts decided over all holders, whole-store block sizes) gives the grouping a full
re-resolve gives; the records it reads grow with the batch, not the store.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from idgraph.block.keys import record_blocks
from idgraph.match.config import MatchConfig
from idgraph.match.decide import fuzzy_matches
from idgraph.match.view import match_fields
from idgraph.models import Record, identifier_key
from idgraph.store.base import GraphStore
from idgraph.store.plan import IdentifierRow

#: Safety stop for the closure; real data converges in two or three rounds.
_MAX_ROUNDS = 50


@dataclass(slots=True)
class Scope:
    """The records to re-resolve and the store-wide blocking facts they need."""

    #: Keys of every record to re-resolve: the batch's and the stored ones it may touch.
    keys: set[str] = field(default_factory=set)
    #: Identifier keys whose verdict must be decided again: those the batch's records carry.
    recompute: set[str] = field(default_factory=set)
    #: Block key -> its size in the whole store once this batch is in.
    block_sizes: dict[str, int] = field(default_factory=dict)
    #: Block keys not yet stored as `Block` nodes.
    new_blocks: set[str] = field(default_factory=set)
    #: (record, block) edges to add, and stale ones to remove (a changed record left a block).
    add_blocks: list[tuple[str, str]] = field(default_factory=list)
    drop_blocks: list[tuple[str, str]] = field(default_factory=list)
    #: Rounds the closure took, for the report and the benchmark.
    rounds: int = 0
    #: Stored identifiers more holders cannot make link again: kept as they are, their
    #: holders not loaded.
    settled: dict[str, IdentifierRow] = field(default_factory=dict)
    #: Stored records the batch repeats unchanged (no new event either): nothing to do.
    untouched: set[str] = field(default_factory=set)


def find_scope(
    graph: GraphStore,
    seeds: Mapping[str, Record],
    stored: Mapping[str, Record],
    config: MatchConfig,
    *,
    gone: Collection[Record] = (),
) -> Scope:
    """The closure of stored records that `seeds` may touch.

    Args:
        graph: the store.
        seeds: the records this run adds or changes (changed ones in their merged form), plus
            stored records an override names.
        stored: the stored form of those seeds that were stored before.
        config: the match config (its fuzzy rules define the blocks).
        gone: records being erased: their identifiers and blocks change holders' verdicts.
    """
    scope = Scope(keys=set(seeds))
    blocks_now = {k: record_blocks(match_fields(r), config.fuzzy) for k, r in seeds.items()}
    blocks_before = {k: record_blocks(match_fields(r), config.fuzzy) for k, r in stored.items()}
    for record in gone:
        blocks_before[record.key] = record_blocks(match_fields(record), config.fuzzy)
        blocks_now.setdefault(record.key, set())
    for record in seeds.values():
        scope.recompute.update(identifier_key(kind, value) for kind, value in record.identifiers)
    scope.settled = _settled_for_good(graph, scope.recompute)
    scope.recompute -= set(scope.settled)
    for record in gone:
        scope.recompute.update(identifier_key(kind, value) for kind, value in record.identifiers)

    delta: Counter[str] = Counter()
    for key, now in blocks_now.items():
        before = blocks_before.get(key, set())
        for block in now - before:
            delta[block] += 1
            scope.add_blocks.append((key, block))
        for block in before - now:
            delta[block] -= 1
            scope.drop_blocks.append((key, block))
    touched_blocks = set(delta) | {b for now in blocks_now.values() for b in now}
    counts = _block_counts(graph, touched_blocks)
    cap = config.max_block_size
    open_blocks = []
    for block in touched_blocks:
        size_before = counts.get(block, 0)
        size_after = size_before + delta[block]
        scope.block_sizes[block] = size_after
        # A block at or under the cap yields pairs; one crossing the cap changes all of its.
        if size_before <= cap or size_after <= cap:
            open_blocks.append(block)
    existing = {row["key"] for row in graph.scope_rows("scope_existing_blocks", touched_blocks)}
    scope.new_blocks = {b for b in touched_blocks if b not in existing and delta[b] > 0}

    found = {row["key"] for row in graph.scope_rows("scope_identifier_holders", scope.recompute)}
    crossing = [
        b for b in open_blocks if (counts.get(b, 0) <= cap) != (scope.block_sizes[b] <= cap)
    ]
    found |= {row["key"] for row in graph.scope_rows("scope_block_members", crossing)}
    members = {row["key"] for row in graph.scope_rows("scope_block_members", open_blocks)}
    found |= _matching(graph, seeds, members - set(seeds) - {r.key for r in gone}, config, scope)
    frontier = (found | set(stored) | {r.key for r in gone}) - {r.key for r in gone}
    scope.keys |= found
    for scope.rounds in range(1, _MAX_ROUNDS + 1):
        if not frontier:
            break
        reached: set[str] = set()
        # Records sharing a linking identifier across customers (a union a guard refused)
        # are followed one step from the records the batch meets directly; further out such
        # refusals stand, and this walk is the costliest of the three on a large store.
        names = ["scope_customer_mates", "scope_matched_mates"]
        if scope.rounds == 1:
            names.append("scope_identifier_mates")
        for name in names:
            reached |= {row["key"] for row in graph.scope_rows(name, frontier)}
        frontier = reached - scope.keys
        scope.keys |= frontier
    scope.keys -= {r.key for r in gone}

    # Blocks of the other records in scope keep their stored sizes.
    others = _stored_blocks(graph, scope.keys - set(seeds))
    unknown = {b for blocks in others.values() for b in blocks} - set(scope.block_sizes)
    scope.block_sizes.update(_block_counts(graph, unknown))
    return scope


def _settled_for_good(graph: GraphStore, keys: Collection[str]) -> dict[str, IdentifierRow]:
    """Stored identifiers that more holders can never make link again.

    One over `max_records`, or of a kind that never links, stays so however many records
    join it, so its (possibly thousands of) holders need not be re-resolved. A value refused
    for an identity limit can link again (an alias may join the two logins), so it is
    re-decided over all its holders.
    """
    settled: dict[str, IdentifierRow] = {}
    for row in graph.scope_rows("scope_identifier_verdicts", keys):
        reason = row["reason"] or ""
        if not row["linking"] and (
            reason.startswith("shared by ") or reason.endswith(" is not a linking identifier")
        ):
            key = row["key"]
            settled[key] = IdentifierRow(key, row["kind"], row["value"], False, reason)
    return settled


def _matching(
    graph: GraphStore,
    seeds: Mapping[str, Record],
    mates: set[str],
    config: MatchConfig,
    scope: Scope,
) -> set[str]:
    """The stored block mates a fuzzy rule matches with a seed.

    Only those can join a seed's customer; the others' pairs with each other are decided
    as before, so their customers need not be re-resolved.
    """
    if not mates:
        return set()
    stored = graph.load_records(mates, identifiers=False)
    records = [*seeds.values(), *stored]
    views = [match_fields(r) for r in records]
    matched = set()
    for edge in fuzzy_matches(records, views, config, block_sizes=scope.block_sizes):
        if (edge.a in seeds) != (edge.b in seeds):
            matched.add(edge.b if edge.a in seeds else edge.a)
    return matched


def _block_counts(graph: GraphStore, blocks: Collection[str]) -> dict[str, int]:
    return {row["key"]: int(row["n"]) for row in graph.scope_rows("scope_block_sizes", blocks)}


def _stored_blocks(graph: GraphStore, keys: Collection[str]) -> dict[str, set[str]]:
    blocks: dict[str, set[str]] = {}
    for row in graph.scope_rows("scope_record_blocks", keys):
        blocks.setdefault(row["record"], set()).add(row["block"])
    return blocks
