"""Compiled segments executed on a real LadybugDB database, checked against a Python oracle."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from segment_graph import Graph, open_graph

from idgraph.errors import SegmentDefinitionError, StoreQueryError
from idgraph.models import CustomerSummary
from idgraph.segment import compile_segment, parse_segment, run_segment
from idgraph.segment.compile import DAY_MS
from idgraph.segment.definition import (
    AllCondition,
    AnyCondition,
    Condition,
    EventCondition,
    NotCondition,
    SegmentDefinition,
    TraitCondition,
)
from idgraph.store.dialect import LADYBUG
from idgraph.store.ladybug import LadybugStore

AS_OF = dt.date(2026, 3, 15)
AS_OF_MS = int(dt.datetime(2026, 3, 15, 9, 30, tzinfo=dt.UTC).timestamp() * 1000)
PROPS = {
    "lifetime_value": "number",
    "record_count": "number",
    "country": "string",
    "vip": "boolean",
    "birth_date": "string",
    "order": "number",
}

LAPSED = {
    "name": "lapsed_high_spenders",
    "where": {
        "all": [
            {"trait": "lifetime_value", "op": ">=", "value": 500},
            {"not": {"event": "Order Completed", "within_days": 180}},
        ]
    },
}


def test_lapsed_high_spenders_through_the_ladybug_connection(graph: Graph) -> None:
    graph.add_customer(id="c1", email="a@x.it", first_name="Ada", lifetime_value=900.0)
    graph.add_customer(id="c2", email="b@x.it", lifetime_value=800.0, record_count=2)
    graph.add_customer(id="c3", email="c@x.it", lifetime_value=100.0)
    graph.add_customer(id="c4", lifetime_value=500.0, country="IT")
    graph.add_customer(id="c5")
    graph.add_event("c1", "Order Completed", AS_OF_MS - 10 * DAY_MS)  # recent buyer: out
    graph.add_event("c2", "Order Completed", AS_OF_MS - 181 * DAY_MS)  # lapsed: in
    graph.add_event("c2", "Page Viewed", AS_OF_MS - DAY_MS)
    graph.add_event("c4", "Order Completed", AS_OF_MS + DAY_MS)  # after as-of: ignored, in
    query = compile_segment(
        parse_segment(LAPSED, source="lapsed.yaml"),
        dialect=LADYBUG,
        as_of_ms=AS_OF_MS,
        customer_properties=PROPS,
    )
    rows = graph.rows(query.cypher, query.params)
    assert rows == [
        {
            "customer_id": "c2",
            "email": "b@x.it",
            "first_name": None,
            "last_name": None,
            "country": None,
            "record_count": 2,
        },
        {
            "customer_id": "c4",
            "email": None,
            "first_name": None,
            "last_name": None,
            "country": "IT",
            "record_count": None,
        },
    ]


def test_run_segment_on_a_graph_store(graph: Graph, store: LadybugStore) -> None:
    graph.add_customer(id="c2", email="b@x.it", first_name="Bo", lifetime_value=800.0)
    graph.add_customer(id="c1", email="a@x.it", lifetime_value=900.0, record_count=3)
    graph.add_customer(id="c3", lifetime_value=10.0)
    result = run_segment(store, parse_segment(LAPSED, source="lapsed.yaml"), as_of_ms=AS_OF_MS)
    assert result.name == "lapsed_high_spenders"
    assert result.count == 2
    assert result.as_of == dt.datetime(2026, 3, 15, 9, 30, tzinfo=dt.UTC)
    assert result.members == [
        CustomerSummary(id="c1", email="a@x.it", record_count=3),
        CustomerSummary(id="c2", email="b@x.it", first_name="Bo"),
    ]
    assert result.model_dump(mode="json")["as_of"] == "2026-03-15T09:30:00Z"


def test_run_segment_checks_traits_against_the_store(graph: Graph, store: LadybugStore) -> None:
    bad = parse_segment(
        {"name": "x", "where": {"trait": "loyalty_tier", "op": "=", "value": "gold"}},
        source="x.yaml",
    )
    with pytest.raises(SegmentDefinitionError, match=r"x\.yaml: where\.trait: unknown trait"):
        run_segment(store, bad, as_of_ms=AS_OF_MS)


def test_unknown_event_property_is_a_store_query_error(graph: Graph, store: LadybugStore) -> None:
    defn = parse_segment(
        {"name": "x", "where": {"event": "E", "where": {"coupon": "SPRING"}}}, source="x.yaml"
    )
    with pytest.raises(StoreQueryError, match="segment:x") as caught:
        run_segment(store, defn, as_of_ms=AS_OF_MS)
    assert "SPRING" not in str(caught.value)


def test_reserved_word_trait(graph: Graph, store: LadybugStore) -> None:
    graph.add_customer(id="a", order=1)
    graph.add_customer(id="b", order=2)
    defn = parse_segment(
        {"name": "o", "where": {"trait": "order", "op": ">", "value": 1}}, source="-"
    )
    assert [m.id for m in run_segment(store, defn, as_of_ms=AS_OF_MS).members] == ["b"]


# --- the oracle: the meaning of a definition, written independently of the compiler ---------


def age_on(birth: str, day: dt.date) -> int:
    born = dt.date.fromisoformat(birth)
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def compare(x: Any, op: str, value: Any) -> bool:
    if op == "=":
        return bool(x == value)
    if op == "!=":
        return bool(x != value)
    if op == "<":
        return bool(x < value)
    if op == "<=":
        return bool(x <= value)
    if op == ">":
        return bool(x > value)
    if op == ">=":
        return bool(x >= value)
    if op == "in":
        return x in value
    if op == "not_in":
        return x not in value
    if op == "contains":
        return bool(value in x)
    if op == "starts_with":
        return bool(x.startswith(value))
    low, high = value
    return bool(low <= x <= high)


def holds(cond: Condition, customer: dict[str, Any], events: list[dict[str, Any]]) -> bool | None:
    """Cypher's three-valued logic: None is null, and a WHERE keeps only True."""
    if isinstance(cond, TraitCondition):
        stored = cond.trait != "age"
        x = customer[cond.trait if stored else "birth_date"]
        if cond.op in ("exists", "missing"):
            return (x is not None) == (cond.op == "exists")
        if x is None:
            return None
        if cond.trait in ("birth_date", "last_seen_ts") and cond.op not in (
            "contains",
            "starts_with",
        ):
            days = [oracle_day(v) for v in _listed(cond.value)]
            value = days if cond.op in ("in", "not_in", "between") else days[0]
            if cond.trait == "last_seen_ts":
                return compare(dt.datetime.fromtimestamp(x / 1000, dt.UTC).date(), cond.op, value)
            return compare(dt.date.fromisoformat(x), cond.op, value)
        return compare(x if stored else age_on(x, AS_OF), cond.op, cond.value)
    if isinstance(cond, EventCondition):
        return event_holds(cond, events)
    if isinstance(cond, NotCondition):
        inner = holds(cond.not_, customer, events)
        return None if inner is None else not inner
    parts = [
        holds(c, customer, events)
        for c in (cond.all if isinstance(cond, AllCondition) else cond.any)
    ]
    decisive = isinstance(cond, AnyCondition)  # True decides OR, False decides AND
    if decisive in parts:
        return decisive
    return None if None in parts else not decisive


