"""Evidence graph -> unified customers, under identity limits, on edge arrays.

Plain connected components chain strangers together through one shared weak value, so links
are applied strongest first, and a union that would break an identity limit (two login user
ids in one customer), join different strong attributes (two dates of birth) or cross a
reviewer's cannot-link is refused. Most components can never meet such a conflict — their
records carry one user id, one birth date — so they are found at once (connected components
with scipy), and only the few that could are replayed edge by edge through a union-find that
watches the limits. In both, the accepted edges are exactly those the edge-by-edge replay
accepts: every explicit and fuzzy link, and the identifier links that join two groups (the
greedy spanning forest in edge order, found with scipy's minimum spanning tree).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree

from idgraph.match.config import MatchConfig
from idgraph.match.decide import IDENTIFIER, LINK

__all__ = ["KEPT_APART", "Clustering", "Constraints", "cluster", "components_of"]

Ints = npt.NDArray[np.int64]

#: Why a link was refused because a person split the records apart.
KEPT_APART = "a reviewer split these records apart (cannot-link override)"


@dataclass(slots=True)
class Constraints:
    """What the guards watch, per record position.

    `limited` maps an identity-limited kind to (position, identity class) rows; `strong`
    maps a strong attribute to (position, value) rows; `apart` holds cannot-link position
    pairs.
    """

    limited: dict[str, pl.DataFrame] = field(default_factory=dict)
    strong: dict[str, pl.DataFrame] = field(default_factory=dict)
    apart: list[tuple[int, int]] = field(default_factory=list)


@dataclass(slots=True)
class Clustering:
    """Records grouped into components; `labels[i]` is the smallest position of i's customer.

    `accepted` is a mask over the edges; `blocked` lists refused edges (edge row, reason) in
    the order they were refused.
    """

    labels: Ints
    accepted: npt.NDArray[np.bool_]
    blocked: list[tuple[int, str]] = field(default_factory=list)

    def components(self) -> list[list[int]]:
        """Record positions per customer, each list sorted, customers by first position."""
        return components_of(self.labels)


def components_of(labels: Ints) -> list[list[int]]:
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    cuts = np.flatnonzero(np.diff(sorted_labels)) + 1
    groups = np.split(order, cuts)
    return sorted((g.tolist() for g in groups if len(g)), key=lambda g: g[0])


def _plain_components(n: int, a: Ints, b: Ints) -> Ints:
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    result: Ints = np.asarray(labels, dtype=np.int64)
    return result


def _canonical(labels: Ints) -> Ints:
    """Relabel every component by its smallest member position."""
    n = len(labels)
    smallest: Ints = np.full(labels.max() + 1 if n else 0, n, dtype=np.int64)
    np.minimum.at(smallest, labels, np.arange(n, dtype=np.int64))
    result: Ints = smallest[labels]
    return result


def _tense(
    labels: Ints, constraints: Constraints, limits: Mapping[Any, int]
) -> npt.NDArray[np.bool_]:
    """Components (by label) where some union could be refused."""
    tense = np.zeros(len(labels), dtype=bool)
    label_series = pl.Series("comp", labels)
    for kind, rows in constraints.limited.items():
        if rows.height == 0:
            continue
        counts = (
            rows.with_columns(label_series.gather(rows["pos"]).alias("comp"))
            .group_by("comp")
            .agg(pl.col("cls").n_unique().alias("n"))
            .filter(pl.col("n") > limits[kind])
        )
        tense[counts["comp"].to_numpy()] = True
    for rows in constraints.strong.values():
        if rows.height == 0:
            continue
        counts = (
            rows.with_columns(label_series.gather(rows["pos"]).alias("comp"))
            .group_by("comp")
            .agg(pl.col("value").n_unique().alias("n"))
            .filter(pl.col("n") > 1)
        )
        tense[counts["comp"].to_numpy()] = True
    for a, b in constraints.apart:
        if labels[a] == labels[b]:
            tense[labels[a]] = True
    return tense


def _forest(n: int, a: Ints, b: Ints, ranks: Ints) -> npt.NDArray[np.bool_]:
    """Which edges (by position in a/b) the greedy union in rank order keeps: the spanning
    forest of minimum total rank, since ranks are distinct."""
    keep = np.zeros(len(a), dtype=bool)
    if not len(a):
        return keep
    low, high = np.minimum(a, b), np.maximum(a, b)
    loops = low == high
    frame = pl.DataFrame({"lo": low, "hi": high, "rank": ranks, "pos": np.arange(len(a))}).filter(
        ~pl.Series(loops)
    )
    first = frame.sort("rank").unique(subset=["lo", "hi"], keep="first")
    graph = coo_matrix(
        (
            first["rank"].to_numpy().astype(np.float64) + 1.0,
            (first["lo"].to_numpy(), first["hi"].to_numpy()),
        ),
        shape=(n, n),
    ).tocsr()
    tree = minimum_spanning_tree(graph).tocoo()
    chosen = np.rint(tree.data).astype(np.int64) - 1
    by_rank = np.full(int(ranks.max()) + 1, -1, dtype=np.int64)
    by_rank[ranks] = np.arange(len(a))
    keep[by_rank[chosen]] = True
    return keep


class _Constrained:
    """Union-find over a few records whose roots carry what the limits watch."""

    def __init__(
        self,
        members: Sequence[int],
        constraints: Constraints,
        config: MatchConfig,
    ) -> None:
        self.parent = {i: i for i in members}
        self.size = dict.fromkeys(members, 1)
        self.config = config
        wanted = set(members)
        self.limited: dict[int, dict[str, set[int]]] = {i: {} for i in members}
        for kind, rows in constraints.limited.items():
            for pos, cls in rows.filter(pl.col("pos").is_in(list(wanted))).iter_rows():
                self.limited[pos].setdefault(kind, set()).add(cls)
        self.strong: dict[int, dict[str, set[str]]] = {i: {} for i in members}
        for name, rows in constraints.strong.items():
            for pos, value in rows.filter(pl.col("pos").is_in(list(wanted))).iter_rows():
                self.strong[pos][name] = {value}
        # A cannot-link pair k puts token (k, 0) on one record and (k, 1) on the other; a root
        # holding both sides of any k would join records a person said are different people.
        self.apart: dict[int, dict[int, set[int]]] = {i: {} for i in members}
        for k, (a, b) in enumerate(constraints.apart):
            if a in wanted and b in wanted and a != b:
                self.apart[a].setdefault(k, set()).add(0)
                self.apart[b].setdefault(k, set()).add(1)

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def kept_apart(self, a: int, b: int) -> bool:
        small, large = sorted((self.apart[a], self.apart[b]), key=len)
        return any(sides | large.get(k, set()) == {0, 1} for k, sides in small.items())

    def conflict(self, a: int, b: int) -> str:
        for kind, limit in self.config.limits.items():
            joined = self.limited[a].get(kind, set()) | self.limited[b].get(kind, set())
            if len(joined) > limit:
                return f"would give one customer {len(joined)} distinct {kind} (limit {limit})"
        for name in self.config.strong_attributes:
            left, right = self.strong[a].get(name, set()), self.strong[b].get(name, set())
            if left and right and left != right:
                return f"records disagree on {name}"
        return ""

    def union(self, a: int, b: int) -> None:
        if self.size[a] < self.size[b]:
            a, b = b, a
        self.parent[b] = a
        self.size[a] += self.size[b]
        for kind, values in self.limited[b].items():
            self.limited[a].setdefault(kind, set()).update(values)
        for name, strong in self.strong[b].items():
            self.strong[a].setdefault(name, set()).update(strong)
        for k, sides in self.apart[b].items():
            self.apart[a].setdefault(k, set()).update(sides)
        self.limited[b], self.strong[b], self.apart[b] = {}, {}, {}


def cluster(
    n: int,
    edges: pl.DataFrame,
    constraints: Constraints,
    config: MatchConfig,
) -> Clustering:
    """Apply `edges` (in order) to `n` records; explicit links always join, others only within
    the limits; nothing joins across a cannot-link.

    Args:
        n: the number of records (positions 0..n-1).
        edges: `Evidence.edges`: a, b (positions), rule, fields, score, class.
        constraints: what the guards watch.
        config: the identity limits and strong attributes.
    """
    a = edges["a"].to_numpy().astype(np.int64)
    b = edges["b"].to_numpy().astype(np.int64)
    kinds = edges["class"].to_numpy()
    ranks = np.arange(len(a), dtype=np.int64)
    plain = _plain_components(n, a, b)
    tense = _tense(plain, constraints, config.limits)
    edge_tense = tense[plain[a]] if len(a) else np.zeros(0, dtype=bool)
    accepted = np.zeros(len(a), dtype=bool)
    calm = ~edge_tense
    forest = _forest(n, a[calm], b[calm], ranks[calm])
    calm_accepted = (kinds[calm] != IDENTIFIER) | forest
    accepted[np.flatnonzero(calm)] = calm_accepted
    labels = plain.copy()
    blocked: list[tuple[int, str]] = []
    tense_edges = np.flatnonzero(edge_tense)
    if len(tense_edges):
        members = np.flatnonzero(tense[plain]).tolist()
        uf = _Constrained(members, constraints, config)
        for index, x, y, kind in zip(
            tense_edges.tolist(),
            a[tense_edges].tolist(),
            b[tense_edges].tolist(),
            kinds[tense_edges].tolist(),
            strict=True,
        ):
            rx, ry = uf.find(x), uf.find(y)
            if rx == ry:
                if kind != IDENTIFIER:
                    accepted[index] = True
                continue
            if uf.kept_apart(rx, ry):
                blocked.append((index, KEPT_APART))
                continue
            reason = "" if kind == LINK else uf.conflict(rx, ry)
            if reason:
                blocked.append((index, reason))
                continue
            uf.union(rx, ry)
            accepted[index] = True
        roots = np.array([uf.find(i) for i in members], dtype=np.int64)
        labels[np.array(members, dtype=np.int64)] = n + roots
    return Clustering(_canonical(_relabel(labels)), accepted, blocked)


def _relabel(labels: Ints) -> Ints:
    _, dense = np.unique(labels, return_inverse=True)
    return dense.astype(np.int64)
