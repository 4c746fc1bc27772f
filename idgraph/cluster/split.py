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

import numpy as np
import polars as pl

from idgraph.cluster.components import Clustering
from idgraph.match.edges import LINK

__all__ = ["ComponentSplit", "split_oversized"]


@dataclass(frozen=True, slots=True)
class ComponentSplit:
    """One oversized component cut into parts, and the score at and below which links went."""

    records: int
    parts: list[int]
    dropped_at_or_below: float
    reason: str
    record_keys: list[str]


@dataclass(frozen=True, slots=True)
class _Edge:
    index: int
    a: int
    b: int
    score: float
    explicit: bool


def split_oversized(
    keys: Sequence[str], edges: pl.DataFrame, clustering: Clustering, *, limit: int
) -> list[ComponentSplit]:
    """Split every component over `limit` records in place; return what was split.

    Args:
        keys: record keys by position.
        edges: the edges clustering ran on (`Evidence.edges`).
        clustering: its result, changed in place (labels, accepted, blocked).
        limit: the most records a component may hold.
    """
    labels = clustering.labels
    sizes = np.bincount(labels, minlength=len(labels)) if len(labels) else np.zeros(0, int)
    big = np.flatnonzero(sizes > limit)
    if not len(big):
        return []
    chosen = np.flatnonzero(clustering.accepted)
    a = edges["a"].to_numpy()[chosen]
    b = edges["b"].to_numpy()[chosen]
    scores = edges["score"].to_numpy()[chosen]
    classes = edges["class"].to_numpy()[chosen]
    by_label: dict[int, list[_Edge]] = defaultdict(list)
    wanted = set(big.tolist())
    for index, x, y, score, kind in zip(
        chosen.tolist(), a.tolist(), b.tolist(), scores.tolist(), classes.tolist(), strict=True
    ):
        label = int(labels[x])
        if label in wanted:
            by_label[label].append(_Edge(index, x, y, score, kind == LINK))
    splits = []
    for label in sorted(wanted):
        members = np.flatnonzero(labels == label).tolist()
        size = len(members)
        component = by_label[label]
        cut = _lowest_cut(members, component, limit)
        if cut is None:
            continue
        kept = [e for e in component if _keeps(e, cut)]
        parts = _components(members, kept)
        reason = (
            f"component of {size} records over flag_component_records {limit}: links "
            f"scoring {cut:.3f} or less were dropped"
        )
        for edge in component:
            if not _keeps(edge, cut):
                clustering.accepted[edge.index] = False
                clustering.blocked.append((edge.index, reason))
        for part in parts:
            root = min(part)
            for i in part:
                labels[i] = root
        splits.append(
            ComponentSplit(
                records=size,
                parts=sorted((len(p) for p in parts), reverse=True),
                dropped_at_or_below=cut,
                reason=reason,
                record_keys=sorted(keys[i] for i in members),
            )
        )
    return splits


def _keeps(edge: _Edge, cut: float) -> bool:
    return edge.explicit or edge.score > cut


def _lowest_cut(members: list[int], edges: list[_Edge], limit: int) -> float | None:
    """The smallest score whose links (and all weaker) must go for every part to fit."""
    scores = sorted({e.score for e in edges if not e.explicit})
    low, high, best = 0, len(scores) - 1, None
    while low <= high:
        middle = (low + high) // 2
        kept = [e for e in edges if _keeps(e, scores[middle])]
        if max(len(p) for p in _components(members, kept)) <= limit:
            best, high = scores[middle], middle - 1
        else:
            low = middle + 1
    return best


def _components(members: list[int], edges: list[_Edge]) -> list[list[int]]:
    parent = {i: i for i in members}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for edge in edges:
        a, b = find(edge.a), find(edge.b)
        if a != b:
            parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in members:
        groups[find(i)].append(i)
    return list(groups.values())
