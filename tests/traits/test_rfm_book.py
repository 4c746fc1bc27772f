"""The RFM book rescores what a run moves, and nothing else, as ranking everyone would."""

from __future__ import annotations

import random

import numpy as np
import polars as pl
import pytest

from idgraph.traits.compute import quintile_scores
from idgraph.traits.rfm_book import RfmBook

Measures = tuple[int, int, float]


def _codes(people: dict[str, Measures]) -> dict[str, int]:
    """Every buyer's code, ranked against all of them (the oracle)."""
    ids = list(people)
    if not ids:
        return {}
    table = np.array([people[i] for i in ids], dtype=float).reshape(-1, 3)
    r, f, m = (quintile_scores(table[:, k]) for k in range(3))
    return {key: int(100 * r[j] + 10 * f[j] + m[j]) for j, key in enumerate(ids)}


def _rows(people: dict[str, Measures], codes: dict[str, int]) -> pl.DataFrame:
    ids = list(people)
    return pl.DataFrame(
        {
            "id": ids,
            "rfm_last_order_ts": [people[i][0] for i in ids],
            "rfm_orders": [people[i][1] for i in ids],
            "rfm_spent": [people[i][2] for i in ids],
            "rfm_score": [str(codes[i]).zfill(3) for i in ids],
        },
        schema={
            "id": pl.Utf8,
            "rfm_last_order_ts": pl.Int64,
            "rfm_orders": pl.Int64,
            "rfm_spent": pl.Float64,
            "rfm_score": pl.Utf8,
        },
    )


def _measures(rng: random.Random) -> Measures:
    # Few distinct values: ties, and cuts that land on them, are the hard cases.
    return (rng.randrange(6), rng.randrange(1, 4), float(rng.randrange(5)))


@pytest.mark.parametrize("seed", range(40))
def test_a_run_of_runs_scores_as_ranking_every_buyer_each_time(seed: int) -> None:
    rng = random.Random(seed)
    people = {f"c{i}": _measures(rng) for i in range(rng.randrange(0, 40))}
    codes = _codes(people)
    if seed % 4 == 0:  # a store scored otherwise: its wrong codes are mended by the next run
        codes.update(dict.fromkeys(list(codes)[:3], 111))
    book = RfmBook(_rows(people, codes))
    fresh = len(people)
    for _ in range(8):
        skip = set(rng.sample(sorted(people), min(len(people), rng.randrange(5))))
        written = {key: _measures(rng) for key in sorted(skip)[:2]}
        for _ in range(rng.randrange(4)):
            written[f"c{fresh}"] = _measures(rng)
            fresh += 1
        after = {k: v for k, v in people.items() if k not in skip} | written

        result = book.rescore(skip, _rows(written, dict.fromkeys(written, 0)))

        mine = 100 * result.mine[0] + 10 * result.mine[1] + result.mine[2]
        moved_codes = 100 * result.moved[0] + 10 * result.moved[1] + result.moved[2]
        moved = dict(zip(result.moved_ids.to_list(), moved_codes.tolist(), strict=True))
        now = dict(zip(written, mine.tolist(), strict=True))
        now |= {k: moved.get(k, codes[k]) for k in after if k not in written}
        expected = _codes(after)
        assert now == expected
        assert all(codes.get(k) != v for k, v in moved.items())  # only the moved are written

        # What the run writes comes back as a delta of the customers table.
        rewritten = {k: after[k] for k in [*written, *moved]}
        touched = pl.DataFrame({"id": sorted(skip | set(rewritten))}, schema={"id": pl.Utf8})
        book.apply(touched, _rows(rewritten, now))
        people, codes = after, now
        assert len(book) == len(people)


def test_a_run_that_moves_no_cut_rescores_no_one() -> None:
    people: dict[str, Measures] = {f"c{i}": (i, 1 + i % 3, float(i)) for i in range(100)}
    book = RfmBook(_rows(people, _codes(people)))
    # c50 is rewritten with what it had: the population, and so the cuts, stay.
    result = book.rescore({"c50"}, _rows({"c50": people["c50"]}, {"c50": 0}))
    assert result.moved_ids.to_list() == []
    assert (
        int(100 * result.mine[0][0] + 10 * result.mine[1][0] + result.mine[2][0])
        == (_codes(people)["c50"])
    )


def test_customers_without_orders_or_rfm_columns_are_no_buyers() -> None:
    rows = pl.DataFrame({"id": ["a", "b"], "rfm_orders": [0, None]})
    assert len(RfmBook.of(rows.lazy())) == 0
    assert len(RfmBook.of(pl.DataFrame({"id": ["a"]}).lazy())) == 0