UNIT_DAYS = {"d": 1, "w": 7}


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, tuple) else [value]


def day_ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)


def oracle_day(text: str) -> dt.date:
    """Only the date forms the strategies below generate: ISO, `today`, `N d|w|y ago`."""
    if text == "today":
        return AS_OF
    if text.endswith("y ago"):
        return AS_OF.replace(year=AS_OF.year - int(text[:-5]))
    if text.endswith(" ago"):
        amount, unit = int(text[:-5]), text[-5]
        return AS_OF - dt.timedelta(days=amount * UNIT_DAYS[unit])
    return dt.date.fromisoformat(text)


def event_holds(cond: EventCondition, events: list[dict[str, Any]]) -> bool:
    low, high = -(2**62), AS_OF_MS
    if cond.within_days:
        low = AS_OF_MS - cond.within_days * DAY_MS
    if cond.within:
        low = AS_OF_MS - int(cond.within[:-1]) * UNIT_DAYS[cond.within[-1]] * DAY_MS
    end_of_window = 2**62
    if cond.between:
        low = day_ms(oracle_day(cond.between[0]))
        end_of_window = day_ms(oracle_day(cond.between[1])) + DAY_MS
    matching = [
        e
        for e in events
        if e["name"] in cond.names
        and low <= e["ts"] <= high
        and e["ts"] < end_of_window
        and all(
            e.get(k) is not None and compare(e.get(k), f.op, f.value) for k, f in cond.where.items()
        )
    ]
    aggregate = cond.sum or cond.avg
    if aggregate is None:
        op, count = cond.count_test
        return compare(len(matching), op, count)
    values = [e[aggregate.property] for e in matching if e.get(aggregate.property) is not None]
    if not values:
        return False
    total = sum(values) if cond.sum else sum(values) / len(values)
    return compare(total, aggregate.op, aggregate.value)


