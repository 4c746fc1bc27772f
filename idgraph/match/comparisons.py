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
from idgraph.match.view import per_distinct

FloatArray = npt.NDArray[np.float64]
#: Methods scored by rapidfuzz on Python strings (the costly ones).
STRING_METHODS = frozenset({"jaro_winkler", "levenshtein"})


def pair_similarities(
    comparison: Comparison,
    values: pl.Series,
    left: npt.NDArray[np.integer],
    right: npt.NDArray[np.integer],
    texts: npt.NDArray[np.object_] | None = None,
    *,
    cutoff: float | None = None,
) -> FloatArray:
    """`similarities` of the pairs (left[k], right[k]) of positions into `values`.

    String scorers take Python strings: `texts` (the values as an object array, null as "")
    lets several comparisons of one column share that conversion, and pairs pick their strings
    by position without copying them. With `cutoff`, similarities below it may come back as 0
    (the scorer stops early): for callers that only keep pairs at or above it.
    """
    if comparison.method in STRING_METHODS:
        if texts is None:
            texts = np.array(values.cast(pl.Utf8).fill_null("").to_list(), dtype=object)
        empty = (values.is_null() | (values.cast(pl.Utf8) == "")).to_numpy()
        missing = empty[left] | empty[right]
        a, b = texts[left], texts[right]
        scorer = (
            JaroWinkler.normalized_similarity
            if comparison.method == "jaro_winkler"
            else Levenshtein.normalized_similarity
        )
        scores = process.cpdist(a, b, scorer=scorer, workers=-1, score_cutoff=cutoff).astype(
            np.float64
        )
        scores[missing] = 0.0
        return scores
    if comparison.method == "exact":
        codes, empty = _codes(values.cast(pl.Utf8))
        same: FloatArray = ((codes[left] == codes[right]) & ~empty[left]).astype(np.float64)
        return same
    return similarities(comparison, values.gather(left), values.gather(right))


def _codes(
    values: pl.Series,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """An integer per distinct value (equal codes, equal values) and where values are empty."""
    empty = (values.is_null() | (values == "")).to_numpy()
    codes = values.fill_null("").rank("dense").cast(pl.Int64).to_numpy()
    return codes, empty


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


def similarities(comparison: Comparison, left: pl.Series, right: pl.Series) -> FloatArray:
    """Similarity in [0, 1] for each aligned pair; an empty value on either side scores 0.

    Examples:
        >>> from idgraph.match.config import Comparison
        >>> exact = Comparison(field="birth_date", method="exact")
        >>> similarities(exact, pl.Series(["1980", "1980", None]), pl.Series(["1980", "1981", "x"]))
        array([1., 0., 0.])
    """
    if left.len() != right.len():
        raise ValueError("left and right must be aligned")
    if left.len() == 0:
        return np.zeros(0, dtype=np.float64)
    left = left.cast(pl.Utf8).fill_null("")
    right = right.cast(pl.Utf8).fill_null("")
    missing = ((left == "") | (right == "")).to_numpy()
    match comparison.method:
        case "exact":
            scores = (left == right).to_numpy().astype(np.float64)
        case "phonetic":
            codes_left = per_distinct(left, jellyfish.metaphone)
            codes_right = per_distinct(right, jellyfish.metaphone)
            scores = (codes_left == codes_right).to_numpy().astype(np.float64)
        case "jaro_winkler":
            scores = process.cpdist(
                left.to_list(),
                right.to_list(),
                scorer=JaroWinkler.normalized_similarity,
                workers=-1,
            ).astype(np.float64)
        case "levenshtein":
            scores = process.cpdist(
                left.to_list(),
                right.to_list(),
                scorer=Levenshtein.normalized_similarity,
                workers=-1,
            ).astype(np.float64)
    scores[missing] = 0.0
    return scores
