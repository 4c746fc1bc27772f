"""Blocking against brute force on random small tables (hypothesis)."""

from __future__ import annotations

import itertools

import jellyfish
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from idgraph.link import LinkConfig, blocking_report
from idgraph.link.block import block
from idgraph.link.prepare import prepare
from idgraph.link.train import label_codes

NAMES = ["smith", "smyth", "jones", "johns", "li", None]
DATES = ["1980-01-02", "1980-03-04", "1981-01-02", None]

rows = st.lists(
    st.tuples(st.sampled_from(NAMES), st.sampled_from(DATES), st.integers(0, 3)),
    min_size=0,
    max_size=25,
)


def _config(cap: int) -> LinkConfig:
    return LinkConfig.model_validate(
        {
            "unique_id": "id",
            "blocking": [["name:soundex", "dob:year"], ["name:first:2"], ["dob"]],
            "max_block_size": cap,
            "comparisons": [{"column": "name", "levels": ["exact"]}],
        }
    )


def _brute(df: pd.DataFrame, cap: int) -> set[tuple[int, int]]:
    def keys(row: pd.Series) -> list[object]:
        name, dob = row["name"], row["dob"]
        return [
            (jellyfish.soundex(name), dob[:4]) if name and dob else None,
            name[:2] if name else None,
            dob,
        ]

    all_keys = [keys(r) for _, r in df.iterrows()]
    found = set()
    for rule in range(3):
        sizes = pd.Series([k[rule] for k in all_keys]).value_counts()
        for i, j in itertools.combinations(range(len(df)), 2):
            key = all_keys[i][rule]
            if key is not None and key == all_keys[j][rule] and sizes[key] <= cap:
                found.add((i, j))
    return found


@settings(max_examples=60, deadline=None)
@given(rows, st.integers(2, 6))
def test_blocking_matches_brute_force(data: list[tuple[object, ...]], cap: int) -> None:
    df = pd.DataFrame(data, columns=["name", "dob", "person"], dtype=object)
    df.insert(0, "id", range(len(df)))
    config = _config(cap)
    candidates = block(prepare(df, config), config, labels=label_codes("person", df))
    pairs = list(zip(candidates.left.tolist(), candidates.right.tolist(), strict=True))
    assert len(pairs) == len(set(pairs)), "a pair came out twice"
    assert set(pairs) == _brute(df, cap)
    report = candidates.report
    assert report.pairs == len(pairs) == sum(r.new_pairs for r in report.rules)
    truth = {
        (i, j) for i, j in itertools.combinations(range(len(df)), 2) if df.person[i] == df.person[j]
    }
    assert report.true_pairs == len(truth)
    assert report.true_pairs_kept == len(truth & set(pairs))


def test_report_counts_skipped_blocks_and_recall() -> None:
    df = pd.DataFrame(
        {
            "id": list(range(7)),
            "name": ["smith"] * 5 + ["li", "li"],
            "dob": [None] * 7,
            "person": [1, 1, 2, 3, 4, 5, 5],
        }
    )
    report = blocking_report(df, _config(4), labels="person")
    first2 = report.rules[1]
    assert (first2.blocks_skipped, first2.records_in_skipped_blocks, first2.pairs_skipped) == (
        1,
        5,
        10,
    )
    assert report.pairs == 1
    assert report.true_pairs == 2
    assert report.pair_recall == 0.5
