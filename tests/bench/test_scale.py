"""The scale benchmark's scoring: predicted clusters against the generator's truth."""

from __future__ import annotations

from bench.scale import _score


def test_a_merge_of_two_people_costs_precision_not_recall() -> None:
    truth = {"r1": "P1", "r2": "P1", "r3": "P2", "r4": "P2"}
    merged = {"r1": "C1", "r2": "C1", "r3": "C1", "r4": "C1"}
    scores = _score(truth, merged)
    assert scores["recall"] == 1.0
    assert scores["precision"] == 2 / 6
    assert scores["largest"] == 4.0


def test_a_missing_label_is_a_singleton() -> None:
    truth = {"r1": "P1", "r2": "P1", "r3": "P1"}
    scores = _score(truth, {"r1": "C1", "r2": "C1"})
    assert (scores["precision"], scores["recall"]) == (1.0, 1 / 3)
    assert scores["largest"] == 2.0
