"""Each comparison level on small hand-made arrays, and the first-level-wins rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from idgraph.link import LinkConfig
from idgraph.link.compare import comparison_levels, level_holds
from idgraph.link.config import FieldSpec, Level
from idgraph.link.prepare import encode, prepare


def _holds(level: object, left: list[str | None], right: list[str | None]) -> list[bool]:
    values = pd.Series(left + right, dtype=object)
    enc = encode(values, FieldSpec(clean=["lower", "strip"]))
    a, b = enc.codes[: len(left)], enc.codes[len(left) :]
    return level_holds(Level.model_validate(level), enc, a, b).tolist()


@pytest.mark.parametrize(
    ("level", "left", "right", "expected"),
    [
        ("exact", ["Ann", "ann ", "bob"], ["ann", "ANN", "rob"], [True, True, False]),
        (
            {"jaro_winkler": 0.9},
            ["martha", "dwayne", "abc"],
            ["marhta", "duane", "xyz"],
            [True, False, False],
        ),
        ({"jaro_winkler": 0.8}, ["dwayne"], ["duane"], [True]),
        ({"jaro": 0.9}, ["martha"], ["marhta"], [True]),
        (
            {"levenshtein": 1},
            ["3000", "3000", "3000"],
            ["3001", "3011", "30000"],
            [True, False, True],
        ),
        ({"levenshtein": 2}, ["3000"], ["3011"], [True]),
        ({"damerau_levenshtein": 1}, ["abcd", "abcd"], ["abdc", "acbd"], [True, True]),
        ({"levenshtein": 1}, ["abcd"], ["abdc"], [False]),
        ({"phonetic": "soundex"}, ["robert", "smith"], ["rupert", "jones"], [True, False]),
        ({"phonetic": "metaphone"}, ["smith", "knight"], ["smyth", "night"], [True, True]),
        (
            {"nickname": True},
            ["bob", "bill", "bob"],
            ["robert", "william", "william"],
            [True, True, False],
        ),
        (
            {"date": "one_digit_off"},
            ["1980-05-17", "1980-05-17", "1980-05-17"],
            ["1980-05-18", "1981-05-18", "1980-05-17"],
            [True, False, False],
        ),
        (
            {"date": "day_month_swapped"},
            ["1980-05-07", "1980-05-05", "1980-05-07"],
            ["1980-07-05", "1980-05-05", "1981-07-05"],
            [True, False, False],
        ),
        (
            {"date": "same_year"},
            ["1980-05-07", "1980-05-07", "not a date"],
            ["1980-12-31", "1981-05-07", "1980-05-07"],
            [True, False, False],
        ),
        (
            {"date": "same_year_month"},
            ["1980-05-07", "1980-05-07"],
            ["1980-05-31", "1980-06-07"],
            [True, False],
        ),
        (
            {"days_within": 3},
            ["2020-02-27", "2020-01-01"],
            ["2020-03-01", "2020-01-05"],
            [True, False],
        ),
        (
            {"numeric_within": 0.05},
            ["100", "100", "x"],
            ["104", "106", "100"],
            [True, False, False],
        ),
        ({"absolute_within": 2}, ["100", "100"], ["102", "102.5"], [True, False]),
        ("else", ["a", "b"], ["c", "d"], [True, True]),
    ],
)
def test_level_holds(
    level: object, left: list[str], right: list[str], expected: list[bool]
) -> None:
    assert _holds(level, left, right) == expected


def _config(levels: list[object], **comparison: object) -> LinkConfig:
    return LinkConfig.model_validate(
        {
            "unique_id": "id",
            "blocking": [["k"]],
            "comparisons": [{"column": "name", "levels": levels, **comparison}],
        }
    )


def test_first_matching_level_wins_and_nulls_are_minus_one() -> None:
    df = pd.DataFrame(
        {
            "id": [1, 2, 3, 4, 5, 6],
            "k": ["x"] * 6,
            "name": ["jonathan", "jonathan", "jonathon", "bob", None, "zed"],
        }
    )
    config = _config(["exact", {"jaro_winkler": 0.95}, {"jaro_winkler": 0.8}])
    prepared = prepare(df, config)
    left = np.array([0, 0, 0, 0, 3], dtype=np.int64)
    right = np.array([1, 2, 3, 4, 5], dtype=np.int64)
    levels = comparison_levels(prepared, config.comparisons[0], left, right)
    # jonathan/jonathon: JW 0.95 -> level 1 (also >= 0.8, but the first level wins)
    assert levels.tolist() == [0, 1, 3, -1, 3]


def test_combined_columns_and_swapped_names() -> None:
    df = pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "given": ["anna", "smith", "anna", None],
            "surname": ["smith", "anna", "smyth", "smith"],
        }
    )
    config = LinkConfig.model_validate(
        {
            "unique_id": "id",
            "blocking": [["surname"]],
            "comparisons": [
                {
                    "columns": ["given", "surname"],
                    "levels": ["exact", {"swapped": True}, {"jaro_winkler": 0.9}],
                }
            ],
        }
    )
    prepared = prepare(df, config)
    left = np.array([0, 0, 0], dtype=np.int64)
    right = np.array([1, 2, 3], dtype=np.int64)
    levels = comparison_levels(prepared, config.comparisons[0], left, right)
    assert levels.tolist() == [1, 2, -1]


def test_cleaning_steps_and_null_values() -> None:
    spec = FieldSpec(clean=["ascii", "lower", "digits_only"], null_values=["0000"])
    enc = encode(pd.Series(["(03) 9999", "0000", "  ", None, "03-9999"]), spec)
    assert enc.codes[0] == enc.codes[4] >= 0
    assert enc.codes[1:4].tolist() == [-1, -1, -1]
    names = encode(pd.Series(["José ", "jose"]), FieldSpec(clean=["ascii", "lower", "strip"]))
    assert names.codes[0] == names.codes[1]
