"""What happened to customer ids in one re-resolution: absorbed ids, split-off parts, moved records.

Ids are handed to other systems, so every change is recorded in the store (`MERGED_INTO`,
`SPLIT_FROM`, `MOVED_TO` between `CustomerId` nodes) with its time and evidence; `idgraph
history` reads it back and a lookup by an absorbed id answers with the survivor.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from idgraph.models import BlockedLink, MatchEvidence

_T = TypeVar("_T")

#: Evidence links kept per change; the rest is counted.
_MAX_EVIDENCE = 5


@dataclass(frozen=True, slots=True)
class Absorbed:
    """Customer `old` was merged into `survivor`; `records` of its records moved there."""

    old: str
    survivor: str
    records: int
    evidence: str


@dataclass(frozen=True, slots=True)
class SplitOff:
    """Customer `new` was cut out of `origin`, taking `records` of its records."""

    new: str
    origin: str
    records: int
    reason: str


@dataclass(frozen=True, slots=True)
class Moved:
    """`records` of customer `origin`'s records left it for `target`, a customer that survives.

    Neither a merge (both ids live on) nor a split (no new id): without it a record pulled
    from one customer into another by an override or a guard would leave no trace in either
    id's history.
    """

    origin: str
    target: str
    records: int
    #: Why they left `origin`: the refused links, or the caller's reason.
    reason: str
    #: The links that joined them to `target`.
    evidence: str


@dataclass(frozen=True, slots=True)
class Lineage:
    absorbed: list[Absorbed]
    split_off: list[SplitOff]
    moved: list[Moved]


def lineage(
    before: Mapping[str, str],
    after: Sequence[tuple[str, str]],
    accepted: Sequence[MatchEvidence],
    blocked: Sequence[BlockedLink],
    *,
    split_reason: str = "",
    previous_ids: Collection[str] | None = None,
) -> Lineage:
    """Compare `before` (record -> old id) with `after` (new id, record) memberships.

    Args:
        split_reason: why parts split when the caller knows (a reviewer's split, an erasure);
            otherwise the refused links between the parts, or that no evidence joins them.
        previous_ids: every id that existed before, when `before` holds only the records of
            the ids that changed (a part with an older id is a move, not a split).
    """
    new_of = {record: customer for customer, record in after}
    members: dict[str, set[str]] = defaultdict(set)
    for customer, record in after:
        members[customer].add(record)
    alive = set(members)
    moved: dict[str, Counter[str]] = defaultdict(Counter)
    groups: dict[str, set[str]] = defaultdict(set)
    for record, old in before.items():
        groups[old].add(record)
        if record in new_of:
            moved[old][new_of[record]] += 1
    absorbed: list[Absorbed] = []
    split_off: list[SplitOff] = []
    moves: list[Moved] = []
    # Evidence and refusals by the records they touch, in their given order: a run with many
    # merges would otherwise scan all of them once per merged id.
    accepted_at = _positions((e.a, e.b) for e in accepted)
    blocked_at = _positions((b.evidence.a, b.evidence.b) for b in blocked)
    for old, targets in sorted(moved.items()):
        old_records = groups[old]
        if old not in alive:
            survivor = min(targets, key=lambda c: (-targets[c], c))
            links = [
                e
                for e in _touching(accepted, accepted_at, old_records)
                if new_of.get(e.a) == survivor and (e.a in old_records) != (e.b in old_records)
            ]
            absorbed.append(
                Absorbed(old, survivor, targets[survivor], _describe([_link(e) for e in links]))
            )
        for part, count in sorted(targets.items()):
            if part == old or part not in alive:
                continue
            if old not in alive and part == min(targets, key=lambda c: (-targets[c], c)):
                continue
            reason = split_reason or _split_reason(
                _touching(blocked, blocked_at, old_records), old_records, members[part], new_of
            )
            if part not in groups and (previous_ids is None or part not in previous_ids):
                split_off.append(SplitOff(part, old, count, reason))
                continue
            joined = [
                _link(e)
                for e in _touching(accepted, accepted_at, old_records)
                if new_of.get(e.a) == part == new_of.get(e.b)
                and (e.a in old_records) != (e.b in old_records)
            ]
            moves.append(Moved(old, part, count, reason, _describe(joined)))
    return Lineage(absorbed, split_off, moves)


def _positions(ends: Iterable[tuple[str, str]]) -> dict[str, list[int]]:
    at: dict[str, list[int]] = defaultdict(list)
    for position, (a, b) in enumerate(ends):
        at[a].append(position)
        at[b].append(position)
    return at


def _touching(items: Sequence[_T], at: Mapping[str, list[int]], records: set[str]) -> list[_T]:
    """The items with an end among `records`, in their order in `items`."""
    return [items[i] for i in sorted({i for r in records for i in at.get(r, ())})]


def _split_reason(
    blocked: Sequence[BlockedLink],
    old_records: set[str],
    part: set[str],
    new_of: Mapping[str, str],
) -> str:
    refused = [
        f"{_link(b.evidence)} refused: {b.reason}"
        for b in blocked
        if {b.evidence.a, b.evidence.b} <= old_records
        and (b.evidence.a in part) != (b.evidence.b in part)
        and b.evidence.a in new_of
    ]
    return _describe(refused) or "no evidence joins the parts any more"


def _link(evidence: MatchEvidence) -> str:
    fields = ",".join(evidence.fields)
    return f"{evidence.a} ~ {evidence.b} by {evidence.rule} ({fields}, {evidence.score:.2f})"


def _describe(lines: list[str]) -> str:
    if len(lines) > _MAX_EVIDENCE:
        lines = [*lines[:_MAX_EVIDENCE], f"... and {len(lines) - _MAX_EVIDENCE} more"]
    return "; ".join(lines)
