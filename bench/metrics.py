"""Clustering quality against ground truth: pairwise and B-cubed scores, and cluster counts.

Everything is computed from the contingency table of (predicted cluster, true cluster) cells,
found in one hashing pass over the records, so scoring a million records never enumerates the
billions of record pairs that the pairwise scores talk about. With ``n_ij`` records in cell
``(i, j)``, ``a_i`` records in predicted cluster ``i`` and ``b_j`` in true cluster ``j``:

- pairs linked correctly = sum C(n_ij, 2), pairs predicted = sum C(a_i, 2),
  true pairs = sum C(b_j, 2)
- B-cubed precision = (1/n) sum n_ij**2 / a_i; B-cubed recall = (1/n) sum n_ij**2 / b_j

Examples:
    >>> m = evaluate(["a", "a", "b", "b"], [1, 1, 1, 2])
    >>> (m.pairwise_precision, m.pairwise_recall, m.split_true_clusters)
    (0.5, 0.3333333333333333, 1)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["ClusterMetrics", "evaluate", "metric_rows"]

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ClusterMetrics:
    """Scores of one predicted partition against the true one.

    Precision-like scores with nothing predicted (no predicted pairs) are 1.0, and recall-like
    scores with nothing to find are 1.0, so an all-singletons truth scores perfectly when the
    prediction is all singletons too. An F1 whose precision and recall are both 0 is 0.
    """

    records: int
    true_clusters: int
    predicted_clusters: int
    largest_true_cluster: int
    largest_predicted_cluster: int
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    pairwise_precision: float
    pairwise_recall: float
    pairwise_f1: float
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    overmerged_predicted_clusters: int
    """Predicted clusters holding records of more than one true cluster."""
    overmerged_true_clusters: int
    """True clusters with a record in a predicted cluster shared with another true cluster."""
    split_true_clusters: int
    """True clusters whose records are spread over more than one predicted cluster."""

    def as_dict(self) -> dict[str, Any]:
        """Return the metrics as a plain dict (for JSON output)."""
        return asdict(self)


def _codes(labels: Sequence[Any] | pd.Series | npt.NDArray[Any], name: str) -> IntArray:
    """Factorise labels into dense integer codes; missing labels are an error, not a cluster."""
    values = (
        labels if isinstance(labels, pd.Series | np.ndarray) else pd.Series(labels, dtype=object)
    )
    codes, _ = pd.factorize(values, use_na_sentinel=True)
    if (codes < 0).any():
        raise ValueError(
            f"{name} has {int((codes < 0).sum())} missing label(s): give every record a cluster id"
        )
    return np.asarray(codes, dtype=np.int64)


def _pairs(sizes: IntArray) -> int:
    return int((sizes * (sizes - 1) // 2).sum())


def _ratio(numerator: float, denominator: float) -> float:
    return 1.0 if denominator == 0 else numerator / denominator


def _f1(precision: float, recall: float) -> float:
    total = precision + recall
    return 0.0 if total == 0 else 2 * precision * recall / total


def evaluate(
    predicted: Sequence[Any] | pd.Series | npt.NDArray[Any],
    truth: Sequence[Any] | pd.Series | npt.NDArray[Any],
) -> ClusterMetrics:
    """Score a predicted clustering against the true one, in time linear in the records.

    Args:
        predicted: One cluster id per record (any hashable values).
        truth: The true cluster id of each record, in the same order.

    Returns:
        The pairwise, B-cubed and cluster-count metrics.

    Raises:
        ValueError: If the two have different lengths or a label is missing (None/NaN).
    """
    pred = _codes(predicted, "predicted")
    true = _codes(truth, "truth")
    if len(pred) != len(true):
        raise ValueError(f"predicted has {len(pred)} labels but truth has {len(true)}")
    n = len(pred)
    if n == 0:
        raise ValueError("no records to score")
    n_true = int(true.max()) + 1
    cell_codes, cell_keys = pd.factorize(pred * n_true + true)
    cell_size = np.bincount(cell_codes).astype(np.int64)
    keys = np.asarray(cell_keys, dtype=np.int64)
    cell_pred = keys // n_true
    cell_true = keys % n_true
    pred_size = np.bincount(pred).astype(np.int64)
    true_size = np.bincount(true).astype(np.int64)

    correct = _pairs(cell_size)
    predicted_pairs = _pairs(pred_size)
    true_pairs = _pairs(true_size)
    precision = _ratio(correct, predicted_pairs)
    recall = _ratio(correct, true_pairs)
    squares = cell_size.astype(np.float64) ** 2
    b_precision = float((squares / pred_size[cell_pred]).sum()) / n
    b_recall = float((squares / true_size[cell_true]).sum()) / n

    people_per_pred = np.bincount(cell_pred, minlength=len(pred_size))
    overmerged = people_per_pred > 1
    clusters_per_true = np.bincount(cell_true, minlength=len(true_size))
    return ClusterMetrics(
        records=n,
        true_clusters=len(true_size),
        predicted_clusters=len(pred_size),
        largest_true_cluster=int(true_size.max()),
        largest_predicted_cluster=int(pred_size.max()),
        true_pairs=true_pairs,
        predicted_pairs=predicted_pairs,
        correct_pairs=correct,
        pairwise_precision=precision,
        pairwise_recall=recall,
        pairwise_f1=_f1(precision, recall),
        bcubed_precision=b_precision,
        bcubed_recall=b_recall,
        bcubed_f1=_f1(b_precision, b_recall),
        overmerged_predicted_clusters=int(overmerged.sum()),
        overmerged_true_clusters=int(
            np.count_nonzero(np.bincount(cell_true[overmerged[cell_pred]], minlength=n_true))
        ),
        split_true_clusters=int((clusters_per_true > 1).sum()),
    )


def metric_rows(metrics: ClusterMetrics) -> list[tuple[str, str]]:
    """Label and formatted value of each metric, in the order the reports print them.

    Args:
        metrics: The metrics to format.

    Returns:
        (label, value) pairs: scores with four decimals, counts with thousands separators.
    """
    rows: list[tuple[str, str]] = []
    for key, value in metrics.as_dict().items():
        label = key.replace("_", " ")
        rows.append((label, f"{value:.4f}" if isinstance(value, float) else f"{value:,}"))
    return rows
