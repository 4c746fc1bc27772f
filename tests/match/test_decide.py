"""Evidence: identifier guards, blocking that is never quadratic, and fuzzy rules."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from idgraph.block.keys import candidate_pairs
from idgraph.match.config import load_match_config
from idgraph.match.decide import collect_evidence, identifier_verdicts
from idgraph.store.plan import LINK_ROWS
from tests.match.rows import identifiers as id_rows
from tests.match.rows import records as record_rows

CONFIG = load_match_config()
NO_LINKS = pl.DataFrame(schema=LINK_ROWS)


def _verdict(verdicts: pl.DataFrame, key: str) -> dict[str, Any]:
    (row,) = verdicts.filter(pl.col("key") == key).to_dicts()
    return row


def test_identifier_shared_by_too_many_records_does_not_link() -> None:
    records = record_rows(*[{"key": f"r{i:02d}"} for i in range(20)])
    ids = id_rows(*[(f"r{i:02d}", "email", "shop@store.it") for i in range(20)])
    verdict = _verdict(identifier_verdicts(records, ids, NO_LINKS, CONFIG), "email:shop@store.it")
    assert not verdict["linking"]
    assert "shared by 20 records (max_records 16)" in verdict["reason"]


def test_identifier_joining_two_logins_does_not_link_unless_aliased() -> None:
    records = record_rows({"key": "a"}, {"key": "b"}, {"key": "tab"})
    ids = id_rows(
        ("a", "user_id", "u1"),
        ("a", "anonymous_id", "t"),
        ("b", "user_id", "u2"),
        ("b", "anonymous_id", "t"),
        ("tab", "anonymous_id", "t"),
    )
    verdict = _verdict(identifier_verdicts(records, ids, NO_LINKS, CONFIG), "anonymous_id:t")
    assert not verdict["linking"] and "2 distinct user_id" in verdict["reason"]
    alias = pl.DataFrame({"a": ["a"], "b": ["b"], "rule": ["alias"]})
    aliased = _verdict(identifier_verdicts(records, ids, alias, CONFIG), "anonymous_id:t")
    assert aliased["linking"]


def test_identifier_joining_different_birth_dates_does_not_link() -> None:
    records = record_rows(
        {"key": "a", "birth_date": "1980-01-01"}, {"key": "b", "birth_date": "1975-06-12"}
    )
    ids = id_rows(("a", "email", "family@home.it"), ("b", "email", "family@home.it"))
    verdict = _verdict(identifier_verdicts(records, ids, NO_LINKS, CONFIG), "email:family@home.it")
    assert not verdict["linking"] and "birth_date" in verdict["reason"]


def test_name_alone_never_links() -> None:
    records = record_rows(
        {"key": "a", "first_name": "Maria", "last_name": "Rossi"},
        {"key": "b", "first_name": "Maria", "last_name": "Rossi"},
    )
    evidence = collect_evidence(records, id_rows(), NO_LINKS, CONFIG)
    assert evidence.edges.height == 0


def test_name_plus_birth_date_links_through_nickname() -> None:
    records = record_rows(
        {"key": "a", "first_name": "Robert", "last_name": "Smith", "birth_date": "1970-07-07"},
        {"key": "b", "first_name": "Bob", "last_name": "Smith", "birth_date": "1970-07-07"},
        {"key": "c", "first_name": "Bob", "last_name": "Smith", "birth_date": "1958-03-12"},
    )
    evidence = collect_evidence(records, id_rows(), NO_LINKS, CONFIG)
    assert evidence.edges.select("a", "b", "rule").rows() == [(0, 1, "match_model")]
    assert evidence.edges["fields"].to_list() == ["first_name,last_name,birth_date"]


def test_blocking_skips_oversized_blocks_and_counts_them() -> None:
    rule = CONFIG.fuzzy[0]
    view = pl.DataFrame(
        {
            "last_name": ["rossi"] * 5 + ["verdi"] * 2,
            "birth_date": ["1980-01-01"] * 7,
        }
    )
    pairs, stats = candidate_pairs(view, rule, max_block_size=4)
    assert pairs.rows() == [(5, 6)]
    assert stats.oversized_blocks == 1 and stats.oversized_records == 5


def test_a_store_wide_block_size_closes_a_block_the_batch_alone_would_open() -> None:
    rule = CONFIG.fuzzy[0]
    view = pl.DataFrame({"last_name": ["verdi"] * 2, "birth_date": ["1980-01-01"] * 2})
    key = f"{rule.name}\x1fFRT\x1f1980-01-01"
    pairs, stats = candidate_pairs(view, rule, max_block_size=4, sizes={key: 9})
    assert pairs.height == 0 and stats.oversized_blocks == 1


@pytest.mark.parametrize(
    ("mine", "yours"),
    [("1986-04-04", "1989-04-04"), ("1968-03-01", "1968-01-03"), ("1975-06-12", "1975-06-21")],
    ids=["one digit", "day and month swapped", "neighbours swapped"],
)
def test_a_birth_date_typo_does_not_stop_a_shared_identifier(mine: str, yours: str) -> None:
    records = record_rows({"key": "a", "birth_date": mine}, {"key": "b", "birth_date": yours})
    ids = id_rows(("a", "phone", "+393201234567"), ("b", "phone", "+393201234567"))
    verdict = _verdict(identifier_verdicts(records, ids, NO_LINKS, CONFIG), "phone:+393201234567")
    assert verdict["linking"], verdict["reason"]


def test_two_typos_of_one_date_and_a_stranger_still_stop_the_identifier() -> None:
    records = record_rows(
        {"key": "a", "birth_date": "1986-04-04"},
        {"key": "b", "birth_date": "1989-04-04"},
        {"key": "c", "birth_date": "1954-11-30"},
    )
    ids = id_rows(*((k, "phone", "+390612345678") for k in "abc"))
    verdict = _verdict(identifier_verdicts(records, ids, NO_LINKS, CONFIG), "phone:+390612345678")
    assert not verdict["linking"]
    assert verdict["reason"] == "joins records with 2 different birth_date"
