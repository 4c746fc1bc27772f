"""Candidate pairs handed out a run of blocks at a time give every pair of the whole, once."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from idgraph.block.keys import block_key_column, candidate_pair_slices, candidate_pairs
from idgraph.match.config import load_match_config

CONFIG = load_match_config()


def _all_pairs(keys: list[str | None]) -> set[tuple[int, int]]:
    return {
        (i, j)
        for i in range(len(keys))
        for j in range(i + 1, len(keys))
        if keys[i] is not None and keys[i] == keys[j]
    }


@pytest.mark.parametrize("limit", [1, 2, 5, 40, 10_000])
def test_slices_hold_every_pair_of_the_blocks_once(limit: int) -> None:
    rng = np.random.default_rng(limit)
    surnames = [None, "rossi", "bianchi", "verdi", "neri", "gallo", "conti"]
    rows = [
        {
            "key": f"r{n:03d}",
            "first_name": "anna",
            "last_name": surnames[rng.integers(7)],
            "postcode": "20100",
        }
        for n in range(120)
    ]
    view = pl.DataFrame(rows)
    rule = next(r for r in CONFIG.fuzzy if r.name == "name_and_postcode")
    slices, stats = candidate_pair_slices(view, rule, max_block_size=10_000, slice_pairs=limit)
    seen: list[tuple[int, int]] = []
    for i, j in slices:
        assert len(i) == len(j)
        assert len(i) <= max(limit, 40 * 39 // 2)
        seen += list(zip(i.tolist(), j.tolist(), strict=True))
    assert len(seen) == len(set(seen)) == stats.pairs
    whole, _ = candidate_pairs(view, rule, max_block_size=10_000)
    assert set(seen) == set(zip(whole["i"].to_list(), whole["j"].to_list(), strict=True))
    assert set(seen) == _all_pairs(block_key_column(view, rule.block_on).to_list())
