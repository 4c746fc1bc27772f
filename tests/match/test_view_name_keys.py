"""`name_keys` is `name_key` of every value, whichever path a column takes."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from idgraph.match.view import name_keys
from idgraph.normalize.fields import name_key

_NAMES = st.text(alphabet=st.sampled_from("aAbZ .'`-_0Øøéß\u0130 \t"), max_size=8)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), _NAMES), min_size=1, max_size=40))
def test_every_value_gets_its_name_key(values: list[str | None]) -> None:
    expected = [None if v is None else name_key(v) for v in values]
    assert name_keys(pl.Series("first_name", values, dtype=pl.Utf8)).to_list() == expected
    # Repeated, a column holds few distinct values and takes the per-distinct path.
    times = 1 + 1_200 // len(values)
    column = pl.Series("first_name", values * times, dtype=pl.Utf8)
    keys = name_keys(column)
    assert keys.name == "first_name"
    assert keys.to_list() == expected * times
