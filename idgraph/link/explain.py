"""Why two records score as they do: the match-weight waterfall of one pair.

The weight of a pair is the prior weight plus one contribution per comparison, so the steps
below add up to the total a person sees; each step names the level that fired and the two
values it compared. Whether blocking would have proposed the pair at all is reported beside
it, because a pair blocking never makes is never scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from idgraph.errors import NotFoundError
from idgraph.link.block import block
from idgraph.link.model import Model
from idgraph.link.prepare import prepare
from idgraph.link.score import score_given

__all__ = ["PairExplanation", "WaterfallStep", "explain_pair"]


@dataclass(frozen=True)
class WaterfallStep:
    """One comparison's part of the weight."""

    comparison: str
    level: str
    left: str | None
    right: str | None
    weight: float
    cumulative: float


@dataclass(frozen=True)
class PairExplanation:
    """The waterfall of one pair, its probability, and the guards' verdicts."""

    left_id: str
    right_id: str
    prior_weight: float
    steps: list[WaterfallStep]
    weight: float
    probability: float
    deterministic: bool
    conflict: bool
    blocked_by: str | None
    threshold: float

    @property
    def links(self) -> bool:
        """Whether `link` would join this pair directly (before cluster-size splits)."""
        if self.conflict:
            return False
        return self.deterministic or (
            self.blocked_by is not None and self.probability >= self.threshold
        )


def explain_pair(df: Any, model: Model, left_id: str, right_id: str) -> PairExplanation:
    """The waterfall for records `left_id` and `right_id` of `df` under `model`.

    Raises:
        NotFoundError: either id is not in the table's unique-id column.
    """
    prepared = prepare(df, model.config)
    ids = [str(i) for i in prepared.ids]
    positions = {rid: i for i, rid in enumerate(ids)}
    for rid in (left_id, right_id):
        if rid not in positions:
            raise NotFoundError(f"no record {rid!r} in column {model.config.unique_id}")
    left = np.array([positions[left_id]], dtype=np.int64)
    right = np.array([positions[right_id]], dtype=np.int64)
    scores = score_given(prepared, model, left, right)
    steps = []
    total = model.prior_weight
    raw = df.reset_index(drop=True)
    for name, levels in scores.levels.items():
        params = model.params(name)
        code = int(levels[0])
        weight = float(scores.contributions[name][0])
        total += weight
        columns = [c for c in _columns(model, name) if c in raw.columns]
        steps.append(
            WaterfallStep(
                comparison=name,
                level="null" if code < 0 else params.levels[code],
                left=" ".join(str(raw.at[int(left[0]), c]) for c in columns) or None,
                right=" ".join(str(raw.at[int(right[0]), c]) for c in columns) or None,
                weight=weight,
                cumulative=total,
            )
        )
    candidates = block(prepared, model.config)
    pair = (min(left[0], right[0]), max(left[0], right[0]))
    hit = np.flatnonzero((candidates.left == pair[0]) & (candidates.right == pair[1]))
    rules = [r.rule for r in candidates.report.rules]
    return PairExplanation(
        left_id=left_id,
        right_id=right_id,
        prior_weight=model.prior_weight,
        steps=steps,
        weight=float(scores.weight[0]),
        probability=float(1.0 / (1.0 + 2.0 ** (-scores.weight[0]))),
        deterministic=bool(scores.deterministic[0]),
        conflict=bool(scores.conflict[0]),
        blocked_by=rules[int(candidates.rule[hit[0]])] if len(hit) else None,
        threshold=model.config.threshold,
    )


def _columns(model: Model, name: str) -> list[str]:
    for comparison in model.config.comparisons:
        if comparison.output_name == name:
            return list(comparison.source_columns)
    return []
