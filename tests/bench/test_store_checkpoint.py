"""The checkpoint benchmark times the writes it says it makes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.store_checkpoint import CASES, GROUP_ROWS, WRITES, build, run_case

N = 3000


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("checkpoint") / "base" / "store.db"
    build(path, N)
    return path


def _changes(base: Path, tmp_path: Path, name: str) -> dict[str, int]:
    case = next(c for c in CASES if c.name == name)
    timing = run_case(base, tmp_path / "run", N, case, seed=0)
    assert timing.checkpoint >= 0 and timing.write >= 0
    assert not (tmp_path / "run").exists()
    return {
        k: timing.after[k] - timing.before[k]
        for k in timing.before
        if timing.after[k] != timing.before[k]
    }


def test_the_built_store_has_the_documented_shape(base: Path, tmp_path: Path) -> None:
    timing = run_case(base, tmp_path / "run", N, CASES[0], seed=0)
    assert timing.before == {"R": N, "changed": 0, "E": 2 * N, "P": 2 * N, "IB": N}
    assert timing.after == timing.before


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("new_nodes", {"R": WRITES}),
        ("new_to_new", {"R": WRITES, "E": WRITES}),
        ("new_to_old_block", {"R": WRITES, "IB": WRITES}),
        ("one_old_edge", {"P": 1}),
        ("edge_per_group", {"P": -(-N // GROUP_ROWS)}),
        ("old_edges_plain", {"E": WRITES}),
        ("old_edges", {"P": WRITES}),
        ("old_edges_10x", {"P": 10 * WRITES}),
    ],
)
def test_each_case_adds_what_it_describes(
    base: Path, tmp_path: Path, name: str, expected: dict[str, int]
) -> None:
    assert _changes(base, tmp_path, name) == expected


def test_scattered_updates_and_deletes_touch_old_rows(base: Path, tmp_path: Path) -> None:
    changed = _changes(base, tmp_path, "old_property")
    assert set(changed) == {"changed"} and 0 < changed["changed"] <= WRITES
    deleted = _changes(base, tmp_path, "old_nodes_deleted")
    assert -WRITES <= deleted["R"] < 0
    # Every deleted node had two edges out in E and P, and one block edge.
    assert deleted["IB"] == deleted["R"]
    assert deleted["E"] <= 2 * deleted["R"] and deleted["P"] <= 2 * deleted["R"]
