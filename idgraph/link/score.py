"""Scoring candidate pairs: per-comparison weight contributions, total weight, probability, guards.

The total weight is the prior weight plus the contributions, so a waterfall chart can show each
step. Deterministic agreement and guard conflicts are flags beside the weight, not part of it:
`link` links a flagged deterministic pair whatever its weight, and never links a conflicting one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from idgraph.link.block import Candidates, block
from idgraph.link.compare import LevelArray, compare_pairs
from idgraph.link.model import ComparisonParams, Model
from idgraph.link.prepare import BoolArray, Encoded, IntArray, Prepared, comparison_column, prepare

__all__ = ["PairScores", "ScoredPairs", "score_candidates", "score_given", "score_pairs"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ScoredPairs:
    """Aligned arrays over candidate pairs (row positions), with what was measured on the way."""

    left: IntArray
    right: IntArray
    levels: dict[str, LevelArray]
    contributions: dict[str, FloatArray]
    weight: FloatArray
    deterministic: BoolArray
    conflict: BoolArray
    candidates: Candidates
    pairs_per_second: float

    @property
    def probability(self) -> FloatArray:
        result: FloatArray = 1.0 / (1.0 + np.exp2(-self.weight))
        return result


def _tf_weights(params: ComparisonParams, enc: Encoded, exact_index: int) -> FloatArray:
    """Per distinct value, log2(m_exact / u_value) with u_value from the training frequencies."""
    table = params.tf or {}
    default = float(params.tf_default or params.u[exact_index])
    freq = np.array([table.get(str(v), default) for v in enc.values], dtype=np.float64)
    result: FloatArray = np.log2(params.m[exact_index] / np.maximum(freq, 1e-12))
    return result


def _contribution(
    prepared: Prepared, model: Model, name: str, levels: LevelArray, left: IntArray
) -> FloatArray:
    params = model.params(name)
    contribution: FloatArray = params.weights()[levels]
    if params.tf is not None and "exact" in params.levels:
        exact = params.levels.index("exact")
        comparison = model.comparison(name)
        enc = comparison_column(prepared, name, comparison.column)
        hit = levels == exact
        contribution[hit] = _tf_weights(params, enc, exact)[enc.codes[left[hit]]]
    return contribution


def _deterministic(prepared: Prepared, model: Model, left: IntArray, right: IntArray) -> BoolArray:
    flag = np.zeros(len(left), dtype=bool)
    for column in model.config.deterministic:
        codes = prepared.columns[column].codes
        flag |= (codes[left] == codes[right]) & (codes[left] >= 0)
    return flag


def _conflict(
    prepared: Prepared, model: Model, levels: dict[str, LevelArray], left: IntArray, right: IntArray
) -> BoolArray:
    flag = np.zeros(len(left), dtype=bool)
    by_column = {c.column: c.output_name for c in model.config.comparisons if c.column is not None}
    for guard in model.config.guards.conflicting:
        name = by_column.get(guard.column)
        if name is not None:
            flag |= levels[name] >= guard.allow_levels
        else:
            codes = prepared.columns[guard.column].codes
            a, b = codes[left], codes[right]
            flag |= (a >= 0) & (b >= 0) & (a != b)
    return flag


@dataclass(frozen=True)
class PairScores:
    """Levels, per-comparison contributions, weights and guard flags of given pairs."""

    levels: dict[str, LevelArray]
    contributions: dict[str, FloatArray]
    weight: FloatArray
    deterministic: BoolArray
    conflict: BoolArray
    pairs_per_second: float


def score_given(prepared: Prepared, model: Model, left: IntArray, right: IntArray) -> PairScores:
    """Compare and weigh the pairs (left[i], right[i]) of a prepared table, blocked or not."""
    compared = compare_pairs(prepared, model.config, left, right)
    contributions = {
        name: _contribution(prepared, model, name, levels, left)
        for name, levels in compared.levels.items()
    }
    weight = np.full(len(left), model.prior_weight)
    for contribution in contributions.values():
        weight = weight + contribution
    return PairScores(
        levels=compared.levels,
        contributions=contributions,
        weight=weight,
        deterministic=_deterministic(prepared, model, left, right),
        conflict=_conflict(prepared, model, compared.levels, left, right),
        pairs_per_second=compared.pairs_per_second,
    )


def score_candidates(prepared: Prepared, model: Model) -> ScoredPairs:
    """Block, compare and weigh every candidate pair of a prepared table."""
    candidates = block(prepared, model.config)
    scores = score_given(prepared, model, candidates.left, candidates.right)
    return ScoredPairs(
        left=candidates.left,
        right=candidates.right,
        levels=scores.levels,
        contributions=scores.contributions,
        weight=scores.weight,
        deterministic=scores.deterministic,
        conflict=scores.conflict,
        candidates=candidates,
        pairs_per_second=scores.pairs_per_second,
    )


def score_pairs(df: Any, model: Model) -> Any:
    """Every candidate pair of `df` with its weight, probability and per-comparison evidence.

    Returns:
        A DataFrame with `left_id`, `right_id`, `weight`, `probability`, `level_<name>` (the
        level label, "null" when a value is missing) and `weight_<name>` per comparison, then
        `deterministic` and `conflict` (the guard flags `link` acts on) and `blocked_by`.
        `weight` equals `log2(λ/(1-λ))` plus the `weight_<name>` columns.

    Raises:
        ConfigError: a column the model's config names is missing from `df`.
    """
    prepared = prepare(df, model.config)
    scored = score_candidates(prepared, model)
    rules = [r.rule for r in scored.candidates.report.rules]
    out: dict[str, Any] = {
        "left_id": prepared.ids[scored.left],
        "right_id": prepared.ids[scored.right],
        "weight": scored.weight,
        "probability": scored.probability,
    }
    for name, levels in scored.levels.items():
        labels = [*model.params(name).levels, "null"]
        out[f"level_{name}"] = pd.Categorical.from_codes(
            np.where(levels < 0, len(labels) - 1, levels), categories=labels
        )
    for name, contribution in scored.contributions.items():
        out[f"weight_{name}"] = contribution
    out["deterministic"] = scored.deterministic
    out["conflict"] = scored.conflict
    out["blocked_by"] = pd.Categorical.from_codes(scored.candidates.rule, categories=rules)
    return pd.DataFrame(out)
