"""Field comparisons, vectorised over many pairs at once with rapidfuzz's batch functions."""

from __future__ import annotations

from collections.abc import Sequence

import jellyfish
import numpy as np
import numpy.typing as npt
from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler, Levenshtein

from idgraph.match.config import Comparison

FloatArray = npt.NDArray[np.float64]


def similarities(comparison: Comparison, left: Sequence[str], right: Sequence[str]) -> FloatArray:
    """Similarity in [0, 1] for each aligned pair; an empty value on either side scores 0."""
    if len(left) != len(right):
        raise ValueError("left and right must be aligned")
    if not left:
        return np.zeros(0, dtype=np.float64)
    missing = np.fromiter(
        (not a or not b for a, b in zip(left, right, strict=True)), dtype=bool, count=len(left)
    )
    match comparison.method:
        case "exact":
            scores = np.fromiter(
                (a == b for a, b in zip(left, right, strict=True)), dtype=np.float64
            )
        case "phonetic":
            scores = np.fromiter(
                (
                    jellyfish.metaphone(a) == jellyfish.metaphone(b)
                    for a, b in zip(left, right, strict=True)
                ),
                dtype=np.float64,
            )
        case "jaro_winkler":
            scores = process.cpdist(
                left, right, scorer=JaroWinkler.normalized_similarity, workers=-1
            ).astype(np.float64)
        case "levenshtein":
            scores = process.cpdist(
                left, right, scorer=Levenshtein.normalized_similarity, workers=-1
            ).astype(np.float64)
    scores[missing] = 0.0
    return scores
