"""Candidate pairs handed out a run of blocks at a time give every pair of the whole, once."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from idgraph.block import keys
from idgraph.block.keys import (
    SEPARATOR,
    block_key_column,
    candidate_pair_slices,
    candidate_pairs,
    record_blocks,
)
from idgraph.match.config import BlockPart, load_match_config
from idgraph.match.view import match_view

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


def test_each_key_part_is_computed_once_for_all_the_rules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Several shipped rules key on the full name's initials: one pass over the names serves
    them all, and every rule's keys are the ones it would get alone."""
    view = match_view(
        pl.DataFrame(
            {
                "key": ["a", "b", "c"],
                "first_name": ["Danny", "Stephenson", "Carla"],
                "last_name": ["Stephenson", "Daniel", "Rossi"],
                "birth_date": ["1983-10-19", "1983-10-19", None],
                "postcode": ["3130", "3130", "3130"],
                "street": ["16 o'shanassy street", None, "2 via roma"],
            }
        )
    )
    alone = {r.name: block_key_column(view, r.block_on).to_list() for r in CONFIG.fuzzy}
    computed: list[BlockPart] = []
    part = keys._part

    def counted(frame: pl.DataFrame, wanted: BlockPart) -> pl.Series:
        computed.append(wanted)
        return part(frame, wanted)

    monkeypatch.setattr(keys, "_part", counted)
    blocks = record_blocks(view, CONFIG.fuzzy)
    wanted = {p for rule in CONFIG.fuzzy for p in rule.block_on}
    assert sorted(map(str, computed)) == sorted(map(str, wanted))
    initials = BlockPart(field="full_name", transform="initials")
    assert sum(initials in rule.block_on for rule in CONFIG.fuzzy) >= 2
    for rule in CONFIG.fuzzy:
        held = blocks.filter(pl.col("block").str.starts_with(f"{rule.name}{SEPARATOR}"))
        expected = {
            (key, f"{rule.name}{SEPARATOR}{value}")
            for key, value in zip(view["key"], alone[rule.name], strict=True)
            if value is not None
        }
        assert set(held.iter_rows()) == expected
