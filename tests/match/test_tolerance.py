"""Typos are not a second value: the compatibility tests the guards use."""

from __future__ import annotations

import polars as pl
import pytest

from idgraph.match.tolerance import (
    dates_compatible,
    first_names_compatible,
    tolerant_classes,
    values_compatible,
)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("1980-01-01", "1980-01-01", True),
        ("1986-04-04", "1989-04-04", True),  # one digit
        ("1975-06-12", "1975-06-21", True),  # two neighbouring digits swapped
        ("1968-03-01", "1968-01-03", True),  # day and month swapped
        ("1968-03-01", "1967-01-03", False),  # swapped and a digit off
        ("1980-01-01", "1980-02-03", False),  # two digits apart
        ("1980-01-01", "1991-01-01", False),
        ("1980-01-01", "not a date", False),
        ("1980-01-01", None, False),
    ],
)
def test_dates_compatible(a: str, b: str | None, same: bool) -> None:
    assert dates_compatible(pl.Series([a]), pl.Series([b], dtype=pl.Utf8)).tolist() == [same]


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("maria", "maria", True),
        ("j", "john", True),
        ("jonas", "monas", True),
        ("elisabetta", "elisabteta", True),
        ("christopher", "kristopher", True),  # two edits in a long name
        ("francesca", "francesco", False),
        ("giulia", "giulio", False),
        ("maria", "martina", False),
        ("luca", "marco", False),
        ("anna", "j", False),
        ("michi", "michael", True),  # start less a pet ending
        ("bine", "sabine", True),  # the end
        ("toni", "antonio", True),  # inside
        ("vale", "valentina", True),  # the start
        ("franco", "francesca", False),  # six letters: no short form
        ("ugo", "bartolomeo", False),
    ],
)
def test_first_names_compatible(a: str, b: str, same: bool) -> None:
    assert first_names_compatible(pl.Series([a]), pl.Series([b])).tolist() == [same]


def test_classes_chain_within_a_group_and_never_across_groups() -> None:
    rows = pl.DataFrame(
        {
            "group": [1, 1, 1, 1, 2],
            "value": ["1980-01-01", "1980-01-07", "1980-01-70", "1955-03-03", "1980-01-01"],
        }
    )
    cls = tolerant_classes(rows, dates_compatible)["cls"].to_list()
    # 01-07 is one digit from 01-01 and two neighbours swapped from 01-70: one chain.
    assert cls[0] == cls[1] == cls[2]
    assert len({cls[0], cls[3], cls[4]}) == 3


def test_exact_classes_without_a_test() -> None:
    rows = pl.DataFrame({"group": ["g", "g", "g"], "value": ["20121", "20121", "20122"]})
    cls = tolerant_classes(rows, None)["cls"].to_list()
    assert cls[0] == cls[1] != cls[2]


def test_values_compatible_reads_raw_first_names_through_nicknames() -> None:
    assert values_compatible("first_name", {"Bob"}, {"Robert", "robert"})
    assert not values_compatible("first_name", {"Giulia"}, {"Giulio"})
    assert values_compatible("birth_date", {"1980-01-01"}, set())
    assert not values_compatible("postcode", {"20121"}, {"20122"})
