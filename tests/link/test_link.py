"""Scoring, clustering and guards end to end on small synthetic people."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idgraph.link import LinkConfig, Model, link, score_pairs, shipped_link_config, train_model
from idgraph.link.cluster import components
from tests.link.synth import people


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return people(900, seed=3)


@pytest.fixture(scope="module")
def model(small: pd.DataFrame) -> Model:
    data = shipped_link_config("people").model_dump()
    config = LinkConfig.model_validate(data | {"training": {"u_pairs": 100_000}})
    return train_model(small, config, seed=1)


def _pairwise_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    def pairs(groups: pd.Series) -> int:
        return int((groups * (groups - 1) // 2).sum())

    frame = pd.DataFrame({"t": truth, "p": predicted})
    true_positive = pairs(frame.groupby(["t", "p"]).size())
    precision = true_positive / pairs(frame.groupby("p").size())
    recall = true_positive / pairs(frame.groupby("t").size())
    return 2 * precision * recall / (precision + recall)


def test_accuracy_smoke_f1_at_least_0_9(small: pd.DataFrame, model: Model) -> None:
    result = link(small, model)
    assert len(small) > 1800
    assert _pairwise_f1(small.person_id.to_numpy(), result.labels.to_numpy()) >= 0.9
    assert result.report is not None
    assert result.report.blocking.pairs == result.report.candidate_pairs


def test_person_id_is_never_read(small: pd.DataFrame, model: Model) -> None:
    shuffled = small.assign(person_id=np.random.default_rng(0).permutation(small.person_id))
    pd.testing.assert_series_equal(link(small, model).labels, link(shuffled, model).labels)


def test_weight_is_prior_plus_contributions(small: pd.DataFrame, model: Model) -> None:
    scored = score_pairs(small, model)
    contributions = scored.filter(like="weight_").sum(axis=1)
    np.testing.assert_allclose(scored.weight, model.prior_weight + contributions)
    np.testing.assert_allclose(scored.probability, 2**scored.weight / (1 + 2**scored.weight))
    assert {"left_id", "right_id", "level_dob", "weight_dob", "deterministic"} <= set(scored)


def test_model_save_load_round_trip(tmp_path: Path, small: pd.DataFrame, model: Model) -> None:
    path = tmp_path / "model.json"
    model.save(path)
    loaded = Model.load(path)
    assert loaded == model
    rows = loaded.describe()
    assert rows[0]["comparison"] == "(prior)"
    assert {"comparison", "level", "m", "u", "bayes_factor", "weight"} <= set(rows[1])


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.lists(st.tuples(st.integers(0, 39), st.integers(0, 39))))
def test_components_match_networkx(n: int, edges: list[tuple[int, int]]) -> None:
    edges = [(a, b) for a, b in edges if a < n and b < n]
    left = np.array([a for a, _ in edges], dtype=np.int64)
    right = np.array([b for _, b in edges], dtype=np.int64)
    ours = components(n, left, right)
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(edges)
    expected = {frozenset(c) for c in nx.connected_components(graph)}
    got = {frozenset(np.flatnonzero(ours == c).tolist()) for c in np.unique(ours)}
    assert got == expected


def _twins() -> tuple[pd.DataFrame, LinkConfig]:
    df = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "name": ["ann lee", "ann lee", "bo chan", "bo chan"],
            "dob": ["1980-01-02", "1990-06-07", "1970-01-01", "1970-01-01"],
            "email": ["x@y.z", "x@y.z", "q@r.s", "q@r.s"],
        }
    )
    config = LinkConfig.model_validate(
        {
            "unique_id": "id",
            "blocking": [["email"], ["name"]],
            "comparisons": [
                {"column": "name", "levels": ["exact"]},
                {"column": "dob", "levels": ["exact", {"date": "one_digit_off"}]},
            ],
            "deterministic": ["email"],
            "guards": {"conflicting": [{"column": "dob", "allow_levels": 2}]},
            "training": {"u_pairs": 1000, "prior": 0.1},
        }
    )
    return df, config


def test_conflicting_dob_never_links_even_on_a_deterministic_key() -> None:
    df, config = _twins()
    model = train_model(df, config, labels=pd.Series(["p", "p", "q", "q"]))
    result = link(df, model)
    assert result.labels.tolist() == ["a", "b", "c", "c"]
    assert result.report is not None
    assert result.report.refused_conflicting == 1
    scored = score_pairs(df, model)
    assert scored.set_index(["left_id", "right_id"]).loc[("a", "b"), "conflict"]


def test_oversized_component_is_split_with_the_reason() -> None:
    n = 12
    df = pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(n)],
            "block": ["k"] * n,
            "code": [f"{i // 6}{i % 3}" for i in range(n)],
            "group": [str(i // 6) for i in range(n)],
        }
    )
    config = LinkConfig.model_validate(
        {
            "unique_id": "id",
            "blocking": [["block"]],
            "comparisons": [
                {"column": "group", "levels": ["exact"]},
                {"column": "code", "levels": ["exact"]},
            ],
            "threshold": 0.5,
            "guards": {"max_cluster_size": 6},
            "training": {"u_pairs": 1000, "prior": 0.5},
        }
    )
    model = train_model(df, config, labels=df.group)
    everything = link(df, model, threshold=1e-9)
    assert everything.splits, "one component of 12 exceeds 6"
    split = everything.splits[0]
    assert (split.records, split.largest_part) == (12, 6)
    assert "max_cluster_size 6" in split.reason
    assert everything.labels.value_counts().max() <= 6
