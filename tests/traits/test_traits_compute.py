"""Computed traits on small hand-made event sets, each expected value worked out by hand."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idgraph.traits.compute import DAY_MS, compute_traits, events_frame, quintile_scores
from idgraph.traits.config import TraitsConfig
from tests.traits.oracle import quintile

AS_OF = 1000 * DAY_MS
ORDER = "Order Completed"
VIEW = "Product Viewed"


def day(n: float) -> int:
    """`n` days before as-of."""
    return int(AS_OF - n * DAY_MS)


#: ann: 3 orders (one 400 days ago, one with a total given as text), 3 views;
#: bob: 1 order, a page view, one order after as-of (ignored); cid: nothing; dan: views only.
EVENTS = [
    ("ann", ORDER, day(400), {"total": 100.0, "store": "MI01"}),
    ("ann", ORDER, day(10.5), {"total": 50, "store": "RM02"}),
    ("ann", ORDER, day(3), {"total": "75.00", "store": "MI01"}),
    ("ann", VIEW, day(2), {"category": "shoes"}),
    ("ann", VIEW, day(1), {"category": "apparel"}),
    ("ann", VIEW, day(0.5), {"category": "shoes"}),
    ("bob", ORDER, day(200), {"total": 20.0}),
    ("bob", "Page Viewed", day(1), {}),
    ("bob", ORDER, AS_OF + 1, {"total": 999.0}),
    ("dan", VIEW, day(5), {"category": "home"}),
    ("dan", VIEW, day(4), {"category": "apparel"}),
    ("eve", ORDER, day(1), {"total": 5.0}),  # not a known customer: ignored
]
CUSTOMERS = ["ann", "bob", "cid", "dan"]


def compute(*traits: dict[str, Any], events: list[Any] | None = None, **builtins: Any) -> Any:
    config = TraitsConfig.model_validate({"traits": list(traits), "builtins": builtins})
    return compute_traits(
        config,
        events_frame(EVENTS if events is None else events),
        customers=CUSTOMERS,
        as_of_ms=AS_OF,
        birth_dates=[None] * len(CUSTOMERS),
    )


def column(result: dict[str, dict[str, Any]], name: str) -> list[Any]:
    return [result[c][name] for c in CUSTOMERS]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"kind": "count", "event": ORDER}, [3, 1, 0, 0]),
        ({"kind": "count", "event": ORDER, "within_days": 365}, [2, 1, 0, 0]),
        ({"kind": "count", "event": ORDER, "within_days": 10}, [1, 0, 0, 0]),
        ({"kind": "count", "event": [ORDER, VIEW]}, [6, 1, 0, 2]),
        ({"kind": "count"}, [6, 2, 0, 2]),
        ({"kind": "sum", "event": ORDER, "property": "total"}, [150.0, 20.0, 0.0, 0.0]),
        ({"kind": "avg", "event": ORDER, "property": "total"}, [75.0, 20.0, None, None]),
        ({"kind": "min", "event": ORDER, "property": "total"}, [50.0, 20.0, None, None]),
        ({"kind": "max", "event": ORDER, "property": "total"}, [100.0, 20.0, None, None]),
        (
            {"kind": "max", "event": ORDER, "property": "total", "within_days": 30},
            [50.0, None, None, None],
        ),
        ({"kind": "distinct_count", "event": ORDER, "property": "store"}, [2, 0, 0, 0]),
        ({"kind": "distinct_count", "event": VIEW, "property": "category"}, [2, 0, 0, 2]),
        (
            {"kind": "most_frequent", "event": VIEW, "property": "category"},
            [
                "shoes",
                None,
                None,
                "apparel",  # dan: a tie, broken by the smallest value
            ],
        ),
        ({"kind": "days_since_last", "event": ORDER}, [3, 200, None, None]),
        ({"kind": "days_since_last", "event": VIEW}, [0, None, None, 4]),
        ({"kind": "days_since_last", "event": ORDER, "within_days": 100}, [3, None, None, None]),
    ],
)
def test_kind(spec: dict[str, Any], expected: list[Any]) -> None:
    result = compute({"name": "t_ts", **spec})
    assert column(result, "t_ts") == expected


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("first_seen", [day(400), day(200), None, None]),
        ("last_seen", [day(3), day(200), None, None]),
    ],
)
def test_first_and_last_seen_are_epoch_ms_and_ignore_events_after_as_of(
    kind: str, expected: list[Any]
) -> None:
    result = compute({"name": "order_ts", "kind": kind, "event": ORDER})
    assert column(result, "order_ts") == expected
    assert all(isinstance(v, int) for v in column(result, "order_ts") if v is not None)


def test_window_edge_is_inclusive() -> None:
    events = [
        ("ann", ORDER, day(30), {}),
        ("ann", ORDER, day(30) - 1, {}),
        ("bob", ORDER, AS_OF, {}),
    ]
    result = compute(
        {"name": "n", "kind": "count", "event": ORDER, "within_days": 30}, events=events
    )
    assert column(result, "n") == [1, 1, 0, 0]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param([3, 1.0, 1, 3.0, 2], 1.0, id="numbers-int-and-float-equal"),
        pytest.param(["b", "a", "b", "a"], "a", id="text-tie-smallest"),
        pytest.param([5, "5", "5"], "5", id="text-more-frequent"),
        pytest.param([5, "5"], 5.0, id="number-before-text-on-tie"),
        pytest.param([True, 1, 1], 1.0, id="boolean-not-a-number"),
        pytest.param([None, {"x": 1}, [1], "", math.inf, "z"], "z", id="unusable-skipped"),
        pytest.param([None, ""], None, id="nothing-usable"),
    ],
)
def test_most_frequent(values: list[Any], expected: Any) -> None:
    events = [("ann", VIEW, day(1), {"v": v}) for v in values]
    result = compute(
        {"name": "top", "kind": "most_frequent", "event": VIEW, "property": "v"}, events=events
    )
    assert result["ann"]["top"] == expected
    assert type(result["ann"]["top"]) is type(expected)


@pytest.mark.parametrize(
    ("values", "count", "total"),
    [
        ([1, 1.0, "1", True, None], 3, 2.0),  # 1 and 1.0 are one value; the text and True others
        (["a", "b", "a", ""], 2, 0.0),
        ([math.nan, -math.inf, 2.5], 1, 2.5),
    ],
)
def test_distinct_count_and_sum_skip_unusable_values(
    values: list[Any], count: int, total: float
) -> None:
    events = [("bob", ORDER, day(1), {"v": v}) for v in values]
    result = compute(
        {"name": "n", "kind": "distinct_count", "event": ORDER, "property": "v"},
        {"name": "s", "kind": "sum", "event": ORDER, "property": "v"},
        events=events,
    )
    assert result["bob"]["n"] == count
    assert result["bob"]["s"] == total


def test_events_without_properties_dict_are_skipped_not_a_crash() -> None:
    events = [("ann", ORDER, day(1), None), ("ann", ORDER, day(2), {"total": 4})]
    result = compute(
        {"name": "s", "kind": "avg", "event": ORDER, "property": "total"}, events=events
    )
    assert result["ann"]["s"] == 4.0


def test_no_events_at_all() -> None:
    result = compute(
        {"name": "n", "kind": "count", "event": ORDER},
        {"name": "top", "kind": "most_frequent", "event": VIEW, "property": "category"},
        events=[],
        rfm={"event": ORDER, "monetary": "total"},
        lifecycle={"event": ORDER},
    )
    assert result["ann"] == {
        "n": 0,
        "top": None,
        "rfm_recency": None,
        "rfm_frequency": None,
        "rfm_monetary": None,
        "rfm_score": None,
        "rfm_last_order_ts": None,
        "rfm_orders": None,
        "rfm_spent": None,
        "lifecycle_stage": "prospect",
    }


@pytest.mark.parametrize(
    ("birth", "age", "band"),
    [
        ("1986-11-01", 40, "35-44"),  # birthday on the as-of day counts
        ("1986-11-02", 39, "35-44"),
        ("2008-11-02", 17, "under_18"),
        ("2008-11-01", 18, "18-24"),
        ("2001-11-02", 24, "18-24"),
        ("2001-11-01", 25, "25-34"),
        ("1961-11-01", 65, "65+"),
        ("1961-11-02", 64, "55-64"),
        ("2026-11-01", 0, "under_18"),
        ("2026-11-02", None, None),  # born after as-of
        ("1986-02-30", None, None),
        ("01/02/1986", None, None),
        (None, None, None),
    ],
)
def test_age_and_band(birth: str | None, age: int | None, band: str | None) -> None:
    as_of = int(np.datetime64("2026-11-01T00:00:00", "ms").astype(np.int64))
    config = TraitsConfig.model_validate({"builtins": {"age": True}})
    result = compute_traits(
        config, events_frame([]), customers=["x"], as_of_ms=as_of, birth_dates=[birth]
    )
    assert result["x"] == {"age": age, "age_band": band}


@pytest.mark.parametrize(
    ("as_of", "age"),
    [("2027-02-28", 26), ("2027-03-01", 27), ("2028-02-29", 28)],
)
def test_age_of_a_leap_day_birthday(as_of: str, age: int) -> None:
    moment = int(np.datetime64(f"{as_of}T12:00:00", "ms").astype(np.int64))
    config = TraitsConfig.model_validate({"builtins": {"age": True}})
    result = compute_traits(
        config, events_frame([]), customers=["x"], as_of_ms=moment, birth_dates=["2000-02-29"]
    )
    assert result["x"]["age"] == age


@pytest.mark.parametrize(
    ("values", "scores"),
    [
        ([], []),
        ([7], [1]),
        ([1, 2], [1, 3]),
        ([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]),
        ([5, 4, 3, 2, 1], [5, 4, 3, 2, 1]),
        ([1, 1, 1, 1, 1], [1, 1, 1, 1, 1]),
        ([1, 2, 2, 2, 3], [1, 2, 2, 2, 5]),
        ([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]),
        ([0.1 + 0.2, 0.3], [3, 1]),  # exact comparison; money is rounded before ranking
    ],
)
def test_quintile_scores(values: list[float], scores: list[int]) -> None:
    assert quintile_scores(values).tolist() == scores


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.lists(st.integers(-3, 40), min_size=1, max_size=60),
        st.lists(st.sampled_from([0.0, 0.1, 0.3, 2.5, 7.0]), min_size=1, max_size=60),
    )
)
def test_quintile_scores_rank_as_the_definition_does(values: list[float]) -> None:
    # Many ties and every size from 1 up: the four cut points sit at every boundary case.
    assert quintile_scores(values).tolist() == [quintile(v, values) for v in values]


def test_a_missing_amount_ranks_after_every_number() -> None:
    values = [1.0, float("nan"), 3.0, 2.0, float("nan")]
    # Two NaNs after three numbers: their `below` is 3 of 5.
    assert quintile_scores(values).tolist() == [1, 4, 3, 2, 4]


def test_rfm_by_hand() -> None:
    # Five buyers: recency by last order, frequency by count, monetary by summed total.
    customers = ["a", "b", "c", "d", "e", "f"]
    events = [
        ("a", ORDER, day(1), {"total": 10.0}),
        ("b", ORDER, day(2), {"total": 100.0}),
        ("b", ORDER, day(50), {"total": 100.0}),
        ("c", ORDER, day(3), {"total": 0.1}),
        ("c", ORDER, day(4), {"total": 0.2}),
        ("c", ORDER, day(5), {"total": "n/a"}),
        ("d", ORDER, day(400), {"total": 0.3}),
        ("e", ORDER, day(400), {}),
        ("f", VIEW, day(1), {}),
    ]
    config = TraitsConfig.model_validate(
        {"builtins": {"rfm": {"event": ORDER, "monetary": "total"}}}
    )
    result = compute_traits(config, events_frame(events), customers=customers, as_of_ms=AS_OF)
    # recency (later better): d,e tie lowest (below=0 -> 1), c below=2 -> 3, b 3 -> 4, a 4 -> 5
    # frequency: a,d,e = 1 (1), b = 2 (below 3 -> 4), c = 3 (below 4 -> 5)
    # monetary: e 0 (1), c 0.3 and d 0.3 tie after rounding (below 1 -> 2), a 10 (4), b 200 (5)
    assert {c: result[c]["rfm_score"] for c in customers} == {
        "a": "514",
        "b": "445",
        "c": "352",
        "d": "112",
        "e": "111",
        "f": None,
    }
    assert result["b"]["rfm_recency"] == 4
    assert result["f"]["rfm_frequency"] is None


def test_rfm_window_limits_the_purchases_scored() -> None:
    config = TraitsConfig.model_validate(
        {"builtins": {"rfm": {"event": ORDER, "monetary": "total", "within_days": 365}}}
    )
    result = compute_traits(config, events_frame(EVENTS), customers=CUSTOMERS, as_of_ms=AS_OF)
    # ann: 2 orders (50 + the text total, skipped = 50), bob: 1 order of 20, 200 days ago;
    # with two buyers the better one's `below` is 1, so 1 + floor(5 * 1 / 2) = 3.
    assert column(result, "rfm_score") == ["333", "111", None, None]


@pytest.mark.parametrize(
    ("orders", "stage"),
    [
        ([], "prospect"),
        ([30], "new"),
        ([29.9, 100], "active"),  # first purchase long ago: not new
        ([31], "active"),
        ([90], "active"),
        ([90.01], "lapsing"),
        ([180], "lapsing"),
        ([181, 400], "lapsed"),
        ([-1], "prospect"),  # after as-of: ignored
    ],
)
def test_lifecycle_stage(orders: list[float], stage: str) -> None:
    events = [("ann", ORDER, day(d), {}) for d in orders] + [("ann", VIEW, day(1), {})]
    config = TraitsConfig.model_validate(
        {
            "builtins": {
                "lifecycle": {
                    "event": ORDER,
                    "new_days": 30,
                    "active_days": 90,
                    "lapsing_days": 180,
                }
            }
        }
    )
    result = compute_traits(config, events_frame(events), customers=["ann"], as_of_ms=AS_OF)
    assert result["ann"]["lifecycle_stage"] == stage


def test_every_customer_gets_every_trait_in_config_order() -> None:
    result = compute(
        {"name": "b", "kind": "count", "event": ORDER},
        {"name": "a", "kind": "avg", "event": ORDER, "property": "total"},
        age=True,
    )
    assert list(result) == CUSTOMERS
    assert all(list(row) == ["b", "a", "age", "age_band"] for row in result.values())
