"""bench.metrics against brute-force pair enumeration and hand-worked examples."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.metrics import ClusterMetrics, evaluate, metric_rows


def _brute(pred: list[int], true: list[int]) -> dict[str, float]:
    """The definitions read literally: every pair, every record."""
    pairs = list(itertools.combinations(range(len(pred)), 2))
    same_pred = {p for p in pairs if pred[p[0]] == pred[p[1]]}
    same_true = {p for p in pairs if true[p[0]] == true[p[1]]}
    correct = len(same_pred & same_true)
    precision = correct / len(same_pred) if same_pred else 1.0
    recall = correct / len(same_true) if same_true else 1.0
    b_p = b_r = 0.0
    for i in range(len(pred)):
        pred_mates = {j for j in range(len(pred)) if pred[j] == pred[i]}
        true_mates = {j for j in range(len(pred)) if true[j] == true[i]}
        b_p += len(pred_mates & true_mates) / len(pred_mates)
        b_r += len(pred_mates & true_mates) / len(true_mates)
    people_in = {c: {true[i] for i in range(len(pred)) if pred[i] == c} for c in set(pred)}
    merged = {c for c, people in people_in.items() if len(people) > 1}
    clusters_of = {t: {pred[i] for i in range(len(pred)) if true[i] == t} for t in set(true)}
    return {
        "correct_pairs": correct,
        "predicted_pairs": len(same_pred),
        "true_pairs": len(same_true),
        "pairwise_precision": precision,
        "pairwise_recall": recall,
        "bcubed_precision": b_p / len(pred),
        "bcubed_recall": b_r / len(pred),
        "overmerged_predicted_clusters": len(merged),
        "overmerged_true_clusters": len({t for c in merged for t in people_in[c]}),
        "split_true_clusters": sum(len(cs) > 1 for cs in clusters_of.values()),
        "largest_predicted_cluster": max(Counter(pred).values()),
        "largest_true_cluster": max(Counter(true).values()),
    }


partitions = st.integers(min_value=1, max_value=40).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 8), min_size=n, max_size=n),
        st.lists(st.integers(0, 8), min_size=n, max_size=n),
    )
)


@settings(max_examples=300, deadline=None)
@given(partitions)
def test_matches_brute_force_enumeration(pair: tuple[list[int], list[int]]) -> None:
    pred, true = pair
    metrics = evaluate(pred, true)
    for key, expected in _brute(pred, true).items():
        assert getattr(metrics, key) == pytest.approx(expected), key
    assert metrics.records == len(pred)
    assert metrics.predicted_clusters == len(set(pred))
    assert metrics.true_clusters == len(set(true))


@settings(max_examples=100, deadline=None)
@given(partitions)
def test_scores_are_symmetric_under_swapping_roles(pair: tuple[list[int], list[int]]) -> None:
    pred, true = pair
    forward, backward = evaluate(pred, true), evaluate(true, pred)
    assert forward.pairwise_precision == pytest.approx(backward.pairwise_recall)
    assert forward.bcubed_precision == pytest.approx(backward.bcubed_recall)
    assert forward.pairwise_f1 == pytest.approx(backward.pairwise_f1)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 20), min_size=1, max_size=60))
def test_perfect_prediction_scores_one_even_with_relabelled_ids(true: list[int]) -> None:
    relabelled = [f"cluster-{t * 7 + 3}" for t in true]
    metrics = evaluate(relabelled, true)
    assert metrics.pairwise_f1 == 1.0
    assert metrics.bcubed_f1 == pytest.approx(1.0)
    assert metrics.overmerged_predicted_clusters == 0
    assert metrics.split_true_clusters == 0


@pytest.mark.parametrize(
    ("pred", "true", "expected"),
    [
        # One person over-merged with a stranger: 3 predicted pairs, 1 of them right.
        (
            ["a", "a", "a"],
            [1, 1, 2],
            {"pairwise_precision": 1 / 3, "pairwise_recall": 1.0, "bcubed_precision": 5 / 9},
        ),
        # One person split in two: nothing predicted, so precision is vacuously 1.
        (
            ["a", "b"],
            [1, 1],
            {"pairwise_precision": 1.0, "pairwise_recall": 0.0, "pairwise_f1": 0.0},
        ),
        # Two people, 4 records each, predicted as 3+5: 3+6 right of 3+10 predicted, 12 true.
        (
            [0, 0, 0, 1, 1, 1, 1, 1],
            ["x", "x", "x", "x", "y", "y", "y", "y"],
            {
                "correct_pairs": 9,
                "predicted_pairs": 13,
                "true_pairs": 12,
                "pairwise_precision": 9 / 13,
                "pairwise_recall": 9 / 12,
                "bcubed_recall": (9 + 1 + 16) / 4 / 8,
                "split_true_clusters": 1,
                "overmerged_true_clusters": 2,
                "overmerged_predicted_clusters": 1,
                "largest_predicted_cluster": 5,
            },
        ),
        # All singletons on both sides: nothing to find, nothing claimed.
        (
            [1, 2, 3],
            ["p", "q", "r"],
            {"pairwise_f1": 1.0, "bcubed_f1": 1.0, "true_pairs": 0, "predicted_clusters": 3},
        ),
    ],
)
def test_hand_examples(pred: list[object], true: list[object], expected: dict[str, float]) -> None:
    metrics = evaluate(pred, true)
    for key, value in expected.items():
        assert getattr(metrics, key) == pytest.approx(value), key


@pytest.mark.parametrize(
    "convert",
    [list, np.array, pd.Series, lambda xs: pd.Series(xs, index=range(100, 100 + len(xs)))],
)
def test_accepts_lists_arrays_and_series_alike(convert: object) -> None:
    pred, true = [3, 3, 4, 4, 4], [1, 1, 1, 2, 2]
    assert callable(convert)
    assert evaluate(convert(pred), convert(true)) == evaluate(pred, true)


@pytest.mark.parametrize(
    ("pred", "true", "message"),
    [
        ([1, 2], [1], "2 labels but truth has 1"),
        ([1, None], [1, 2], "predicted has 1 missing"),
        ([1, 2], [float("nan"), 2], "truth has 1 missing"),
        ([], [], "no records"),
    ],
)
def test_rejects_bad_input(pred: list[object], true: list[object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate(pred, true)


def test_large_input_is_scored_without_enumerating_pairs() -> None:
    # 200k records in one true cluster would be 2e10 pairs: only counting can finish this.
    n = 200_000
    metrics = evaluate(np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64))
    assert metrics.true_pairs == n * (n - 1) // 2
    assert metrics.pairwise_f1 == 1.0


def test_metric_rows_format_every_field() -> None:
    metrics = evaluate([1, 1, 2], [1, 1, 1])
    rows = dict(metric_rows(metrics))
    assert len(rows) == len(metrics.as_dict())
    assert rows["pairwise precision"] == "1.0000"
    assert rows["records"] == "3"
    assert isinstance(metrics, ClusterMetrics)
    assert math.isclose(float(rows["pairwise recall"]), 1 / 3, abs_tol=1e-4)
