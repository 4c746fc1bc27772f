"""The match model: Fellegi-Sunter weights per field level, learned from the data, no labels.

For each field level, m is the chance a true pair shows it and u the chance two strangers do;
a pair's match weight is log2 of the prior odds plus log2(m/u) of each field's level, so the
weights add up to log2 of the odds that the pair is one person.

- u comes from random pairs: almost all are strangers, so their level shares estimate it.
- m comes from expectation-maximisation over the candidate pairs of each blocking rule, with
  u fixed, leaving out the fields the rule blocks on (they agree there by construction,
  whatever the truth); each field's m is the average over the rules, weighted by the rule's
  expected matches.
- Term frequencies: agreeing on a value held by many records is worth less than on a rare
  one. The exact level's u is replaced, per value, by the share of records holding it, so
  "Rossi" or "mario.rossi" moves a pair less than "Kirchbauer".
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import orjson

from idgraph.match.levels import FIELD_LEVELS, TYPO_ONLY, LevelArray, ScoringView

__all__ = ["MatchModel", "Training", "train_model"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

#: The most an echo level may add (log2 of the odds): four times likelier one person.
ECHO_WEIGHT = 2.0
#: No level is ever impossible: a probability never goes below this (a weight stays finite).
FLOOR = 1e-6


@dataclass(frozen=True, slots=True)
class Training:
    """How the model is estimated."""

    random_pairs: int = 1_000_000
    max_iterations: int = 30
    tolerance: float = 1e-4
    seed: int = 0


@dataclass(slots=True)
class MatchModel:
    """Learned m and u per field level, and the prior chance two records are one person."""

    m: dict[str, list[float]]
    u: dict[str, list[float]]
    prior: float
    notes: dict[str, object] = field(default_factory=dict)
    #: Pairs of first names (name keys, in order) this data shows to be one person's
    #: (`idgraph.match.households.learn_aliases`), learned with the weights.
    aliases: list[tuple[str, str]] = field(default_factory=list)
    #: Guards this data showed are not needed (`idgraph.match.households.no_households`):
    #: `must_agree` fields, scored as any field, whose disagreement no longer stops a link,
    #: and strong attributes (`birth_date`) that no longer keep records or customers apart.
    lifted: list[str] = field(default_factory=list)

    @property
    def fields(self) -> list[str]:
        return list(self.m)

    @property
    def prior_weight(self) -> float:
        return math.log2(self.prior / (1 - self.prior))

    def level_weights(self, name: str) -> FloatArray:
        """log2(m/u) per level of one field; an echo level (a value spelled from fields the
        model scores already) at most `ECHO_WEIGHT`: random pairs, which u comes from, almost
        never agree on it, but namesakes often do; a `TYPO_ONLY` field's typo level alone,
        never below 0."""
        m, u = np.asarray(self.m[name]), np.asarray(self.u[name])
        result: FloatArray = np.log2(m / u)
        levels = FIELD_LEVELS[name]
        if "echo" in levels:
            at = levels.index("echo")
            result[at] = min(result[at], ECHO_WEIGHT)
        if name in TYPO_ONLY:
            typo = levels.index("typo")
            kept = max(float(result[typo]), 0.0)
            result[:] = 0.0
            result[typo] = kept
        return result

    def to_json(self) -> str:
        return orjson.dumps(
            {
                "m": self.m,
                "u": self.u,
                "prior": self.prior,
                "notes": self.notes,
                "aliases": self.aliases,
                "lifted": self.lifted,
            }
        ).decode()

    @classmethod
    def from_json(cls, text: str) -> MatchModel:
        data = orjson.loads(text)
        aliases = [(str(x), str(y)) for x, y in data.get("aliases", [])]
        lifted = [str(name) for name in data.get("lifted", [])]
        return cls(
            data["m"], data["u"], float(data["prior"]), data.get("notes", {}), aliases, lifted
        )


def _shares(levels: LevelArray, n_levels: int, weights: FloatArray | None = None) -> FloatArray:
    present = levels >= 0
    chosen = None if weights is None else weights[present]
    return np.bincount(levels[present], weights=chosen, minlength=n_levels).astype(np.float64)


def _normalised(counts: FloatArray) -> FloatArray:
    total = counts.sum()
    probs = counts / total if total > 0 else np.full(len(counts), 1 / len(counts))
    probs = np.maximum(probs, FLOOR)
    result: FloatArray = probs / probs.sum()
    return result


def _initial_m(n_levels: int) -> FloatArray:
    """Best level most likely for a true pair, each next one half as likely, `else` 5%."""
    graded = 0.5 ** np.arange(n_levels - 1)
    return np.append(0.95 * graded / graded.sum(), 0.05)


def _em(
    levels: list[LevelArray], u: list[FloatArray], training: Training
) -> tuple[list[FloatArray], FloatArray]:
    """m per field and the match posterior of each pair, by EM with u fixed; the pairs are
    folded into their distinct level patterns first (a few thousand for millions of pairs)."""
    m = [_initial_m(len(x)) for x in u]
    if not levels or not len(levels[0]):
        return m, np.zeros(0)
    stacked = np.stack([lv.astype(np.int64) + 1 for lv in levels], axis=1)
    radix = np.array([len(x) + 1 for x in u], dtype=np.int64)
    place = np.concatenate([[1], np.cumprod(radix[:-1])])
    _, first, inverse, counts = np.unique(
        stacked @ place, return_index=True, return_inverse=True, return_counts=True
    )
    patterns = stacked[first] - 1
    weight = counts.astype(np.float64)
    prior = 0.1
    posterior = np.zeros(len(patterns))
    for _ in range(training.max_iterations):
        log_bf = np.zeros(len(patterns))
        for k, (mk, uk) in enumerate(zip(m, u, strict=True)):
            log_bf += np.append(np.log(mk / uk), 0.0)[patterns[:, k]]
        logit = math.log(prior / (1 - prior)) + log_bf
        posterior = 1.0 / (1.0 + np.exp(-np.clip(logit, -700, 700)))
        expected = weight * posterior
        new_prior = float(np.clip(expected.sum() / weight.sum(), 1e-9, 1 - 1e-9))
        new_m = [
            _normalised(_shares(patterns[:, k].astype(np.int8), len(mk), expected))
            for k, mk in enumerate(m)
        ]
        change = max(
            abs(new_prior - prior),
            *(float(np.abs(a - b).max()) for a, b in zip(new_m, m, strict=True)),
        )
        m, prior = new_m, new_prior
        if change < training.tolerance:
            break
    return m, posterior[inverse.reshape(-1)]


def random_pairs(n: int, size: int, rng: np.random.Generator) -> tuple[Ints, Ints]:
    """`size` random pairs of distinct rows (with replacement)."""
    i = rng.integers(0, n, size=size)
    j = rng.integers(0, n - 1, size=size)
    j = j + (j >= i)
    return i.astype(np.int64), j.astype(np.int64)


def train_model(
    scoring: ScoringView,
    fields: Sequence[str],
    levels: Mapping[str, LevelArray],
    rules: Sequence[tuple[frozenset[str], npt.NDArray[np.bool_]]],
    training: Training | None = None,
) -> MatchModel:
    """Estimate a model over the records of `scoring`.

    Args:
        scoring: the records' scored fields.
        fields: the fields to score.
        levels: every field's levels over all candidate pairs (computed once, shared with
            scoring).
        rules: per blocking rule, the fields it blocks on and which candidate pairs it made.
        training: sample sizes and EM settings.
    """
    training = training or Training()
    fields = list(fields)
    n = len(scoring)
    if n < 2:
        return MatchModel(
            {f: list(_initial_m(len(FIELD_LEVELS[f]))) for f in fields},
            {f: [1 / len(FIELD_LEVELS[f])] * len(FIELD_LEVELS[f]) for f in fields},
            0.5,
        )
    rng = np.random.default_rng(training.seed)
    total_pairs = n * (n - 1) / 2
    left, right = random_pairs(n, int(min(training.random_pairs, total_pairs * 4)), rng)
    u: list[FloatArray] = []
    for name in fields:
        counts = np.maximum(
            _shares(scoring.levels(name, left, right), len(FIELD_LEVELS[name])), 0.5
        )
        u.append(_normalised(counts))
    sums = [np.zeros(len(x)) for x in u]
    weights = np.zeros(len(u))
    expected_matches = 0.0
    rules_seen = []
    for blocked, member in rules:
        if not member.any():
            continue
        free = [k for k, name in enumerate(fields) if name not in blocked]
        m_rule, posterior = _em([levels[fields[k]][member] for k in free], [u[k] for k in free],
                                training)  # fmt: skip
        expected = float(posterior.sum())
        expected_matches = max(expected_matches, expected)
        for k, mk in zip(free, m_rule, strict=True):
            sums[k] += expected * mk
            weights[k] += expected
        rules_seen.append({"pairs": int(member.sum()), "expected_matches": round(expected, 1)})
    m = [
        _normalised(sums[k] / weights[k]) if weights[k] > 0 else _initial_m(len(u[k]))
        for k in range(len(fields))
    ]
    prior = float(np.clip(max(expected_matches, 1.0) / total_pairs, 1e-12, 0.5))
    return MatchModel(
        {name: [float(x) for x in m[k]] for k, name in enumerate(fields)},
        {name: [float(x) for x in u[k]] for k, name in enumerate(fields)},
        prior,
        {"records": n, "random_pairs": len(left), "rules": rules_seen},
    )


def pair_weights(
    model: MatchModel,
    scoring: ScoringView,
    left: Ints,
    right: Ints,
    frequencies: Mapping[str, FloatArray] | None = None,
    levels: Mapping[str, LevelArray] | None = None,
) -> tuple[FloatArray, dict[str, LevelArray], dict[str, FloatArray]]:
    """Match weight of each pair, with every field's level and weight (for the waterfall).

    Args:
        frequencies: per field, the share of records holding each distinct value (aligned
            with the field's term-frequency codes); the exact level's u becomes that share
            (term-frequency adjustment). A field without one keeps its exact level's u.
        levels: the pairs' levels when already computed.
    """
    total = np.full(len(left), model.prior_weight)
    found_levels: dict[str, LevelArray] = {}
    parts: dict[str, FloatArray] = {}
    for name in model.fields:
        found = levels[name] if levels is not None else scoring.levels(name, left, right)
        table = model.level_weights(name)
        weight = np.where(found >= 0, table[np.maximum(found, 0)], 0.0)
        share = frequencies.get(name) if frequencies is not None and name not in TYPO_ONLY else None
        exact = np.flatnonzero(found == 0) if share is not None else ()
        if share is not None and len(exact):
            tf = scoring.tf_codes(name)
            value_share = np.maximum(share[tf.codes[left[exact]]], FLOOR)
            weight[exact] = np.log2(model.m[name][0] / value_share)
        found_levels[name] = found
        parts[name] = weight
        total += weight
    return total, found_levels, parts


def probability(weight: FloatArray) -> FloatArray:
    result: FloatArray = 1.0 / (1.0 + np.exp2(-np.clip(weight, -1000, 1000)))
    return result
