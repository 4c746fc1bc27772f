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

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree

from idgraph.match.config import MatchConfig
from idgraph.match.edges import IDENTIFIER, LINK
from idgraph.match.tolerance import TOLERANT_ATTRIBUTES, tolerant_classes

__all__ = ["KEPT_APART", "Clustering", "Constraints", "cluster", "components_of"]

Ints = npt.NDArray[np.int64]

#: Why a link was refused because a person split the records apart.
KEPT_APART = "a reviewer split these records apart (cannot-link override)"


@dataclass(slots=True)
class Constraints:
    """What the guards watch, per record position.

    `limited` maps an identity-limited kind to (position, identity class) rows; `strong`
    maps a strong attribute to (position, value) rows; `apart` holds cannot-link position
    pairs; `personal` the (a, b) position pairs whose strong attributes count as one
    (`idgraph.match.tolerance.personal_pairs`).
    """

    limited: dict[str, pl.DataFrame] = field(default_factory=dict)
    strong: dict[str, pl.DataFrame] = field(default_factory=dict)
    apart: list[tuple[int, int]] = field(default_factory=list)
    personal: pl.DataFrame | None = None


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


@dataclass(slots=True)
class _Watch:
    """One thing the guards watch, per union-find root: one value, none, or several.

    `single[r]` is the value's number, -1 for none, -2 for several (kept in `several[r]`);
    `limit` is the identity limit of a kind, None for a strong attribute (which must agree).
    """

    name: str
    limit: int | None
    single: list[int]
    several: dict[int, set[int]] = field(default_factory=dict)

    def values(self, root: int) -> set[int]:
        value = self.single[root]
        return self.several[root] if value == -2 else (set() if value < 0 else {value})

    def refuses(self, a: int, b: int) -> str:
        va, vb = self.single[a], self.single[b]
        if self.limit is None:
            if va == -1 or vb == -1 or va == vb >= 0:
                return ""
            if (va >= 0 and vb >= 0) or self.values(a) != self.values(b):
                return f"records disagree on {self.name}"
            return ""
        if va >= 0 and vb >= 0:
            joined = 1 if va == vb else 2
        elif va == -1 and vb == -1:
            return ""
        else:
            joined = len(self.values(a) | self.values(b))
        if joined > self.limit:
            return f"would give one customer {joined} distinct {self.name} (limit {self.limit})"
        return ""

    def absorb(self, a: int, b: int) -> None:
        va, vb = self.single[a], self.single[b]
        if vb == -1 or va == vb >= 0:
            return
        if va == -1 and vb >= 0:
            self.single[a] = vb
            return
        self.several[a] = self.values(a) | self.values(b)
        self.single[a] = -2
        self.several.pop(b, None)


class _Replay:
    """Union-find over the records of tense components, edge by edge, watching the guards."""

    def __init__(
        self, members: npt.NDArray[np.int64], constraints: Constraints, config: MatchConfig
    ) -> None:
        self.members = members
        count = len(members)
        self.parent = list(range(count))
        self.size = [1] * count
        # Strong attributes first: a union two guards refuse is put down to the attribute, as
        # `_surely_refused` does without replaying it.
        self.watches: list[_Watch] = []
        for name in config.strong_attributes:
            rows = constraints.strong.get(name)
            self.watches.append(self._watch(name, None, rows, "value"))
        for kind, limit in config.limits.items():
            rows = constraints.limited.get(kind)
            self.watches.append(self._watch(str(kind), limit, rows, "cls"))
        # A cannot-link pair k puts token (k, 0) on one record and (k, 1) on the other; a root
        # holding both sides of any k would join records a person said are different people.
        self.apart: dict[int, dict[int, set[int]]] = {}
        for k, (a, b) in enumerate(constraints.apart):
            la, lb = self.local(a), self.local(b)
            if la is not None and lb is not None and a != b:
                self.apart.setdefault(la, {}).setdefault(k, set()).add(0)
                self.apart.setdefault(lb, {}).setdefault(k, set()).add(1)

    def local(self, position: int) -> int | None:
        at = int(np.searchsorted(self.members, position))
        return at if at < len(self.members) and self.members[at] == position else None

    def _watch(
        self, name: str, limit: int | None, rows: pl.DataFrame | None, column: str
    ) -> _Watch:
        watch = _Watch(name, limit, [-1] * len(self.members))
        if rows is None or rows.height == 0:
            return watch
        positions = rows["pos"].to_numpy().astype(np.int64)
        at = np.searchsorted(self.members, positions)
        inside = at < len(self.members)
        inside[inside] = self.members[at[inside]] == positions[inside]
        codes = rows[column].rank("dense").cast(pl.Int64).to_numpy() - 1
        for local, code in zip(at[inside].tolist(), codes[inside].tolist(), strict=True):
            current = watch.single[local]
            if current == -1:
                watch.single[local] = code
            elif current != code:
                watch.several[local] = watch.values(local) | {code}
                watch.single[local] = -2
        return watch

    def find(self, i: int) -> int:
        parent = self.parent
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    def kept_apart(self, a: int, b: int) -> bool:
        left, right = self.apart.get(a), self.apart.get(b)
        if not left or not right:
            return False
        return any(sides | right.get(k, set()) == {0, 1} for k, sides in left.items())

    def conflict(self, a: int, b: int) -> str:
        for watch in self.watches:
            reason = watch.refuses(a, b)
            if reason:
                return reason
        return ""

    def merge_apart(self, a: int, b: int) -> None:
        """Root `a` absorbed root `b`: it holds `b`'s cannot-link tokens too."""
        moved = self.apart.pop(b, None)
        if moved:
            mine = self.apart.setdefault(a, {})
            for k, sides in moved.items():
                mine.setdefault(k, set()).update(sides)


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
    constraints = _tolerant(constraints, plain)
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
        members = np.flatnonzero(tense[plain]).astype(np.int64)
        replay = _Replay(members, constraints, config)
        sure = _surely_refused(a, b, kinds, tense_edges, plain, constraints, config)
        replayed = tense_edges[~sure]
        taken = _replay_edges(
            replay,
            replayed.tolist(),
            np.searchsorted(members, a[replayed]).tolist(),
            np.searchsorted(members, b[replayed]).tolist(),
            kinds[replayed].tolist(),
            blocked,
        )
        accepted[replayed] = np.frombuffer(taken, dtype=np.bool_)
        if sure.any():
            reason = _Watch(config.strong_attributes[0], None, [0, 1]).refuses(0, 1)
            blocked.extend((index, reason) for index in tense_edges[sure].tolist())
            blocked.sort()  # edge rows are unique: tuples compare by row alone
        roots = _roots(np.asarray(replay.parent, dtype=np.int64))
        labels[members] = n + members[roots]
    return Clustering(_canonical(_relabel(labels)), accepted, blocked)


