"""Clustering: connected components over linked pairs, with the guards applied.

A pair links when it is deterministic or its probability reaches the threshold, unless a guard
finds a conflict. A component larger than `guards.max_cluster_size` is re-clustered alone with
the lowest raised threshold that makes every part fit; when deterministic links alone still chain
too many records, they lose their override inside that component too. Each split is recorded.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from idgraph.link.block import BlockingReport
from idgraph.link.model import Model
from idgraph.link.prepare import BoolArray, IntArray, prepare
from idgraph.link.score import FloatArray, score_candidates

__all__ = ["ClusterSplit", "LinkReport", "LinkResult", "components", "link"]


def components(n: int, left: IntArray, right: IntArray) -> IntArray:
    """Component number of each of `n` nodes, given undirected edges; one call, swappable."""
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels, dtype=np.int64)


@dataclass(frozen=True)
class ClusterSplit:
    """One oversized component and how it was cut."""

    cluster: Any
    records: int
    parts: int
    largest_part: int
    min_probability: float
    deterministic_dropped: bool
    reason: str


@dataclass(frozen=True)
class LinkReport:
    """Counts of one run, for the run report."""

    records: int
    threshold: float
    candidate_pairs: int
    links: int
    deterministic_links: int
    refused_conflicting: int
    clusters: int
    cluster_sizes: dict[int, int]
    largest_clusters: list[tuple[Any, int]]
    pairs_per_second: float
    seconds: dict[str, float]
    blocking: BlockingReport


@dataclass(frozen=True)
class LinkResult:
    """Cluster id per record (the unique id of its first record), the splits, and the report."""

    labels: Any
    splits: list[ClusterSplit] = field(default_factory=list)
    report: LinkReport | None = None


def _largest_part(n: int, left: IntArray, right: IntArray, keep: BoolArray) -> int:
    parts = components(n, left[keep], right[keep])
    return int(np.bincount(parts).max()) if n else 0


def _split(
    nodes: IntArray,
    left: IntArray,
    right: IntArray,
    weight: FloatArray,
    deterministic: BoolArray,
    cap: int,
) -> tuple[BoolArray, float, bool]:
    """Which of a component's edges to keep so every part has at most `cap` records.

    Returns:
        The kept edges, the lowest kept weight, and whether deterministic links had to go.
    """
    local = np.searchsorted(nodes, left), np.searchsorted(nodes, right)
    n = len(nodes)
    for drop_deterministic in (False, True):
        strength = weight if drop_deterministic else np.where(deterministic, np.inf, weight)
        cuts = np.unique(strength[np.isfinite(strength)])
        candidates = np.append(cuts, np.inf)
        lo, hi = 0, len(candidates) - 1
        if _largest_part(n, *local, strength >= candidates[hi]) > cap:
            continue
        while lo < hi:
            mid = (lo + hi) // 2
            if _largest_part(n, *local, strength >= candidates[mid]) <= cap:
                hi = mid
            else:
                lo = mid + 1
        return strength >= candidates[lo], float(candidates[lo]), drop_deterministic
    return np.zeros(len(left), dtype=bool), float("inf"), True


def _first_id(groups: IntArray, ids: Any) -> Any:
    first_row = pd.Series(np.arange(len(groups))).groupby(groups).transform("min").to_numpy()
    return ids[first_row]


def link(df: Any, model: Model, *, threshold: float | None = None) -> LinkResult:
    """Resolve the records of `df` into clusters.

    Args:
        df: A pandas DataFrame with the columns the model's config names.
        model: A trained model.
        threshold: Match probability a pair needs to link; default the config's `threshold`.

    Returns:
        A `LinkResult`: `labels` is a Series aligned with `df` holding, per record, the unique id
        of the cluster's first record (row order); `splits` lists oversized components cut.

    Raises:
        ConfigError: a column the config names is missing, or the unique id is not unique.
    """
    started = time.perf_counter()
    config = model.config
    cut = config.threshold if threshold is None else threshold
    prepared = prepare(df, config)
    prepared_at = time.perf_counter()
    scored = score_candidates(prepared, model)
    scored_at = time.perf_counter()
    probable = scored.probability >= cut
    wanted = scored.deterministic | probable
    edges = wanted & ~scored.conflict
    left, right, weight = scored.left[edges], scored.right[edges], scored.weight[edges]
    deterministic = scored.deterministic[edges]
    groups = components(prepared.n, left, right)
    sizes = np.bincount(groups)
    splits = []
    next_group = int(groups.max()) + 1 if len(groups) else 0
    for big in np.flatnonzero(sizes > config.guards.max_cluster_size):
        nodes = np.flatnonzero(groups == big)
        inside = groups[left] == big
        keep, min_weight, dropped = _split(
            nodes, left[inside], right[inside], weight[inside], deterministic[inside],
            config.guards.max_cluster_size,
        )  # fmt: skip
        local = components(
            len(nodes),
            np.searchsorted(nodes, left[inside][keep]),
            np.searchsorted(nodes, right[inside][keep]),
        )
        groups[nodes] = next_group + local
        next_group += int(local.max()) + 1
        min_probability = 1.0 / (1.0 + 2.0 ** (-min_weight)) if np.isfinite(min_weight) else 1.0
        splits.append(
            ClusterSplit(
                cluster=prepared.ids[nodes[0]],
                records=len(nodes),
                parts=int(local.max()) + 1,
                largest_part=int(np.bincount(local).max()),
                min_probability=min_probability,
                deterministic_dropped=dropped,
                reason=(
                    f"component of {len(nodes)} records > max_cluster_size "
                    f"{config.guards.max_cluster_size}; kept links with probability >= "
                    f"{min_probability:.6g}" + ("; deterministic links dropped" if dropped else "")
                ),
            )
        )
    labels = pd.Series(_first_id(groups, prepared.ids), index=df.index, name="cluster_id")
    counts = labels.value_counts()
    report = LinkReport(
        records=prepared.n,
        threshold=cut,
        candidate_pairs=len(scored.left),
        links=int(edges.sum()),
        deterministic_links=int((scored.deterministic & edges).sum()),
        refused_conflicting=int((wanted & scored.conflict).sum()),
        clusters=len(counts),
        cluster_sizes=dict(sorted(Counter(counts.to_numpy().tolist()).items())),
        largest_clusters=[(k, int(v)) for k, v in counts.head(10).items()],
        pairs_per_second=scored.pairs_per_second,
        seconds={
            "prepare": prepared_at - started,
            "block_compare_score": scored_at - prepared_at,
            "cluster": time.perf_counter() - scored_at,
        },
        blocking=scored.candidates.report,
    )
    return LinkResult(labels, splits, report)
