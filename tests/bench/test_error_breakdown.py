"""bench/error_breakdown.py: missed and wrong pairs per failure mode, against oracles."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.error_breakdown import breakdown, load_units, main, pairs_within
from bench.generate import run


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("breakdown")
    run(records=3000, seed=21, noise=1.0, out=out, sources=True)
    return out


def _frames(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    people = pd.read_csv(folder / "people.csv", dtype=str, keep_default_na=False)
    modes = pd.read_csv(folder / "failure_modes.csv", dtype=str, keep_default_na=False)
    return people, modes


def test_pairs_within_matches_combinations() -> None:
    rng = np.random.default_rng(3)
    groups = rng.integers(0, 40, 200)
    a, b = pairs_within(groups)
    got = {tuple(sorted(p)) for p in zip(a.tolist(), b.tolist(), strict=True)}
    expected = {(i, j) for i, j in itertools.combinations(range(200), 2) if groups[i] == groups[j]}
    assert got == expected
    small_a, _ = pairs_within(groups, limit=4)
    sizes = np.bincount(groups)
    assert small_a.size == sum(s * (s - 1) // 2 for s in sizes if s <= 4)


def test_truth_as_labels_has_no_errors(folder: Path) -> None:
    people, _ = _frames(folder)
    labels = dict(zip("people:" + people["record_id"], people["person_id"], strict=True))
    report = breakdown(load_units(folder, "people", labels))
    sizes = people["person_id"].value_counts()
    assert report["true_pairs"] == int((sizes * (sizes - 1) // 2).sum())
    assert report["missed_pairs"] == report["wrong_pairs"] == 0


def test_singletons_miss_every_pair_and_count_modes(folder: Path) -> None:
    people, modes = _frames(folder)
    labels = {f"people:{r}": r for r in people["record_id"]}
    report = breakdown(load_units(folder, "people", labels))
    assert report["missed_pairs"] == report["true_pairs"] > 0
    pairs = modes.merge(modes, on="person_id")
    pairs = pairs[pairs["record_id_x"] < pairs["record_id_y"]]
    for mode in ("household", "dob_digit", "source_cut", "given_nickname"):
        either = pairs["modes_x"].str.split(";").map(lambda t, m=mode: m in t) | pairs[
            "modes_y"
        ].str.split(";").map(lambda t, m=mode: m in t)
        row = next(r for r in report["missed_by_mode"] if r["mode"] == mode)
        assert row["pairs"] == row["missed"] == int(either.sum()), mode


def test_merged_twins_are_wrong_pairs_of_twins(folder: Path) -> None:
    people, modes = _frames(folder)
    twins = modes[modes["modes"].str.contains(r"(?:^|;)twin(?:;|$)", regex=True)]
    household = twins["household_id"].iloc[0]
    pair = twins[twins["household_id"] == household]
    assert pair["person_id"].nunique() == 2
    labels = dict(zip("people:" + people["record_id"], people["person_id"], strict=True))
    for record in pair["record_id"]:
        labels[f"people:{record}"] = "merged"
    report = breakdown(load_units(folder, "people", labels))
    counts = pair["person_id"].value_counts().to_list()
    assert report["wrong_by_relation"] == {"twins": counts[0] * counts[1]}
    assert report["missed_pairs"] == 0


def test_sources_shape_through_idgraph(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(folder), "--shape", "sources", "--json", str(folder / "report.json")]) == 0
    out = capsys.readouterr().out
    assert "| failure mode (either record) |" in out
    report = pd.read_json(folder / "report.json", typ="series")
    truth = pd.read_csv(folder / "sources_truth.csv", dtype=str, keep_default_na=False)
    sizes = truth["person_id"].value_counts()
    assert report["true_pairs"] == int((sizes * (sizes - 1) // 2).sum())
    assert 0 < report["missed_pairs"] < report["true_pairs"]
