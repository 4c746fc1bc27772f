"""Training: u from random pairs, m by expectation–maximisation per blocking rule (or from labels).

u is the chance a level holds for two records that are *not* the same entity; random pairs are
almost all non-matches, so their level shares estimate it. m is the chance for a true pair. EM
runs once per blocking rule on that rule's pairs with u fixed, leaving out every comparison that
reads a column the rule blocks on (those agree by construction there, whatever the truth). Each
comparison's m is the average of its estimates, weighted by each rule's expected matches. The
prior λ is the expected number of matching candidate pairs over all record pairs, unless fixed.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from idgraph.link.block import block, pairs_within, rule_membership, true_pair_count
from idgraph.link.compare import LevelArray, compare_pairs
from idgraph.link.config import Comparison, LinkConfig
from idgraph.link.model import ComparisonParams, Model
from idgraph.link.prepare import IntArray, Prepared, comparison_column, prepare

__all__ = ["label_codes", "random_pairs", "run_em", "train_model"]

logger = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float64]


def label_codes(labels: Any, df: Any) -> IntArray:
    """Truth labels (a column name or a Series aligned with df) as codes; -1 = unknown."""
    series = df[labels] if isinstance(labels, str) else pd.Series(labels).reindex(df.index)
    codes, _ = pd.factorize(series, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64)


def random_pairs(n: int, size: int, rng: np.random.Generator) -> tuple[IntArray, IntArray]:
    """`size` uniformly random pairs of distinct rows (with replacement), left < right."""
    i = rng.integers(0, n, size=size)
    j = rng.integers(0, n - 1, size=size)
    j = j + (j >= i)
    return np.minimum(i, j), np.maximum(i, j)


def _shares(
    levels: npt.NDArray[np.integer[Any]], n_levels: int, weights: FloatArray | None = None
) -> FloatArray:
    present = levels >= 0
    w = None if weights is None else weights[present]
    return np.bincount(levels[present], weights=w, minlength=n_levels).astype(np.float64)


def _normalise(counts: FloatArray, floor: float) -> FloatArray:
    total = counts.sum()
    probs = counts / total if total > 0 else np.full(len(counts), 1 / len(counts))
    probs = np.maximum(probs, floor)
    result: FloatArray = probs / probs.sum()
    return result


def _u_from_random(n_levels: int, levels: LevelArray, floor: float) -> FloatArray:
    """Level shares among random pairs; a level never seen counts as half a pair, not zero."""
    counts = np.maximum(_shares(levels, n_levels), 0.5)
    return _normalise(counts, floor)


def _initial_m(n_levels: int) -> FloatArray:
    """Best level most likely for a true pair, each next level half as likely, `else` 5%."""
    graded = 0.5 ** np.arange(n_levels - 1)
    return np.append(0.95 * graded / graded.sum(), 0.05)


def run_em(
    levels: list[LevelArray],
    u: list[FloatArray],
    m: list[FloatArray],
    prior: float,
    *,
    max_iterations: int,
    tolerance: float,
    floor: float,
) -> tuple[list[FloatArray], float, FloatArray, int]:
    """EM for m and λ with u fixed, over the distinct level patterns of the pairs.

    Returns:
        m per comparison, λ among these pairs, the match posterior per pair, iterations run.
    """
    if not levels or len(levels[0]) == 0:
        return m, prior, np.zeros(0), 0
    stacked = np.stack([lv.astype(np.int64) + 1 for lv in levels], axis=1)
    radix = np.array([len(x) + 1 for x in m], dtype=np.int64)
    place = np.concatenate([[1], np.cumprod(radix[:-1])])
    _, first, inverse, counts = np.unique(
        stacked @ place, return_index=True, return_inverse=True, return_counts=True
    )
    patterns = stacked[first] - 1
    counts_f = counts.astype(np.float64)
    m = [x.copy() for x in m]
    posterior = np.zeros(len(patterns))
    iterations = 0
    while iterations < max_iterations:
        iterations += 1
        log_bf = np.zeros(len(patterns))
        for k, (mk, uk) in enumerate(zip(m, u, strict=True)):
            table = np.append(np.log(mk / uk), 0.0)
            log_bf += table[patterns[:, k]]
        logit = math.log(prior / (1 - prior)) + log_bf
        posterior = 1.0 / (1.0 + np.exp(-np.clip(logit, -700, 700)))
        expected = counts_f * posterior
        new_prior = float(np.clip(expected.sum() / counts_f.sum(), 1e-9, 1 - 1e-9))
        new_m = [
            _normalise(_shares(patterns[:, k], len(mk), expected), floor) for k, mk in enumerate(m)
        ]
        change = max(
            abs(new_prior - prior),
            *(float(np.abs(a - b).max()) for a, b in zip(new_m, m, strict=True)),
        )
        m, prior = new_m, new_prior
        if change < tolerance:
            break
    return m, prior, posterior[inverse.reshape(-1)], iterations


def _comparisons_free_of(rule_columns: set[str], comparisons: list[Comparison]) -> list[int]:
    return [i for i, c in enumerate(comparisons) if not set(c.source_columns) & rule_columns]


def _tf_tables(prepared: Prepared, config: LinkConfig) -> dict[str, tuple[dict[str, float], float]]:
    tables = {}
    for c in config.comparisons:
        if not c.term_frequency:
            continue
        enc = comparison_column(prepared, c.output_name, c.column)
        counts = enc.counts()
        total = max(int(counts.sum()), 1)
        repeated = np.flatnonzero(counts >= 2)
        table = {str(enc.values[i]): float(counts[i]) / total for i in repeated}
        tables[c.output_name] = (table, 1.0 / total)
    return tables


def _m_from_em(
    prepared: Prepared, config: LinkConfig, u: list[FloatArray]
) -> tuple[list[FloatArray], float, dict[str, Any]]:
    """m per comparison by EM per blocking rule, and the expected matching candidate pairs."""
    training = config.training
    candidates = block(prepared, config)
    compared = compare_pairs(prepared, config, candidates.left, candidates.right)
    levels = [compared.levels[c.output_name] for c in config.comparisons]
    members = rule_membership(prepared, config, candidates.left, candidates.right)
    sums = [np.zeros(len(x)) for x in u]
    weights = np.zeros(len(u))
    posterior_first_rule = np.zeros(len(candidates.left))
    rule_notes = []
    for index, (rule, member) in enumerate(zip(config.blocking, members, strict=True)):
        free = _comparisons_free_of({p.column for p in rule}, config.comparisons)
        if not member.any() or not free:
            continue
        m_rule, prior_rule, post, iterations = run_em(
            [levels[k][member] for k in free],
            [u[k] for k in free],
            [_initial_m(len(u[k])) for k in free],
            0.1,
            max_iterations=training.max_iterations,
            tolerance=training.tolerance,
            floor=training.floor,
        )
        expected = float(post.sum())
        for k, mk in zip(free, m_rule, strict=True):
            sums[k] += expected * mk
            weights[k] += expected
        own = candidates.rule[member] == index
        posterior_first_rule[np.flatnonzero(member)[own]] = post[own]
        rule_notes.append({"rule": index, "pairs": int(member.sum()), "lambda": prior_rule,
                           "iterations": iterations})  # fmt: skip
    m = []
    for k, comparison in enumerate(config.comparisons):
        if weights[k] > 0:
            m.append(_normalise(sums[k] / weights[k], training.floor))
            continue
        logger.warning(
            "every blocking rule reads %s; its m comes from EM over all candidates (biased)",
            comparison.output_name,
        )
        m_all, *_ = run_em(
            levels, u, [_initial_m(len(x)) for x in u], 0.1,
            max_iterations=training.max_iterations, tolerance=training.tolerance,
            floor=training.floor,
        )  # fmt: skip
        m.append(m_all[k])
    notes = {"method": "em", "candidate_pairs": len(candidates.left), "rules": rule_notes}
    return m, float(posterior_first_rule.sum()), notes


def _m_from_labels(
    prepared: Prepared, config: LinkConfig, labels: IntArray
) -> tuple[list[FloatArray], float, dict[str, Any]]:
    known = labels >= 0
    left, right = pairs_within(labels, known)
    compared = compare_pairs(prepared, config, left, right)
    m = [
        _normalise(_shares(compared.levels[c.output_name], len(c.levels)), config.training.floor)
        for c in config.comparisons
    ]
    return m, float(true_pair_count(labels)), {"method": "labels", "true_pairs": len(left)}


def train_model(df: Any, config: LinkConfig, *, labels: Any = None, seed: int = 0) -> Model:
    """Estimate a model for `config` from the records in `df`.

    Args:
        df: A pandas DataFrame with the columns the config names.
        config: The link config.
        labels: Optional truth: a column name of `df` or a Series aligned with it. With labels,
            m comes from the true pairs and random pairs that are true matches are left out of u;
            without, m comes from EM. A truth column is never used for scoring.
        seed: Seed of the random pairs for u.

    Returns:
        The trained `Model`.

    Raises:
        ConfigError: a column the config names is missing, or the unique id is not unique.
    """
    prepared = prepare(df, config)
    if prepared.n < 2:
        raise ValueError("training needs at least two records")
    truth = label_codes(labels, df) if labels is not None else None
    rng = np.random.default_rng(seed)
    total_pairs = prepared.n * (prepared.n - 1) / 2
    left, right = random_pairs(prepared.n, int(min(config.training.u_pairs, total_pairs)), rng)
    if truth is not None:
        keep = ~((truth[left] == truth[right]) & (truth[left] >= 0))
        left, right = left[keep], right[keep]
    compared = compare_pairs(prepared, config, left, right)
    u = [
        _u_from_random(len(c.levels), compared.levels[c.output_name], config.training.floor)
        for c in config.comparisons
    ]
    if truth is not None:
        m, matches, notes = _m_from_labels(prepared, config, truth)
    else:
        m, matches, notes = _m_from_em(prepared, config, u)
    prior = config.training.prior or float(np.clip(matches / total_pairs, 1e-12, 0.5))
    tf = _tf_tables(prepared, config)
    params = [
        ComparisonParams(
            name=c.output_name,
            levels=c.level_labels,
            m=[float(x) for x in mk],
            u=[float(x) for x in uk],
            tf=tf[c.output_name][0] if c.output_name in tf else None,
            tf_default=tf[c.output_name][1] if c.output_name in tf else None,
        )
        for c, mk, uk in zip(config.comparisons, m, u, strict=True)
    ]
    notes |= {"records": prepared.n, "u_pairs": len(left), "seed": seed}
    return Model(config, prior, params, notes)
