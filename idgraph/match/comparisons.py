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
