"""Key lookups in kept rows (`KeyIndex`, `LiveRows.where`) find what a filter finds."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idgraph.state import tables
from idgraph.state.index import KeyIndex
from idgraph.state.mirror import MIRROR_TABLES
from idgraph.state.tables import LiveRows

_VALUES = st.lists(st.one_of(st.none(), st.sampled_from([f"v{i}" for i in range(30)])))


@settings(max_examples=200, deadline=None)
@given(column=_VALUES, keys=_VALUES)
def test_candidates_hold_every_matching_row_in_order(
    column: list[str | None], keys: list[str | None]
) -> None:
    series = pl.Series("c", column, dtype=pl.Utf8)
    found = KeyIndex(series).candidates(pl.Series("k", keys, dtype=pl.Utf8))
    wanted = {k for k in keys if k is not None}
    matching = [i for i, value in enumerate(column) if value in wanted]
    assert set(matching) <= set(found.tolist())
    assert list(found) == sorted(found)
    assert len(set(found.tolist())) == len(found)


class _EveryRow:
    """An index whose every lookup collides with every row."""

    def __init__(self, column: pl.Series) -> None:
        self._rows = column.len()

    def candidates(self, keys: pl.Series) -> np.ndarray:
        return np.arange(self._rows, dtype=np.uint32)


def test_rows_whose_hash_collides_are_not_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tables, "KeyIndex", _EveryRow)
    table = MIRROR_TABLES["identifiers"]
    rows = pl.DataFrame(
        {"record": ["a", "b", "c", "d"], "kind": ["email"] * 4, "value": ["1", "2", "3", "4"]},
        schema=dict(table.schema),
    )
    live = LiveRows(table, rows)
    delta = pl.DataFrame(
        {
            "record": ["b", "e"],
            "kind": ["phone", "phone"],
            "value": ["5", "6"],
            "_dead": [False] * 2,
        }
    )
    live.apply(delta)
    wanted = pl.Series(["b", "c", "zz"])
    assert live.where("record", wanted).rows() == [("c", "email", "3"), ("b", "phone", "5")]
    assert live.frame().filter(pl.col("record").is_in(wanted.implode())).rows() == [
        ("c", "email", "3"),
        ("b", "phone", "5"),
    ]
