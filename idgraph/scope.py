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
from idgraph.store import adjacency
from idgraph.store.base import GraphStore
from idgraph.store.plan import IdentifierRow, KnownRows

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
    #: Stored holders of every identifier the seeds or erased records carry, and stored
    #: members of every block they touch, for the scope index to be kept (`idgraph/index.py`).
    holders: dict[str, list[str]] = field(default_factory=dict)
    members: dict[str, list[str]] = field(default_factory=dict)
    #: Stored records whose computed evidence may change though their customer does not:
    #: members of blocks crossing the size cap.
    unsettled: set[str] = field(default_factory=set)
    #: What finding the scope read of its records, for loading their state without reading
    #: it again.
    known: KnownRows = field(default_factory=KnownRows)


def find_scope(
    graph: GraphStore,
    seeds: Mapping[str, Record],
    stored: Mapping[str, Record],
    config: MatchConfig,
    *,
    gone: Collection[Record] = (),
) -> Scope:
    """The closure of stored records that `seeds` may touch.

    Every read is by primary key, neighbours through the scope index (`store/adjacency.py`).

    Args:
        graph: the store.
        seeds: the records this run adds or changes (changed ones in their merged form), plus
            stored records an override names.
        stored: the stored form of those seeds that were stored before.
        config: the match config (its fuzzy rules define the blocks).
        gone: records being erased: their identifiers and blocks change holders' verdicts.
    """
    scope = Scope(keys=set(seeds))
    gone_keys = {r.key for r in gone}
    blocks_now = {k: record_blocks(match_fields(r), config.fuzzy) for k, r in seeds.items()}
    blocks_before = {k: record_blocks(match_fields(r), config.fuzzy) for k, r in stored.items()}
    for record in gone:
        blocks_before[record.key] = record_blocks(match_fields(record), config.fuzzy)
        blocks_now.setdefault(record.key, set())
    carried = {identifier_key(k, v) for r in seeds.values() for k, v in r.identifiers}
    erased = {identifier_key(k, v) for r in gone for k, v in r.identifiers}
    identifiers = _identifiers(graph, carried | erased, scope.known)
    scope.holders = adjacency.read(graph, adjacency.HOLDERS, carried | erased)
    scope.settled = {
        key: row for key in carried if key in identifiers and _settled(row := identifiers[key])
    }
    scope.recompute = (carried - set(scope.settled)) | erased

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
    scope.members = adjacency.read(graph, adjacency.MEMBERS, touched_blocks)
    cap = config.max_block_size
    open_blocks = []
    for block in touched_blocks:
        size_before = len(scope.members.get(block, ()))
        size_after = size_before + delta[block]
        scope.block_sizes[block] = size_after
        # A block at or under the cap yields pairs; one crossing the cap changes all of its.
        if size_before <= cap or size_after <= cap:
            open_blocks.append(block)
    existing = {row["key"] for row in graph.scope_rows("scope_existing_blocks", touched_blocks)}
    scope.new_blocks = {b for b in touched_blocks if b not in existing and delta[b] > 0}

    found = {h for key in scope.recompute for h in scope.holders.get(key, ())}
    for block in open_blocks:
        size_before = len(scope.members.get(block, ()))
        if (size_before <= cap) != (scope.block_sizes[block] <= cap):
            found.update(scope.members.get(block, ()))
            scope.unsettled.update(scope.members.get(block, ()))
    mates = {m for block in open_blocks for m in scope.members.get(block, ())}
    scope.known.records.update(stored)
    found |= _matching(graph, seeds, mates - set(seeds) - gone_keys, config, scope)
    frontier = (found | set(stored) | gone_keys) - gone_keys
    # An erased record's ties (explicit links, cannot-links) lose it: their partners are
    # re-resolved, and so rewritten.
    for ties in adjacency.read(graph, adjacency.TIES, gone_keys).values():
        frontier.update(ties)
    frontier -= gone_keys
    scope.keys |= found
    for scope.rounds in range(1, _MAX_ROUNDS + 1):
        if not frontier:
            break
        reached = _neighbours(graph, frontier, scope.known, follow_identifiers=scope.rounds == 1)
        frontier = reached - scope.keys - gone_keys
        scope.keys |= frontier
    scope.keys -= gone_keys

    return scope


def add_block_sizes(
    graph: GraphStore, scope: Scope, records: Collection[Record], config: MatchConfig
) -> None:
    """The stored sizes of the blocks of the scope's other records, which keep them.

    Called once their state is loaded (`records`), so they are not read twice.
    """
    unknown = {b for r in records for b in record_blocks(match_fields(r), config.fuzzy)}
    unknown -= set(scope.block_sizes)
    stored = adjacency.read(graph, adjacency.MEMBERS, unknown)
    scope.block_sizes.update({b: len(stored.get(b, ())) for b in unknown})


def _neighbours(
    graph: GraphStore, keys: Collection[str], known: KnownRows, *, follow_identifiers: bool
) -> set[str]:
    """Records sharing a customer with `keys`, or tied to them by a link or cannot-link.

    Records sharing a linking identifier across customers (a union a guard refused) are
    followed one step from the records the batch meets directly (`follow_identifiers`);
    further out such refusals stand. The index entries read are kept in `known`.
    """
    index = adjacency.read_records(graph, keys)
    known.index.update(index)
    reached = {t for entry in index.values() for t in entry.ties}
    customers = {entry.customer for entry in index.values() if entry.customer}
    for records in adjacency.read(graph, adjacency.RECORDS, customers).values():
        reached.update(records)
    if follow_identifiers:
        wanted = {k for entry in index.values() for k in entry.identifier_keys}
        linking = {key for key, row in _identifiers(graph, wanted, known).items() if row.linking}
        for holders in adjacency.read(graph, adjacency.HOLDERS, linking).values():
            reached.update(holders)
    return reached


def _identifiers(
    graph: GraphStore, keys: Collection[str], known: KnownRows
) -> dict[str, IdentifierRow]:
    """The stored identifiers among `keys`, with their verdicts; those already in `known` are
    not read again, and those read are kept there."""
    unread = [key for key in keys if key not in known.identifiers]
    for row in graph.scope_rows("scope_identifiers", unread):
        known.identifiers[row["key"]] = IdentifierRow(
            row["key"], row["kind"], row["value"], bool(row["linking"]), row["reason"] or ""
        )
    return {key: known.identifiers[key] for key in keys if key in known.identifiers}


def _settled(row: IdentifierRow) -> bool:
    """Whether more holders can never make this stored identifier link again.

    One over `max_records`, or of a kind that never links, stays so however many records
    join it, so its (possibly thousands of) holders need not be re-resolved. A value refused
    for an identity limit can link again (an alias may join the two logins), so it is
    re-decided over all its holders.
    """
    return not row.linking and (
        row.reason.startswith("shared by ") or row.reason.endswith(" is not a linking identifier")
    )


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
    scope.known.records.update((r.key, r) for r in stored)
    records = [*seeds.values(), *stored]
    views = [match_fields(r) for r in records]
    matched = set()
    for edge in fuzzy_matches(records, views, config, block_sizes=scope.block_sizes):
        if (edge.a in seeds) != (edge.b in seeds):
            matched.add(edge.b if edge.a in seeds else edge.a)
    return matched
