"""bench.metrics against brute-force pair enumeration and hand-worked examples."""

from __future__ import annotations

import itertools
import json
import math
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.accuracy import DEFAULT_CONFIG, people_csv_path, read_people
from bench.accuracy import main as accuracy_main
from bench.compare_splink import (
    SPLINK_VENV,
    ToolRun,
    comparison_table,
    markdown_table,
    run_splink,
    venv_python,
)
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


# --- the report scripts: bench/accuracy.py and bench/compare_splink.py -----------------------

PEOPLE_COLUMNS = [
    *("record_id", "source", "given_name", "surname", "street", "suburb", "postcode", "state"),
    *("dob", "email", "phone", "national_id", "person_id"),
]


def _tiny_people(path: Path, people: int = 30, seed: int = 3) -> Path:
    """A small people.csv in the generator's format: 1-3 records a person, some typos."""
    rng = random.Random(seed)
    given = ["anna", "bruno", "carla", "dario", "elena", "fabio", "gina", "hugo", "ines", "jon"]
    family = ["rossi", "bianchi", "ferrari", "russo", "romano", "gallo", "conti", "greco"]
    rows = []
    for person in range(people):
        name, surname = given[person % 10], family[(person * 7) % 8]
        dob = f"{1950 + person}-{1 + person % 12:02d}-{1 + person % 28:02d}"
        for copy in range(1 + person % 3):
            typo = surname if copy == 0 else surname[:-1] + rng.choice("xyz")
            rows.append(
                {
                    "record_id": f"r{len(rows)}",
                    "source": "crm",
                    "given_name": name,
                    "surname": typo,
                    "street": f"{person + 1} main st",
                    "suburb": "carlton",
                    "postcode": str(3000 + person),
                    "state": "vic",
                    "dob": dob,
                    "email": f"{name}.{surname}{person}@example.com" if copy < 2 else "",
                    "phone": f"04{10000000 + person * 7919}",
                    "national_id": "",
                    "person_id": f"p{person}",
                }
            )
    pd.DataFrame(rows, columns=PEOPLE_COLUMNS).to_csv(path / "people.csv", index=False)
    return path / "people.csv"


def test_people_csv_path_accepts_a_folder_or_the_file(tmp_path: Path) -> None:
    csv_path = _tiny_people(tmp_path)
    assert people_csv_path(tmp_path) == csv_path
    assert people_csv_path(csv_path) == csv_path
    with pytest.raises(FileNotFoundError, match=r"people\.csv"):
        people_csv_path(tmp_path / "nowhere")


def test_read_people_keeps_empty_as_text_and_needs_the_truth_column(tmp_path: Path) -> None:
    csv_path = _tiny_people(tmp_path)
    df = read_people(csv_path, truth_column="person_id")
    assert (df["national_id"] == "").all()
    with pytest.raises(KeyError, match="no truth column 'cluster'"):
        read_people(csv_path, truth_column="cluster")


def _run(tool: str, labels: list[int], pairs: int | None) -> ToolRun:
    return ToolRun(tool, pd.Series(labels), 1.5, 0.25, 2.0, pairs, {})


def test_comparison_table_puts_tools_side_by_side() -> None:
    truth = [1, 1, 2, 2]
    runs = [_run("idgraph", [1, 1, 2, 2], 10), _run("Splink 4.0.17", [1, 1, 1, 1], None)]
    rows = comparison_table([(run, evaluate(run.labels, truth)) for run in runs])
    table = {row[0]: row[1:] for row in rows}
    assert rows[0] == ["metric", "idgraph", "Splink 4.0.17"]
    assert table["pairwise precision"] == ["1.0000", "0.3333"]
    assert table["pairs compared"] == ["10", "n/a"]
    assert table["train s"] == ["1.50", "1.50"]
    markdown = markdown_table(rows).splitlines()
    assert markdown[0] == "| metric | idgraph | Splink 4.0.17 |"
    assert markdown[1] == "| --- | ---: | ---: |"
    assert len(markdown) == len(rows) + 1
    assert all(line.count("|") == 4 for line in markdown)


def test_accuracy_script_scores_idgraph_on_a_small_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("idgraph.link", exc_type=ImportError)
    if not DEFAULT_CONFIG.is_file():
        pytest.skip("idgraph/link/configs/people.yaml is not there yet")
    csv_path = _tiny_people(tmp_path)
    accuracy_main([str(csv_path), "--json", str(tmp_path / "out.json")])
    out = capsys.readouterr().out
    assert "pairwise f1" in out and "pairs compared" in out
    numbers = json.loads((tmp_path / "out.json").read_text())
    assert numbers["records"] == len(read_people(csv_path, truth_column="person_id"))
    assert 0.0 <= numbers["bcubed_f1"] <= 1.0


@pytest.mark.skipif(
    not venv_python(SPLINK_VENV).is_file(),
    reason="needs bench/.venv-splink (python bench/compare_splink.py creates it)",
)
def test_splink_run_labels_every_record(tmp_path: Path) -> None:
    csv_path = _tiny_people(tmp_path, people=60)
    df = read_people(csv_path, truth_column="person_id")
    run = run_splink(
        venv_python(SPLINK_VENV), csv_path, df["record_id"], threshold=0.9, seed=1, max_pairs=1e4
    )
    assert run.tool.startswith("Splink 4.")
    assert len(run.labels) == len(df) and not run.labels.isna().any()
    assert run.pairs_compared is not None and run.pairs_compared > 0
    assert evaluate(run.labels, df["person_id"]).records == len(df)