def expected_members(graph: Graph, defn: SegmentDefinition) -> list[str]:
    return sorted(
        cid for cid, c in graph.customers.items() if holds(defn.where, c, graph.events[cid]) is True
    )


def births_near(years: int) -> list[str]:
    cut = AS_OF.replace(year=AS_OF.year - years)
    return [(cut + dt.timedelta(days=d)).isoformat() for d in (-1, 0, 1)]


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Graph]:
    """About forty customers whose values sit on the boundaries the conditions test."""
    rng = random.Random(20260315)
    births = [b for n in (0, 17, 18, 30, 65) for b in births_near(n)]
    births += ["2008-02-29", "2004-02-29", "1990-12-31", "2000-01-01"]
    windows = [AS_OF_MS - d * DAY_MS + delta for d in (1, 30, 180) for delta in (-1, 0, 1)]
    windows += [AS_OF_MS, AS_OF_MS + 1, AS_OF_MS - 1000 * DAY_MS]
    # the edges of whole-day windows: midnight of the first day, the last millisecond of a day
    midnight = day_ms(AS_OF)
    windows += [midnight - d * DAY_MS + delta for d in (0, 1, 29, 30, 180) for delta in (-1, 0)]
    for graph in open_graph(Path(tmp_path_factory.mktemp("oracle"))):
        for i in range(40):
            cid = f"c{i:02d}"
            graph.add_customer(
                id=cid,
                email=rng.choice([None, f"{cid}@x.it"]),
                country=rng.choice([None, "IT", "FR", "DE"]),
                record_count=rng.choice([None, 1, 2, 3]),
                lifetime_value=rng.choice([None, 0.0, 99.5, 500.0, 500.01, 1200.0]),
                vip=rng.choice([None, True, False]),
                birth_date=rng.choice([None, *births]),
                age=rng.choice([None, 999]),  # stale stored ages that segments must ignore
                last_seen_ts=rng.choice([None, *windows]),
            )
            for _ in range(rng.choice([0, 1, 2, 4])):
                graph.add_event(
                    cid,
                    rng.choice(["Order Completed", "Page Viewed"]),
                    rng.choice(windows),
                    rng.choice([None, "spring", "summer"]),
                    rng.choice([None, 10.0, 50.0, 90.5]),
                )
        yield graph


NUMBERS = st.sampled_from([0, 1, 2, 3, 99.5, 500, 500.01, 1200])
VALUES = {
    "lifetime_value": NUMBERS,
    "record_count": NUMBERS,
    "country": st.sampled_from(["IT", "FR", "DE", "ES", "A", "Z"]),
    "vip": st.booleans(),
    "age": st.sampled_from([0, 1, 17, 18, 19, 29, 30, 31, 64, 65, 66]),
    "email": st.sampled_from(["c0", "@x.it", "c1", "x"]),
    "birth_date": st.sampled_from(["18y ago", "2008-03-16", "today", "30y ago", "2000-01-01"]),
    "last_seen_ts": st.sampled_from(["today", "1d ago", "30d ago", "2026-03-14", "1w ago"]),
}
ORDERED_OPS = ["=", "!=", "<", "<=", ">", ">=", "in", "not_in", "between"]
TEXT_OPS = {"country": ["contains", "starts_with"], "email": ["contains", "starts_with"]}


