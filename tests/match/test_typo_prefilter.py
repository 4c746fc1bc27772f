"""The cheap character-count test in front of the typo tests (the swapped-names check, every
level test within `one_typo`'s edits) never drops a real typo, in names or in numbers."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from idgraph.match.levels import FieldCodes, could_be_one_typo
from idgraph.match.tolerance import one_typo

NAMES = st.text(alphabet="abcdeèü -'xyz0129", min_size=0, max_size=10)


def _edited(draw: st.DrawFn, text: str) -> str:
    """`text` with up to two random edits (change, insert, drop, swap neighbours)."""
    chars = list(text)
    for _ in range(draw(st.integers(0, 2))):
        op = draw(st.sampled_from(["change", "insert", "drop", "swap"]))
        at = draw(st.integers(0, max(len(chars) - 1, 0)))
        letter = draw(st.sampled_from("abcdeèü xyz0129"))
        if op == "insert" or not chars:
            chars.insert(at, letter)
        elif op == "change":
            chars[at] = letter
        elif op == "drop":
            del chars[at]
        elif at + 1 < len(chars):
            chars[at], chars[at + 1] = chars[at + 1], chars[at]
    return "".join(chars)


@st.composite
def pairs(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    left = draw(st.lists(NAMES, min_size=1, max_size=30))
    right = [_edited(draw, x) if draw(st.booleans()) else draw(NAMES) for x in left]
    return left, right


@settings(max_examples=200, deadline=None)
@given(pairs())
def test_whatever_one_typo_accepts_passes_the_cheap_test(data: tuple[list[str], list[str]]) -> None:
    left, right = data
    x = FieldCodes.of(pl.Series(left, dtype=pl.Utf8))
    y = FieldCodes.of(pl.Series(right, dtype=pl.Utf8))
    rows = np.flatnonzero((x.codes >= 0) & (y.codes >= 0))
    a, b = x.codes[rows], y.codes[rows]
    exact = (x.values.gather(a) == y.values.gather(b)).to_numpy() | one_typo(
        x.values.gather(a), y.values.gather(b)
    )
    cheap = could_be_one_typo(x, a, y, b)
    assert not (exact & ~cheap).any()


def test_the_cheap_test_drops_names_far_apart() -> None:
    x = FieldCodes.of(pl.Series(["stubbs", "rossi", "maria"]))
    y = FieldCodes.of(pl.Series(["jaxck", "rosis", "marta"]))
    found = could_be_one_typo(x, x.codes, y, y.codes).tolist()
    assert found == [False, True, True]


def test_the_levels_are_the_same_with_and_without_the_cheap_test() -> None:
    """The ids of random pairs, and ids one slip apart: the test only skips pairs it bounds."""
    from idgraph.match import levels

    rng = np.random.default_rng(3)
    ids = [str(v) for v in rng.integers(1_000_000, 9_999_999, size=400)]
    slipped = [v[:3] + v[4] + v[3] + v[5:] for v in ids[:100]]
    view = pl.DataFrame({"customer_id": ids + slipped, "last_name": ["x"] * 500})
    left = rng.integers(0, 500, size=5_000)
    right = rng.integers(0, 500, size=5_000)
    left = np.concatenate([left, np.arange(100)])
    right = np.concatenate([right, np.arange(400, 500)])
    found = levels.ScoringView(view).levels("customer_id", left, right)
    saved = levels._EDITS
    try:
        levels._EDITS = frozenset()
        plain = levels.ScoringView(view).levels("customer_id", left, right)
    finally:
        levels._EDITS = saved
    assert (found == plain).all()
    # (a swap of two equal digits leaves the id as it was)
    assert (found == levels.FIELD_LEVELS["customer_id"].index("typo")).sum() >= 80