def _tolerant(constraints: Constraints, plain: Ints) -> Constraints:
    """The constraints with every strong attribute's values replaced by their class within
    the record's component (`idgraph.match.tolerance`): a typo is not a second value."""
    strong: dict[str, pl.DataFrame] = {}
    for name, rows in constraints.strong.items():
        if rows.height == 0:
            strong[name] = rows
            continue
        grouped = rows.with_columns(pl.Series("group", plain[rows["pos"].to_numpy()]))
        strong[name] = tolerant_classes(
            grouped, TOLERANT_ATTRIBUTES.get(name), bridges=constraints.personal, on="pos"
        ).select("pos", pl.col("cls").alias("value"))
    return Constraints(constraints.limited, strong, constraints.apart, constraints.personal)


def _surely_refused(
    a: Ints,
    b: Ints,
    kinds: npt.NDArray[np.integer],
    tense_edges: Ints,
    plain: Ints,
    constraints: Constraints,
    config: MatchConfig,
) -> npt.NDArray[np.bool_]:
    """Which tense edges the replay would refuse whatever it had joined before: their two
    records disagree on the first strong attribute (a household's namesakes, at a million
    records half of all tense edges).

    Every union is guarded where no explicit link (which joins regardless) reaches the
    component, so each customer there holds one value of the attribute at most, and an edge
    between records with two values is always refused, for that attribute since the replay
    asks strong attributes first. Not used with cannot-link pairs, which the replay checks
    before any attribute.
    """
    sure = np.zeros(len(tense_edges), dtype=bool)
    if not config.strong_attributes or constraints.apart:
        return sure
    rows = constraints.strong.get(config.strong_attributes[0])
    if rows is None or rows.height == 0:
        return sure
    values = np.full(len(plain), -1, dtype=np.int64)
    values[rows["pos"].to_numpy()] = rows["value"].rank("dense").cast(pl.Int64).to_numpy()
    linked = np.zeros(int(plain.max()) + 1, dtype=bool)
    linked[plain[a[kinds == LINK]]] = True
    left, right = values[a[tense_edges]], values[b[tense_edges]]
    found: npt.NDArray[np.bool_] = (
        (kinds[tense_edges] != LINK) & (left >= 0) & (right >= 0) & (left != right)
    )
    return found & ~linked[plain[a[tense_edges]]]


def _replay_edges(
    replay: _Replay,
    indexes: list[int],
    left: list[int],
    right: list[int],
    kinds: list[int],
    blocked: list[tuple[int, str]],
) -> bytearray:
    """Every edge of the tense components, in order, through the union-find; which were
    accepted (one byte per edge). The hot loop of clustering: kept flat on purpose."""
    parent = replay.parent
    size = replay.size
    singles = [watch.single for watch in replay.watches]
    guarded = bool(replay.apart)
    taken = bytearray(len(indexes))
    for at, (index, x, y, kind) in enumerate(zip(indexes, left, right, kinds, strict=True)):
        rx = x
        while parent[rx] != rx:
            rx = parent[rx]
        while parent[x] != rx:
            parent[x], x = rx, parent[x]
        ry = y
        while parent[ry] != ry:
            ry = parent[ry]
        while parent[y] != ry:
            parent[y], y = ry, parent[y]
        if rx == ry:
            if kind != IDENTIFIER:
                taken[at] = 1
            continue
        if guarded and replay.kept_apart(rx, ry):
            blocked.append((index, KEPT_APART))
            continue
        if kind != LINK:
            suspect = False
            for single in singles:
                va, vb = single[rx], single[ry]
                if va == -2 or vb == -2 or (va >= 0 and vb >= 0 and va != vb):
                    suspect = True
                    break
            if suspect:
                reason = replay.conflict(rx, ry)
                if reason:
                    blocked.append((index, reason))
                    continue
        if size[rx] < size[ry]:
            rx, ry = ry, rx
        parent[ry] = rx
        size[rx] += size[ry]
        for watch, single in zip(replay.watches, singles, strict=True):
            vb = single[ry]
            if vb != -1 and (vb == -2 or single[rx] != vb):
                watch.absorb(rx, ry)
        if guarded:
            replay.merge_apart(rx, ry)
        taken[at] = 1
    return taken


def _roots(parent: Ints) -> Ints:
    """Every element's root in a union-find forest, by pointer jumping on the whole array."""
    while True:
        grand = parent[parent]
        if np.array_equal(grand, parent):
            return parent
        parent = grand


def _relabel(labels: Ints) -> Ints:
    _, dense = np.unique(labels, return_inverse=True)
    return dense.astype(np.int64)
