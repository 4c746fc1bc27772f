"""Field comparisons, vectorised over many pairs at once: Polars for equality, rapidfuzz's
batch functions for string similarity."""

from __future__ import annotations

import jellyfish
import numpy as np
import numpy.typing as npt
import polars as pl
from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler, Levenshtein

from idgraph.match.config import Comparison

FloatArray = npt.NDArray[np.float64]
#: Methods scored by rapidfuzz on Python strings (the costly ones).
STRING_METHODS = frozenset({"jaro_winkler", "levenshtein"})


class FieldArrays:
    """One view column made ready for scoring many pairs, each form built once and shared by
    every comparison and rule that reads the column."""

    def __init__(self, values: pl.Series) -> None:
        self.values = values.cast(pl.Utf8)
        self._distinct: tuple[npt.NDArray[np.int64], npt.NDArray[np.object_]] | None = None
        self._empty: npt.NDArray[np.bool_] | None = None
        self._codes: dict[str, npt.NDArray[np.int64]] = {}

    @property
    def distinct(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.object_]]:
        """Per row the index of its value among the distinct values, and those values as
        Python strings (null as ""), for rapidfuzz: a pair of values is scored once however
        many record pairs share it."""
        if self._distinct is None:
            codes, values = _dense(self.values.fill_null(""))
            self._distinct = (codes, np.array(values.to_list(), dtype=object))
        return self._distinct

    @property
    def empty(self) -> npt.NDArray[np.bool_]:
        if self._empty is None:
            self._empty = (self.values.is_null() | (self.values == "")).to_numpy()
        return self._empty

    def codes(self, method: str) -> npt.NDArray[np.int64]:
        """An integer per distinct value (or metaphone code): equal codes, equal values."""
        if method not in self._codes:
            codes, texts = self.distinct
            if method == "phonetic":
                metaphones = [jellyfish.metaphone(text) for text in texts]
                sounds, _ = _dense(pl.Series(metaphones, dtype=pl.Utf8))
                codes = sounds[codes]
            self._codes[method] = codes
        return self._codes[method]


def _dense(values: pl.Series) -> tuple[npt.NDArray[np.int64], pl.Series]:
    """Per value its index among the distinct values, and the distinct values (a hash join:
    a sort of a million strings costs several times more)."""
    distinct = values.unique().rename("v")
    index = (
        values.rename("v")
        .to_frame()
        .join(distinct.to_frame().with_row_index("i"), on="v", how="left", maintain_order="left")
    )
    return index["i"].cast(pl.Int64).to_numpy(), distinct


def pair_similarities(
    comparison: Comparison,
    field: FieldArrays,
    left: npt.NDArray[np.integer],
    right: npt.NDArray[np.integer],
    *,
    cutoff: float | None = None,
) -> FloatArray:
    """Similarity in [0, 1] of the pairs (left[k], right[k]) of positions into the field;
    an empty value on either side scores 0.

    With `cutoff`, string similarities below it may come back as 0 (the scorer stops early):
    for callers that only keep pairs at or above it.

    Examples:
        >>> exact = Comparison(field="birth_date", method="exact")
        >>> field = FieldArrays(pl.Series(["1980", "1980", None, "1981"]))
        >>> pair_similarities(exact, field, np.array([0, 0, 2]), np.array([1, 3, 2]))
        array([1., 0., 0.])
    """
    missing = field.empty[left] | field.empty[right]
    if comparison.method in STRING_METHODS:
        scorer = (
            JaroWinkler.normalized_similarity
            if comparison.method == "jaro_winkler"
            else Levenshtein.normalized_similarity
        )
        codes, texts = field.distinct
        value_left, value_right = codes[left], codes[right]
        # Equal values score 1; each other pair of distinct values is scored once.
        scores = np.ones(len(left), dtype=np.float64)
        differ = np.flatnonzero(value_left != value_right)
        if len(differ):
            width = np.int64(len(texts))
            pair_keys, back = _unique_inverse(value_left[differ] * width + value_right[differ])
            scored = process.cpdist(
                texts[pair_keys // width],
                texts[pair_keys % width],
                scorer=scorer,
                workers=-1,
                score_cutoff=cutoff,
                dtype=np.float64,  # float32 would put a score equal to its threshold below it
            )
            scores[differ] = scored[back.ravel()]
    else:
        codes = field.codes(comparison.method)
        scores = (codes[left] == codes[right]).astype(np.float64)
    scores[missing] = 0.0
    return scores


def _unique_inverse(
    values: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """`np.unique(values, return_inverse=True)`, from Polars' dense rank: about twice as fast
    on the millions of value pairs a big run scores, and the same result.

    Examples:
        >>> keys, back = _unique_inverse(np.array([7, 3, 7, 9], dtype=np.int64))
        >>> keys.tolist(), back.tolist()
        ([3, 7, 9], [1, 0, 1, 2])
    """
    back = pl.Series(values).rank("dense").cast(pl.Int64).to_numpy() - 1
    keys = np.empty(int(back.max()) + 1 if len(back) else 0, dtype=np.int64)
    keys[back] = values
    return keys, back


def rounded(values: FloatArray, digits: int = 4) -> FloatArray:
    """`round(x, digits)` of every value, as Python rounds it (decimal ties to even).

    numpy rounds the binary value scaled by 10**digits, which differs from Python's round on
    values next to a tie; those few are rounded in Python.

    Examples:
        >>> rounded(np.array([0.12345, 0.5, 0.98765432]), 4).tolist()
        [0.1235, 0.5, 0.9877]
    """
    out = np.round(values, digits)
    scaled = values * 10.0**digits
    near = np.flatnonzero(np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6)
    for i in near.tolist():
        out[i] = round(float(values[i]), digits)
    return out
