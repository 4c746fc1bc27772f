"""Oversized components: split by dropping their weakest links, and say so.

A component far larger than any household is almost always strangers chained through weak
evidence. Its links are dropped from the weakest up, one score at a time, until every part fits
under the limit; the dropped links become refusals with the reason a reviewer reads. Explicit
links (alias, must_link) are never dropped; a component that explicit links alone hold over the
limit stays whole and flagged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from idgraph.cluster.components import BlockedLink, Clustering
from idgraph.models import EXPLICIT_LINK_RULES, MatchEvidence, Record

__all__ = ["ComponentSplit", "split_oversized"]


@dataclass(frozen=True, slots=True)
class ComponentSplit:
    """One oversized component cut into parts, and the score at and below which links went."""

    records: int
    parts: list[int]
    dropped_at_or_below: float
    reason: str
    record_keys: list[str]


def split_oversized(
    records: Sequence[Record], clustering: Clustering, *, limit: int
) -> list[ComponentSplit]:
    """Split every component over `limit` records in place; return what was split."""
    index = {r.key: i for i, r in enumerate(records)}
    by_label: dict[int, list[MatchEvidence]] = defaultdict(list)
    for edge in clustering.accepted:
        by_label[clustering.labels[index[edge.a]]].append(edge)
    sizes: dict[int, int] = defaultdict(int)
    for label in clustering.labels:
        sizes[label] += 1
    splits = []
    for label, size in sorted(sizes.items()):
        if size <= limit:
            continue
        members = [i for i, lab in enumerate(clustering.labels) if lab == label]
        edges = by_label[label]
        cut = _lowest_cut(members, edges, index, limit)
        if cut is None:
            continue
        kept = [e for e in edges if _keeps(e, cut)]
        parts = _components(members, kept, index)
        reason = (
            f"component of {size} records over flag_component_records {limit}: links "
            f"scoring {cut:.3f} or less were dropped"
        )
        dropped = {id(e) for e in edges} - {id(e) for e in kept}
        clustering.accepted = [e for e in clustering.accepted if id(e) not in dropped]
        clustering.blocked.extend(BlockedLink(e, reason) for e in edges if id(e) in dropped)
        for part in parts:
            root = min(part)
            for i in part:
                clustering.labels[i] = root
        splits.append(
            ComponentSplit(
                records=size,
                parts=sorted((len(p) for p in parts), reverse=True),
                dropped_at_or_below=cut,
                reason=reason,
                record_keys=sorted(records[i].key for i in members),
            )
        )
    return splits


def _keeps(edge: MatchEvidence, cut: float) -> bool:
    return edge.rule in EXPLICIT_LINK_RULES or edge.score > cut


def _lowest_cut(
    members: list[int], edges: list[MatchEvidence], index: dict[str, int], limit: int
) -> float | None:
    """The smallest score whose links (and all weaker) must go for every part to fit."""
    scores = sorted({e.score for e in edges if e.rule not in EXPLICIT_LINK_RULES})
    low, high, best = 0, len(scores) - 1, None
    while low <= high:
        middle = (low + high) // 2
        kept = [e for e in edges if _keeps(e, scores[middle])]
        if max(len(p) for p in _components(members, kept, index)) <= limit:
            best, high = scores[middle], middle - 1
        else:
            low = middle + 1
    return best


def _components(
    members: list[int], edges: list[MatchEvidence], index: dict[str, int]
) -> list[list[int]]:
    parent = {i: i for i in members}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for edge in edges:
        a, b = find(index[edge.a]), find(index[edge.b])
        if a != b:
            parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in members:
        groups[find(i)].append(i)
    return list(groups.values())
