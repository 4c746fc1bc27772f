"""Why two stored records score as they do: the match model's waterfall for one pair.

The weight of a pair is the prior plus one part per scored field, so the steps add up to the
total a person sees; each step names the level that held and the two values it compared.
Whether a scored rule proposes the pair at all, and whether a `must_agree` field stops it,
is said beside it: a pair no rule proposes is never scored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import polars as pl

from idgraph.errors import NotFoundError
from idgraph.match.config import MatchConfig
from idgraph.match.households import alias_frame
from idgraph.match.levels import FIELD_LEVELS, ScoringView
from idgraph.match.model import MatchModel, pair_weights, probability
from idgraph.match.scored import _rule_pairs, _shares, guarded_view, shipped_model, vetoing
from idgraph.match.view import VIEW_FIELDS, match_view

__all__ = ["PairScore", "WaterfallStep", "score_pair"]


@dataclass(frozen=True, slots=True)
class WaterfallStep:
    """One field's part of the weight."""

    field: str
    level: str
    left: str | None
    right: str | None
    weight: float
    cumulative: float


@dataclass(frozen=True, slots=True)
class PairScore:
    """The waterfall of one pair, its probability, and what stands between it and a link."""

    record_a: str
    record_b: str
    prior_weight: float
    steps: list[WaterfallStep]
    weight: float
    probability: float
    threshold: float
    #: Scored rules whose blocks hold both records (none: the pair is never scored).
    proposed_by: list[str]
    #: `must_agree` fields the two records plainly disagree on.
    disagree_on: list[str]
    model_learned: bool
    #: Guards the store's model lifted (its records hold no households): `must_agree`
    #: fields and strong attributes.
    lifted: list[str] = field(default_factory=list)

    @property
    def links(self) -> bool:
        """Whether the model links the pair (before guards and splits)."""
        return bool(
            self.proposed_by and not self.disagree_on and self.probability >= self.threshold
        )


def score_pair(
    records: pl.DataFrame,
    record_a: str,
    record_b: str,
    config: MatchConfig,
    model: MatchModel | None,
    refused: pl.Series | None = None,
) -> PairScore:
    """Score two of `records` (every record of the store: term frequencies count them all).

    Args:
        model: the store's model; None uses the shipped weights (no frequencies), as a store
            too small to learn from does.
        refused: `kind:value` keys of the identifiers a guard stopped (their emails and
            phones are blanked before scoring, as in a run).

    Raises:
        NotFoundError: either record key is not among `records`.
    """
    keys = records["key"].to_list()
    missing = [k for k in (record_a, record_b) if k not in set(keys)]
    if missing:
        raise NotFoundError(f"record not found: {', '.join(missing)}")
    view = match_view(records, VIEW_FIELDS)
    if refused is not None:
        view = guarded_view(view, records, refused)
    fields = list(config.scoring.fields)
    learned = model is not None
    model = model or shipped_model(config)
    scoring = ScoringView(view, alias_frame(model.aliases))
    index = {key: i for i, key in enumerate(keys)}
    left = np.array([index[record_a]], dtype=np.int64)
    right = np.array([index[record_b]], dtype=np.int64)
    # `records` are all the store's: their own counts are the store's frequencies.
    shares: dict[str, npt.NDArray[np.float64]] | None = (
        {f: _shares(scoring, f, None) for f in fields} if learned else None
    )
    total, levels, parts = pair_weights(model, scoring, left, right, shares)
    steps: list[WaterfallStep] = []
    running = model.prior_weight
    for name in model.fields:
        level = int(levels[name][0])
        weight = float(parts[name][0])
        running += weight
        shown = scoring.codes(name)
        values = [
            shown.values[int(c)] if c >= 0 else None for c in shown.codes[[left[0], right[0]]]
        ]
        steps.append(
            WaterfallStep(
                name, FIELD_LEVELS[name][level] if level >= 0 else "null",
                values[0], values[1], weight, running,
            )
        )  # fmt: skip
    pair = (min(left[0], right[0]), max(left[0], right[0]))
    scored_rules = [r for r in config.fuzzy if r.scored]
    candidates = _rule_pairs(view, config, None, None)
    proposed = [
        rule.name
        for rule, (_, a, b) in zip(scored_rules, candidates, strict=True)
        if bool(((a == pair[0]) & (b == pair[1])).any())
    ]
    disagree = [
        name
        for name in vetoing(config, model if learned else None)
        if int(levels[name][0]) == len(FIELD_LEVELS[name]) - 1
    ]
    weight = float(total[0])
    return PairScore(
        record_a, record_b, model.prior_weight, steps, weight,
        float(probability(total)[0]), config.scoring.threshold, proposed, disagree, learned,
        list(model.lifted) if learned else [],
    )  # fmt: skip
