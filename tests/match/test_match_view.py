"""The match view's name keys, by hand-worked values, and its docstring examples."""

from __future__ import annotations

import doctest

import polars as pl
import pytest

import idgraph.match.view as view_module
from idgraph.match.view import match_view
from idgraph.normalize.columns import normalize_frame
from idgraph.normalize.record import NormalizeOptions


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("Bob", "O'Neil", "robert oneil"),
        ("Robert", "ONeil", "robert oneil"),
        ("BEPPE", "Rossi", "giuseppe rossi"),
        ("Pepe", "García-López", "jose garcia lopez"),
        ("Bob Lee", "Swagger", "robert lee swagger"),
        ("José", "Müller", "jose muller"),
        ("Maria", None, "maria"),
        (None, "Rossi", "rossi"),
        (None, None, None),
    ],
)
def test_full_name_is_the_nickname_resolved_first_name_then_the_last_name(first, last, expected):
    records = pl.DataFrame(
        {"key": ["r"], "first_name": [first], "last_name": [last]},
        schema={"key": pl.Utf8, "first_name": pl.Utf8, "last_name": pl.Utf8},
    )
    assert match_view(records, ["full_name"])["full_name"].to_list() == [expected]


def test_full_name_agrees_across_spellings_after_normalization():
    raw = pl.DataFrame(
        {
            "key": ["a", "b"],
            "first_name": ["BILL", "William"],
            "last_name": ["SMITH-JONES", "Smith Jones"],
        }
    )
    records, problems = normalize_frame(raw, ["first_name", "last_name"], NormalizeOptions())
    assert problems.height == 0
    view = match_view(records, ["full_name", "first_name", "last_name"])
    assert view["full_name"].to_list() == ["william smith jones"] * 2
    assert view["first_name"].to_list() == ["william"] * 2
    assert view["last_name"].to_list() == ["smith jones"] * 2


def test_docstring_examples():
    result = doctest.testmod(view_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