@st.composite
def trait_conditions(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from(sorted(VALUES)))
    if name == "email":
        ops = TEXT_OPS[name]
    else:
        ops = ["=", "!=", "in", "not_in"] if name == "vip" else ORDERED_OPS
    op = draw(st.sampled_from([*ops, *TEXT_OPS.get(name, []), "exists", "missing"]))
    values = VALUES[name]
    if op in ("exists", "missing"):
        return {"trait": name, "op": op}
    if op in ("in", "not_in"):
        return {"trait": name, "op": op, "value": draw(st.lists(values, min_size=1, max_size=3))}
    if op == "between":
        return {
            "trait": name,
            "op": op,
            "value": sorted(
                draw(st.lists(values, min_size=2, max_size=2)),
                key=oracle_day if name in ("birth_date", "last_seen_ts") else None,
            ),
        }
    return {"trait": name, "op": op, "value": draw(values)}


WINDOWS: list[dict[str, Any]] = [
    {},
    {"within_days": 1},
    {"within_days": 30},
    {"within_days": 180},
    {"within": "30d"},
    {"within": "26w"},
    {"between": ["180d ago", "1d ago"]},
    {"between": ["2025-09-16", "today"]},
    {"between": ["30d ago", "30d ago"]},
]
MEASURES: list[dict[str, Any]] = [
    {},
    {"min_count": 2},
    {"count": {"op": "=", "value": 0}},
    {"count": {"op": "<", "value": 2}},
    {"count": {"op": "!=", "value": 1}},
    {"sum": {"property": "total", "op": ">=", "value": 100}},
    {"sum": {"property": "total", "op": "<", "value": 50}},
    {"avg": {"property": "total", "op": ">", "value": 40}},
    {"avg": {"property": "total", "op": "=", "value": 50}},
]
FILTERS: list[dict[str, Any]] = [
    {},
    {"campaign": "spring"},
    {"campaign": ["spring", "summer"]},
    {"campaign": {"op": "!=", "value": "spring"}},
    {"campaign": {"op": "not_in", "value": ["summer"]}},
    {"total": {"op": ">", "value": 20}},
]
event_conditions = st.builds(
    lambda name, window, measure, where: (
        {"event": name} | window | measure | ({"where": where} if where else {})
    ),
    st.sampled_from(["Order Completed", "Page Viewed", "Signed Up", ["Order Completed", "X"]]),
    st.sampled_from(WINDOWS),
    st.sampled_from(MEASURES),
    st.sampled_from(FILTERS),
)
conditions = st.recursive(
    trait_conditions() | event_conditions,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda cs: {"all": cs}),
        st.lists(inner, min_size=1, max_size=3).map(lambda cs: {"any": cs}),
        inner.map(lambda c: {"not": c}),
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(where=conditions)
def test_compiled_segment_matches_the_oracle(populated: Graph, where: dict[str, Any]) -> None:
    defn = parse_segment({"name": "random", "where": where}, source="hypothesis")
    store = populated.store
    members = run_segment(store, defn, as_of_ms=AS_OF_MS).members
    assert [m.id for m in members] == expected_members(populated, defn)


@pytest.mark.parametrize("years", [0, 1, 17, 18, 19, 30, 65])
@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">="])
def test_age_boundaries_on_the_engine(populated: Graph, op: str, years: int) -> None:
    defn = parse_segment(
        {"name": "a", "where": {"trait": "age", "op": op, "value": years}}, source="-"
    )
    store = populated.store
    expected = expected_members(populated, defn)
    assert [m.id for m in run_segment(store, defn, as_of_ms=AS_OF_MS).members] == expected
