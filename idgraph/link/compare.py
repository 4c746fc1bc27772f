"""Comparison levels for candidate pairs, computed over whole arrays at once.

A pair's level for one comparison is the index of the first level that holds (`-1` when either
value is missing). Each level is evaluated only on the pairs no earlier level claimed, string
similarities run in rapidfuzz's multi-threaded `cpdist` on each distinct pair of values once, and
everything else is numpy over value codes. There is no Python loop per pair.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein, Jaro, JaroWinkler, Levenshtein

from idgraph.link.config import Comparison, Level, LinkConfig
from idgraph.link.prepare import BoolArray, Encoded, IntArray, Prepared, comparison_column

__all__ = ["ComparedPairs", "compare_pairs", "comparison_levels", "level_holds"]

LevelArray = npt.NDArray[np.int8]
NULL_LEVEL = -1

_SCORERS: dict[str, Any] = {
    "jaro_winkler": JaroWinkler.normalized_similarity,
    "jaro": Jaro.normalized_similarity,
    "levenshtein": Levenshtein.distance,
    "damerau_levenshtein": DamerauLevenshtein.distance,
}


def _string_scores(kind: str, enc: Encoded, a: IntArray, b: IntArray, cutoff: float) -> Any:
    """Scores of each distinct (a, b) value pair, computed once and spread back to every pair."""
    key = a * len(enc.values) + b
    distinct, inverse = np.unique(key, return_inverse=True)
    left = enc.values[distinct // len(enc.values)]
    right = enc.values[distinct % len(enc.values)]
    cutoff_arg = int(cutoff) if kind in ("levenshtein", "damerau_levenshtein") else cutoff
    scores = process.cpdist(left, right, scorer=_SCORERS[kind], score_cutoff=cutoff_arg, workers=-1)
    return np.asarray(scores)[inverse.reshape(-1)]


def _yyyymmdd(ymd: IntArray) -> IntArray:
    return ymd[:, 0] * 10000 + ymd[:, 1] * 100 + ymd[:, 2]


def _day_numbers(enc: Encoded) -> IntArray:
    ymd = enc.dates()
    ok = ymd[:, 0] >= 0
    months = np.where(ok, (ymd[:, 0] - 1970) * 12 + ymd[:, 1] - 1, 0).astype("datetime64[M]")
    days = months.astype("datetime64[D]") + np.where(ok, ymd[:, 2] - 1, 0).astype("timedelta64[D]")
    return np.where(ok, days.astype(np.int64), np.iinfo(np.int64).min)


def _date_rule(rule: str, enc: Encoded, a: IntArray, b: IntArray) -> BoolArray:
    ymd = enc.dates()
    da, db = ymd[a], ymd[b]
    valid = (da[:, 0] >= 0) & (db[:, 0] >= 0)
    same_year = da[:, 0] == db[:, 0]
    if rule == "same_year":
        held = same_year
    elif rule == "same_year_month":
        held = same_year & (da[:, 1] == db[:, 1])
    elif rule == "day_month_swapped":
        held = same_year & (da[:, 1] == db[:, 2]) & (da[:, 2] == db[:, 1]) & (da[:, 1] != da[:, 2])
    else:  # one_digit_off: the eight digits of YYYYMMDD differ in exactly one place
        xa, xb = _yyyymmdd(da), _yyyymmdd(db)
        powers = 10 ** np.arange(8, dtype=np.int64)
        differ = (xa[:, None] // powers) % 10 != (xb[:, None] // powers) % 10
        held = differ.sum(axis=1) == 1
    result: BoolArray = valid & held
    return result


def level_holds(level: Level, enc: Encoded, a: IntArray, b: IntArray) -> BoolArray:
    """Whether `level` holds for value-code pairs (a, b), both present (codes >= 0)."""
    kind, value = level.kind, level.value
    if kind == "exact":
        result: BoolArray = a == b
    elif kind == "else":
        result = np.ones(len(a), dtype=bool)
    elif kind in ("jaro_winkler", "jaro"):
        result = _string_scores(kind, enc, a, b, level.number) >= level.number
    elif kind in ("levenshtein", "damerau_levenshtein"):
        result = _string_scores(kind, enc, a, b, level.number) <= level.number
    elif kind in ("phonetic", "nickname", "swapped"):
        derived = enc.derived_codes(str(value) if kind == "phonetic" else kind)
        ca, cb = derived[a], derived[b]
        result = (ca == cb) & (ca >= 0)
    elif kind == "date":
        result = _date_rule(str(value), enc, a, b)
    elif kind == "days_within":
        days = _day_numbers(enc)
        da, db = days[a], days[b]
        floor = np.iinfo(np.int64).min
        result = (da != floor) & (db != floor) & (np.abs(da - db) <= level.number)
    else:
        numbers = enc.numbers()
        na, nb = numbers[a], numbers[b]
        gap = np.abs(na - nb)
        tolerance = level.number
        if kind == "numeric_within":
            tolerance_arr = tolerance * np.maximum(np.abs(na), np.abs(nb))
            result = np.nan_to_num(gap, nan=np.inf) <= tolerance_arr
        else:
            result = np.nan_to_num(gap, nan=np.inf) <= tolerance
    return np.asarray(result, dtype=bool)


def comparison_levels(
    prepared: Prepared, comparison: Comparison, left: IntArray, right: IntArray
) -> LevelArray:
    """The level index of every pair (row positions `left[i]`, `right[i]`); -1 = null."""
    enc = comparison_column(prepared, comparison.output_name, comparison.column)
    lc, rc = enc.codes[left], enc.codes[right]
    out = np.full(len(left), NULL_LEVEL, dtype=np.int8)
    todo = np.flatnonzero((lc >= 0) & (rc >= 0))
    for index, level in enumerate(comparison.levels):
        if todo.size == 0:
            break
        held = level_holds(level, enc, lc[todo], rc[todo])
        out[todo[held]] = index
        todo = todo[~held]
    return out


@dataclass(frozen=True)
class ComparedPairs:
    """Levels per comparison (keyed by output name) for aligned pairs, and how fast it ran."""

    left: IntArray
    right: IntArray
    levels: dict[str, LevelArray]
    seconds: float

    @property
    def pairs_per_second(self) -> float:
        return len(self.left) / self.seconds if self.seconds > 0 else float("inf")


def compare_pairs(
    prepared: Prepared, config: LinkConfig, left: IntArray, right: IntArray
) -> ComparedPairs:
    """Every comparison's levels for the pairs; timed, so a report can show pairs per second."""
    start = time.perf_counter()
    levels = {
        c.output_name: comparison_levels(prepared, c, left, right) for c in config.comparisons
    }
    return ComparedPairs(left, right, levels, time.perf_counter() - start)
