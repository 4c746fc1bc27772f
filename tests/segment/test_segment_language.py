"""The language's newer constructs: text ops, dates, event windows and measures, references."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from segment_graph import Graph

from idgraph.errors import SegmentDefinitionError
from idgraph.segment.compile import ANY_TRAITS, DAY_MS, Resolver, compile_segment
from idgraph.segment.dates import Duration, parse_date, parse_duration
from idgraph.segment.definition import (
    Aggregate,
    CountTest,
    EventCondition,
    NotCondition,
    PropertyFilter,
    SegmentCondition,
    SegmentDefinition,
    TraitCondition,
    parse_segment,
)
from idgraph.segment.run import explain_segment, folder_resolver, run_segment
from idgraph.store.dialect import LADYBUG, NEO4J
from idgraph.store.ladybug import LadybugStore

AS_OF_MS = int(dt.datetime(2026, 3, 15, 9, 30, tzinfo=dt.UTC).timestamp() * 1000)
MIDNIGHT = int(dt.datetime(2026, 3, 15, tzinfo=dt.UTC).timestamp() * 1000)
PROPS = {
    "email": "string",
    "country": "string",
    "birth_date": "string",
    "lifetime_value": "number",
    "last_order_ts": "number",
    "vip": "boolean",
}


def seg(where: Any, name: str = "s") -> SegmentDefinition:
    return parse_segment({"name": name, "where": where}, source=f"{name}.yaml")


def ms(day: str) -> int:
    return int(dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC).timestamp() * 1000)


def head(where: Any, **kwargs: Any) -> tuple[str, list[Any]]:
    query = compile_segment(
        seg(where), dialect=NEO4J, as_of_ms=AS_OF_MS, customer_properties=PROPS, **kwargs
    )
    return query.cypher.split(" RETURN ")[0], list(query.params.values())


# --- dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-31", "2026-01-31"),
        (dt.date(2025, 2, 3), "2025-02-03"),
        ("today", "2026-03-15"),
        (" Today ", "2026-03-15"),
        ("30d ago", "2026-02-13"),
        ("1 day ago", "2026-03-14"),
        ("12w ago", "2025-12-21"),
        ("2 weeks ago", "2026-03-01"),
        ("1mo ago", "2026-02-15"),
        ("6mo ago", "2025-09-15"),
        ("13 months ago", "2025-02-15"),
        ("1y ago", "2025-03-15"),
        ("0d ago", "2026-03-15"),
    ],
)
def test_dates_resolve_against_the_as_of_day(text: object, expected: str) -> None:
    parsed = parse_date(text)
    assert parsed is not None
    assert parsed.resolve(AS_OF_MS).isoformat() == expected


@pytest.mark.parametrize(
    ("day", "back", "expected"),
    [
        ("2026-03-31", Duration(1, "mo"), "2026-02-28"),
        ("2024-03-31", Duration(1, "mo"), "2024-02-29"),
        ("2024-02-29", Duration(1, "y"), "2023-02-28"),
        ("2026-01-15", Duration(2, "mo"), "2025-11-15"),
    ],
)
def test_calendar_steps_keep_to_the_month(day: str, back: Duration, expected: str) -> None:
    assert back.before(dt.date.fromisoformat(day)).isoformat() == expected


@pytest.mark.parametrize(
    "text", ["yesterday", "2026-02-30", "30 ago", "30x ago", "-1d ago", "ago", "", 5, None]
)
def test_not_dates(text: object) -> None:
    assert parse_date(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30d", Duration(30, "d")), ("12w", Duration(12, "w")), ("6 months", Duration(6, "mo"))],
)
def test_durations(text: str, expected: Duration) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["0d", "30", "d", "30d ago", "1.5d", 30, "-3d"])
def test_not_durations(text: object) -> None:
    assert parse_duration(text) is None


def test_month_durations_step_back_calendar_months_from_the_instant() -> None:
    assert Duration(1, "mo").start_ms(AS_OF_MS) == AS_OF_MS - 28 * DAY_MS  # February has 28


# --- parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (
            {"trait": "email", "op": "contains", "value": "@gmail"},
            TraitCondition(trait="email", op="contains", value="@gmail"),
        ),
        (
            {"trait": "email", "op": "starts with", "value": "a"},
            TraitCondition(trait="email", op="starts_with", value="a"),
        ),
        (
            {"trait": "country", "op": "not  in", "value": ["IT"]},
            TraitCondition(trait="country", op="not_in", value=("IT",)),
        ),
        (
            {"trait": "birth_date", "op": "between", "value": ["90d ago", "30d ago"]},
            TraitCondition(trait="birth_date", op="between", value=("90d ago", "30d ago")),
        ),
        (
            {"event": ["A", "B"], "within": "30d"},
            EventCondition(event=("A", "B"), within="30d"),
        ),
        (
            {"event": "A", "between": [dt.date(2026, 1, 1), "today"]},
            EventCondition(event="A", between=("2026-01-01", "today")),
        ),
        (
            {"event": "A", "count": {"op": "=", "value": 0}},
            EventCondition(event="A", count=CountTest(op="=", value=0)),
        ),
        (
            {"event": "A", "sum": {"property": "total", "op": ">=", "value": 100}},
            EventCondition(event="A", sum=Aggregate(property="total", op=">=", value=100)),
        ),
        (
            {"event": "A", "avg": {"property": "total", "op": "<", "value": 9.5}},
            EventCondition(event="A", avg=Aggregate(property="total", op="<", value=9.5)),
        ),
        (
            {
                "event": "A",
                "where": {
                    "campaign": "spring",
                    "store": ["MI01", "RM01"],
                    "total": {"op": ">", "value": 20},
                    "coupon": {"op": "not in", "value": ["X"]},
                },
            },
            EventCondition(
                event="A",
                where={
                    "campaign": PropertyFilter(op="=", value="spring"),
                    "store": PropertyFilter(op="in", value=("MI01", "RM01")),
                    "total": PropertyFilter(op=">", value=20),
                    "coupon": PropertyFilter(op="not_in", value=("X",)),
                },
            ),
        ),
        ({"segment": "vip"}, SegmentCondition(segment="vip")),
        ({"not": {"segment": "vip"}}, NotCondition(not_=SegmentCondition(segment="vip"))),
    ],
)
def test_new_constructs_parse(where: Any, expected: object) -> None:
    defn = seg(where)
    assert defn.where == expected
    assert parse_segment(defn.model_dump(by_alias=True, exclude_defaults=True), source="-") == defn


def test_min_count_is_shorthand_for_a_count_test() -> None:
    assert seg({"event": "A", "min_count": 3}).where.count_test == (">=", 3)  # type: ignore[union-attr]
    assert seg({"event": "A"}).where.count_test == (">=", 1)  # type: ignore[union-attr]


BAD: dict[str, tuple[Any, str, str]] = {
    "contains-number": ({"trait": "a", "op": "contains", "value": 3}, "where.value", "needs text"),
    "starts-list": (
        {"trait": "a", "op": "starts_with", "value": ["x"]},
        "where.value",
        "single value",
    ),
    "bad-op-alias": ({"trait": "a", "op": "startswith", "value": "x"}, "where.op", "'contains'"),
    "within-number": ({"event": "E", "within": 30}, "where.within", "expected a duration"),
    "within-ago": ({"event": "E", "within": "30d ago"}, "where.within", "e.g. 30d, 12w"),
    "within-and-days": (
        {"event": "E", "within_days": 3, "within": "3d"},
        "where.within",
        "give only one of within_days, within, between",
    ),
    "between-and-within": (
        {"event": "E", "within": "3d", "between": ["2026-01-01", "today"]},
        "where.between",
        "between and within are both given",
    ),
    "between-one": ({"event": "E", "between": ["today"]}, "where.between[1]", "is required"),
    "between-bad-date": (
        {"event": "E", "between": ["yesterday", "today"]},
        "where.between[0]",
        "expected a date, YYYY-MM-DD or a relative date",
    ),
    "count-and-min": (
        {"event": "E", "min_count": 2, "count": {"op": ">", "value": 1}},
        "where.count",
        "count and min_count are both given",
    ),
    "sum-and-count": (
        {
            "event": "E",
            "count": {"op": ">", "value": 1},
            "sum": {"property": "t", "op": ">", "value": 1},
        },
        "where.sum",
        "give only one of min_count, count, sum, avg",
    ),
    "count-negative": (
        {"event": "E", "count": {"op": "=", "value": -1}},
        "where.count.value",
        "greater than or equal to 0",
    ),
    "count-bad-op": (
        {"event": "E", "count": {"op": "in", "value": 1}},
        "where.count.op",
        "'>='",
    ),
    "count-typo": (
        {"event": "E", "count": {"op": "=", "vlaue": 1}},
        "where.count",
        "unknown key 'vlaue'; expected one of: op, value (did you mean 'value'?)",
    ),
    "sum-text": (
        {"event": "E", "sum": {"property": "t", "op": ">", "value": "100"}},
        "where.sum.value",
        "expected a number, got text",
    ),
    "sum-missing-property": (
        {"event": "E", "sum": {"op": ">", "value": 1}},
        "where.sum.property",
        "is required",
    ),
    "avg-property-injection": (
        {"event": "E", "avg": {"property": "t`) RETURN 1 //", "op": ">", "value": 1}},
        "where.avg.property",
        "not a valid property name",
    ),
    "filter-bad-op": (
        {"event": "E", "where": {"total": {"op": "~", "value": 1}}},
        "where.where.total.op",
        "'not_in'",
    ),
    "filter-typo": (
        {"event": "E", "where": {"total": {"op": "=", "valeu": 1}}},
        "where.where.total",
        "unknown key 'valeu'; expected one of: op, value",
    ),
    "filter-in-scalar": (
        {"event": "E", "where": {"total": {"op": "in", "value": 1}}},
        "where.where.total.value",
        "non-empty list",
    ),
    "filter-empty-list": (
        {"event": "E", "where": {"total": []}},
        "where.where.total.value",
        "non-empty list",
    ),
    "event-list-empty": ({"event": []}, "where.event", "non-empty list"),
    "event-list-number": ({"event": ["A", 3]}, "where.event", "got a number"),
    "segment-injection": (
        {"segment": "vip' OR 1=1"},
        "where.segment",
        "not a valid segment name",
    ),
    "segment-braces": ({"not": {"segment": "a}{b"}}, "where.not.segment", "not a valid"),
    "segment-space": ({"segment": "big spenders"}, "where.segment", "not a valid"),
    "filter-name-quote": (
        {"event": "E", "where": {"a'b": 1}},
        "where.where",
        '"a\'b" is not a valid property name',
    ),
    "trait-brace": ({"trait": "a{b}", "op": "exists"}, "where.trait", "not a valid"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_new_constructs_name_the_location(case: str) -> None:
    where, location, fragment = BAD[case]
    with pytest.raises(SegmentDefinitionError) as caught:
        seg(where, name="bad")
    message = str(caught.value)
    assert re.search(rf"(^bad\.yaml:|\n  -) {re.escape(location)}: ", message), message
    assert fragment in message, message


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SegmentDefinitionError) as caught:
        seg(
            {
                "all": [
                    {"event": "E", "within": "soon"},
                    {"event": "E", "sum": {"property": "x y", "op": ">", "value": 1}},
                    {"segment": "No"},
                ]
            },
            name="many",
        )
    message = str(caught.value)
    assert message.startswith("many.yaml: 3 problems")
    for location in ("where.all[0].within", "where.all[1].sum.property", "where.all[2].segment"):
        assert f"  - {location}: " in message, message


# --- compiling ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "expected", "params"),
    [
        (
            {"trait": "email", "op": "contains", "value": "@x"},
            "c.`email` CONTAINS $p0",
            ["@x"],
        ),
        (
            {"trait": "email", "op": "starts_with", "value": "a"},
            "c.`email` STARTS WITH $p0",
            ["a"],
        ),
        (
            {"trait": "birth_date", "op": ">=", "value": "30y ago"},
            "c.`birth_date` >= $p0",
            ["1996-03-15"],
        ),
        (
            {"trait": "birth_date", "op": "in", "value": ["today", "2000-01-01"]},
            "c.`birth_date` IN $p0",
            [["2026-03-15", "2000-01-01"]],
        ),
        (
            {"trait": "last_order_ts", "op": ">=", "value": "30d ago"},
            "c.`last_order_ts` >= $p0",
            [MIDNIGHT - 30 * DAY_MS],
        ),
        (
            {"trait": "last_order_ts", "op": "<=", "value": "2026-01-01"},
            "c.`last_order_ts` < $p0",
            [ms("2026-01-02")],
        ),
        (
            {"trait": "last_order_ts", "op": ">", "value": "today"},
            "c.`last_order_ts` >= $p0",
            [MIDNIGHT + DAY_MS],
        ),
        (
            {"trait": "last_order_ts", "op": "<", "value": "today"},
            "c.`last_order_ts` < $p0",
            [MIDNIGHT],
        ),
        (
            {"trait": "last_order_ts", "op": "=", "value": "today"},
            "(c.`last_order_ts` >= $p0 AND c.`last_order_ts` < $p1)",
            [MIDNIGHT, MIDNIGHT + DAY_MS],
        ),
        (
            {"trait": "last_order_ts", "op": "!=", "value": "today"},
            "(c.`last_order_ts` < $p0 OR c.`last_order_ts` >= $p1)",
            [MIDNIGHT, MIDNIGHT + DAY_MS],
        ),
        (
            {"trait": "last_order_ts", "op": "between", "value": ["1w ago", "1d ago"]},
            "(c.`last_order_ts` >= $p0 AND c.`last_order_ts` < $p1)",
            [MIDNIGHT - 7 * DAY_MS, MIDNIGHT],
        ),
        (
            {"trait": "last_order_ts", "op": ">=", "value": 5},
            "c.`last_order_ts` >= $p0",
            [5],
        ),
        (
            {"event": ["A", "B"], "within": "2w"},
            "COUNT { MATCH (c)-[:HAS_RECORD]->(:Record)-[:PERFORMED]->(e:Event) "
            "WHERE e.name IN $p0 AND e.ts >= $p1 AND e.ts <= $p2 } >= $p3",
            [["A", "B"], AS_OF_MS - 14 * DAY_MS, AS_OF_MS, 1],
        ),
        (
            {
                "event": "A",
                "between": ["2026-01-01", "2026-01-31"],
                "count": {"op": "=", "value": 0},
            },
            "COUNT { MATCH (c)-[:HAS_RECORD]->(:Record)-[:PERFORMED]->(e:Event) "
            "WHERE e.name = $p0 AND e.ts >= $p1 AND e.ts < $p2 AND e.ts <= $p3 } = $p4",
            ["A", ms("2026-01-01"), ms("2026-02-01"), AS_OF_MS, 0],
        ),
        (
            {
                "event": "A",
                "where": {
                    "s": ["x"],
                    "t": {"op": "<=", "value": 3},
                    "u": {"op": "not_in", "value": [1]},
                },
            },
            "COUNT { MATCH (c)-[:HAS_RECORD]->(:Record)-[:PERFORMED]->(e:Event) "
            "WHERE e.name = $p0 AND e.ts <= $p1 AND e.`s` IN $p2 AND e.`t` <= $p3 "
            "AND NOT (e.`u` IN $p4) } >= $p5",
            ["A", AS_OF_MS, ["x"], 3, [1], 1],
        ),
        (
            {
                "any": [
                    {"event": "O", "sum": {"property": "total", "op": ">=", "value": 100}},
                    {
                        "not": {
                            "event": "O",
                            "within": "30d",
                            "avg": {"property": "end", "op": "<", "value": 5},
                        }
                    },
                ]
            },
            "MATCH (c:Customer) "
            "OPTIONAL MATCH (c)-[:HAS_RECORD]->(:Record)-[:PERFORMED]->(agg0:Event) "
            "WHERE agg0.name = $p0 AND agg0.ts <= $p1 "
            "WITH c, sum(agg0.`total`) AS agg0_value, count(agg0.`total`) AS agg0_n "
            "OPTIONAL MATCH (c)-[:HAS_RECORD]->(:Record)-[:PERFORMED]->(agg1:Event) "
            "WHERE agg1.name = $p3 AND agg1.ts >= $p4 AND agg1.ts <= $p5 "
            "WITH c, agg0_value, agg0_n, avg(agg1.`end`) AS agg1_value, "
            "count(agg1.`end`) AS agg1_n "
            "WHERE ((agg0_n > 0 AND agg0_value >= $p2) OR NOT ((agg1_n > 0 AND agg1_value < $p6)))",
            ["O", AS_OF_MS, 100, "O", AS_OF_MS - 30 * DAY_MS, AS_OF_MS, 5],
        ),
    ],
)
def test_new_constructs_compile(where: Any, expected: str, params: list[Any]) -> None:
    text, values = head(where)
    if not expected.startswith("MATCH (c:Customer) "):
        expected = f"MATCH (c:Customer) WHERE {expected}"
    assert text == expected
    assert values == params


COMPILE_BAD: dict[str, tuple[Any, str, str]] = {
    "contains-number-trait": (
        {"trait": "lifetime_value", "op": "contains", "value": "5"},
        "where.op",
        "op 'contains' applies to text traits only; trait 'lifetime_value' holds numbers",
    ),
    "starts-with-bool": (
        {"trait": "vip", "op": "starts_with", "value": "t"},
        "where.op",
        "holds true/false",
    ),
    "contains-age": (
        {"trait": "age", "op": "contains", "value": "1"},
        "where.op",
        "age is a number",
    ),
    "birth-date-bad": (
        {"trait": "birth_date", "op": ">", "value": "last week"},
        "where.value",
        "'last week' is not a date that resolves",
    ),
    "birth-date-number": (
        {"trait": "birth_date", "op": ">", "value": 1990},
        "where.value",
        "holds dates: expected YYYY-MM-DD",
    ),
    "birth-date-between-reversed": (
        {"trait": "birth_date", "op": "between", "value": ["1d ago", "30d ago"]},
        "where.value",
        "the low bound 2026-03-14 is after the high bound 2026-02-13",
    ),
    "ts-mixed": (
        {"trait": "last_order_ts", "op": "in", "value": [5, "today"]},
        "where.value",
        "give every value as a date",
    ),
    "ts-reversed": (
        {"trait": "last_order_ts", "op": "between", "value": ["today", "1d ago"]},
        "where.value",
        "is after the high bound",
    ),
    "between-reversed": (
        {"event": "E", "between": ["today", "2026-01-01"]},
        "where.between",
        "the start 'today' (2026-03-15) is after the end '2026-01-01' (2026-01-01)",
    ),
    "too-far-back": (
        {"event": "E", "between": ["99999y ago", "today"]},
        "where.between",
        "is not a date that resolves",
    ),
    "within-too-far": ({"event": "E", "within": "99999y"}, "where.within", "before year 1"),
    "no-resolver": (
        {"all": [{"trait": "vip", "op": "exists"}, {"segment": "vip"}]},
        "where.all[1].segment",
        "segment 'vip' is referenced, which needs saved segments",
    ),
}


@pytest.mark.parametrize("case", list(COMPILE_BAD))
def test_compile_problems(case: str) -> None:
    where, location, fragment = COMPILE_BAD[case]
    with pytest.raises(SegmentDefinitionError) as caught:
        head(where)
    assert str(caught.value).startswith(f"s.yaml: {location}: "), str(caught.value)
    assert fragment in str(caught.value)


INJECTIONS = ["x' OR 1=1 //", "}) DETACH DELETE c //", "`) MATCH (n) DELETE n //", "$p0"]


@pytest.mark.parametrize("text", INJECTIONS)
def test_values_in_new_constructs_stay_parameters(text: str) -> None:
    where = {
        "all": [
            {"trait": "email", "op": "contains", "value": text},
            {"trait": "email", "op": "starts_with", "value": text},
            {"event": [text, "B"], "within": "97d", "where": {"c": {"op": "!=", "value": text}}},
            {"event": text, "sum": {"property": "total", "op": ">", "value": 7919}},
            {"event": "E", "count": {"op": "<", "value": 6007}, "where": {"c": [text]}},
        ]
    }
    text_out, values = head(where)
    assert text not in text_out.replace("$p0", "") or text == "$p0"
    scrubbed = re.sub(r"\$p\d+\b|agg\d+_(value|n)|agg\d+\b|> 0 AND", "", text_out)
    assert not re.search(r"\d", scrubbed), text_out
    flat = [w for v in values for w in (v if isinstance(v, list) else [v])]
    for value in (text, 7919, 6007, AS_OF_MS - 97 * DAY_MS):
        assert value in flat


# --- segment references ------------------------------------------------------------------------


def library(**where: Any) -> Resolver:
    defs = {name: seg(w, name=name) for name, w in where.items()}
    return defs.get


VIP = {"trait": "vip", "op": "=", "value": True}


def test_reference_compiles_inline() -> None:
    resolve = library(vip=VIP, it={"trait": "country", "op": "=", "value": "IT"})
    text, values = head({"all": [{"segment": "vip"}, {"not": {"segment": "it"}}]}, resolve=resolve)
    assert text == "MATCH (c:Customer) WHERE ((c.`vip` = $p0) AND NOT ((c.`country` = $p1)))"
    assert values == [True, "IT"]


def test_nested_and_shared_references_are_not_cycles() -> None:
    resolve = library(
        vip=VIP,
        a={"segment": "vip"},
        b={"all": [{"segment": "vip"}, {"segment": "a"}]},
    )
    text, _ = head({"any": [{"segment": "a"}, {"segment": "b"}]}, resolve=resolve)
    assert text.count("c.`vip` = ") == 3


@pytest.mark.parametrize(
    ("where", "defs", "problems"),
    [
        ({"segment": "s"}, {}, [("where.segment", "segment cycle: s -> s")]),
        (
            {"segment": "a"},
            {"a": {"segment": "b"}, "b": {"all": [VIP, {"segment": "a"}]}},
            [("where.segment", "segment cycle: a -> b -> a")],
        ),
        (
            {"all": [VIP, {"not": {"segment": "a"}}]},
            {"a": {"segment": "s"}},
            [("where.all[1].not.segment", "segment cycle: s -> a -> s")],
        ),
        (
            {"segment": "nope"},
            {},
            [("where.segment", "unknown segment 'nope': no saved segment has that name")],
        ),
        (
            {"segment": "a"},
            {"a": {"any": [VIP, {"segment": "gone"}]}},
            [("where.segment", "in a.yaml, where.any[1].segment: unknown segment 'gone'")],
        ),
        (
            {"all": [{"segment": "a"}, {"segment": "zz"}]},
            {"a": {"trait": "ltv", "op": ">", "value": 1}},
            [
                ("where.all[0].segment", "in a.yaml, where.trait: unknown trait 'ltv'"),
                ("where.all[1].segment", "unknown segment 'zz'"),
            ],
        ),
    ],
)
def test_reference_problems(
    where: Any, defs: dict[str, Any], problems: list[tuple[str, str]]
) -> None:
    with pytest.raises(SegmentDefinitionError) as caught:
        head(where, resolve=library(**defs))
    message = str(caught.value)
    if len(problems) == 1:
        location, fragment = problems[0]
        assert message.startswith(f"s.yaml: {location}: {fragment}"), message
    else:
        for location, fragment in problems:
            assert f"  - {location}: {fragment}" in message, message


def test_a_broken_saved_segment_is_a_problem_not_a_crash() -> None:
    def resolve(name: str) -> SegmentDefinition | None:
        raise SegmentDefinitionError("where.op: bad", path=f"{name}.yaml")

    with pytest.raises(SegmentDefinitionError, match=r"saved segment 'a' is not valid: a\.yaml"):
        head({"segment": "a"}, resolve=resolve)


def test_folder_resolver(tmp_path: Any) -> None:
    (tmp_path / "vip.yaml").write_text("name: vip\nwhere: {trait: vip, op: '=', value: true}\n")
    resolve = folder_resolver(tmp_path)
    assert resolve("vip") == seg(VIP, name="vip")
    assert resolve("other") is None
    assert resolve("../vip") is None


# --- explain -----------------------------------------------------------------------------------


def test_explain_without_a_store_accepts_any_trait() -> None:
    query = explain_segment(
        None,
        seg(
            {
                "all": [
                    {"trait": "anything", "op": ">", "value": 1},
                    {"trait": "age", "op": ">=", "value": 18},
                ]
            }
        ),
        as_of_ms=AS_OF_MS,
    )
    assert query.name == "segment:s"
    assert query.cypher.startswith(
        "MATCH (c:Customer) WHERE (c.`anything` > $p0 AND c.`birth_date` <= $p1) RETURN"
    )
    assert query.params == {"p0": 1, "p1": "2008-03-15"}
    assert compile_segment(
        seg({"trait": "x_ts", "op": ">=", "value": "today"}),
        dialect=LADYBUG,
        as_of_ms=AS_OF_MS,
        customer_properties=ANY_TRAITS,
    ).params == {"p0": MIDNIGHT}


def test_explain_with_properties_checks_them() -> None:
    with pytest.raises(SegmentDefinitionError, match="unknown trait 'anything'"):
        explain_segment(
            PROPS, seg({"trait": "anything", "op": "exists"}), as_of_ms=AS_OF_MS, dialect=NEO4J
        )


def test_explain_with_a_store_is_what_run_runs(graph: Graph, store: LadybugStore) -> None:
    graph.add_customer(id="a", vip=True)
    defn = seg({"segment": "vip"})
    resolve = library(vip=VIP)
    query = explain_segment(store, defn, as_of_ms=AS_OF_MS, resolve=resolve)
    assert graph.rows(query.cypher, query.params)[0]["customer_id"] == "a"
    assert run_segment(store, defn, as_of_ms=AS_OF_MS, resolve=resolve).count == 1


# --- execution on the embedded engine, against hand-checked members ----------------------------


@pytest.fixture
def shop(graph: Graph) -> Graph:
    """Five customers with hand-picked traits and orders around the windows tested below."""
    day = DAY_MS
    graph.add_customer(
        id="ann",
        email="ann@gmail.com",
        city="Milano",
        birth_date="1990-05-01",
        age=99,
        last_order_ts=AS_OF_MS - 2 * day,
        vip=True,
    )
    graph.add_customer(
        id="bob",
        email="bob@libero.it",
        city="Roma",
        birth_date="2008-03-15",
        age=17,
        last_order_ts=MIDNIGHT - 40 * day,
        vip=False,
    )
    graph.add_customer(
        id="cat",
        email="cat@gmail.com",
        city="Milano Marittima",
        birth_date="2008-03-16",
        last_order_ts=MIDNIGHT - 30 * day,
    )
    graph.add_customer(id="dan", city="milano")
    graph.add_customer(id="eve", email="eve@yahoo.fr", birth_date="1960-01-01", vip=True)
    graph.add_event("ann", "Order Completed", AS_OF_MS - 2 * day, campaign="spring", total=80.0)
    graph.add_event("ann", "Order Completed", AS_OF_MS - 40 * day, total=40.0)
    graph.add_event("ann", "Email Opened", ms("2026-01-31") + day - 1, campaign="spring")
    graph.add_event("bob", "Order Completed", MIDNIGHT - 40 * day, campaign="summer", total=150.0)
    graph.add_event("bob", "Email Opened", ms("2026-02-01"), campaign="spring")
    graph.add_event("cat", "Order Completed", MIDNIGHT - 30 * day, total=None)
    graph.add_event("cat", "Product Added", AS_OF_MS - day)
    graph.add_event("cat", "Email Opened", ms("2026-01-01"), campaign="summer")
    graph.add_event("dan", "Order Completed", AS_OF_MS + day, total=500.0)  # after as-of
    graph.add_event("eve", "Email Clicked", ms("2025-12-31"), campaign="spring")
    return graph


@pytest.mark.parametrize(
    ("where", "members"),
    [
        ({"trait": "email", "op": "contains", "value": "@gmail"}, ["ann", "cat"]),
        ({"trait": "city", "op": "starts_with", "value": "Milano"}, ["ann", "cat"]),
        ({"trait": "city", "op": "starts with", "value": "milano"}, ["dan"]),
        ({"trait": "age", "op": ">=", "value": 18}, ["ann", "bob", "eve"]),  # not the stored age
        ({"trait": "age", "op": "<", "value": 18}, ["cat"]),
        ({"trait": "birth_date", "op": ">=", "value": "18y ago"}, ["bob", "cat"]),
        ({"trait": "birth_date", "op": "<", "value": "1990-05-01"}, ["eve"]),
        ({"trait": "last_order_ts", "op": ">=", "value": "30d ago"}, ["ann", "cat"]),
        ({"trait": "last_order_ts", "op": "=", "value": "40d ago"}, ["bob"]),
        ({"trait": "last_order_ts", "op": "<", "value": "30d ago"}, ["bob"]),
        (
            {"trait": "last_order_ts", "op": "between", "value": ["6w ago", "1mo ago"]},
            ["bob", "cat"],
        ),
        ({"event": "Order Completed", "within": "30d"}, ["ann"]),
        ({"event": "Order Completed", "within": "6w"}, ["ann", "bob", "cat"]),
        (
            {"event": ["Email Opened", "Email Clicked"], "where": {"campaign": "spring"}},
            ["ann", "bob", "eve"],
        ),
        (
            {"event": "Email Opened", "between": ["2026-01-01", "2026-01-31"]},
            ["ann", "cat"],
        ),
        (
            {
                "event": "Email Opened",
                "between": ["2026-01-31", "2026-02-28"],
                "where": {"campaign": ["spring"]},
            },
            ["ann", "bob"],
        ),
        ({"event": "Order Completed", "count": {"op": "=", "value": 0}}, ["dan", "eve"]),
        ({"event": "Order Completed", "count": {"op": ">", "value": 1}}, ["ann"]),
        (
            {"event": "Order Completed", "count": {"op": "<=", "value": 1}},
            ["bob", "cat", "dan", "eve"],
        ),
        (
            {"event": "Order Completed", "sum": {"property": "total", "op": ">=", "value": 120}},
            ["ann", "bob"],
        ),
        (
            {"event": "Order Completed", "sum": {"property": "total", "op": "<", "value": 1000}},
            ["ann", "bob"],
        ),
        (
            {
                "not": {
                    "event": "Order Completed",
                    "sum": {"property": "total", "op": ">=", "value": 120},
                }
            },
            ["cat", "dan", "eve"],
        ),
        (
            {"event": "Order Completed", "avg": {"property": "total", "op": "=", "value": 60}},
            ["ann"],
        ),
        (
            {
                "event": "Order Completed",
                "within": "30d",
                "avg": {"property": "total", "op": ">", "value": 60},
            },
            ["ann"],
        ),
        (
            {
                "event": "Order Completed",
                "sum": {"property": "total", "op": ">", "value": 0},
                "where": {"total": {"op": ">", "value": 50}},
            },
            ["ann", "bob"],
        ),
        (
            {
                "all": [
                    {
                        "event": "Order Completed",
                        "sum": {"property": "total", "op": ">=", "value": 100},
                    },
                    {
                        "event": "Order Completed",
                        "avg": {"property": "total", "op": "<", "value": 100},
                    },
                ]
            },
            ["ann"],
        ),
        ({"segment": "vip"}, ["ann", "eve"]),
        ({"all": [{"not": {"segment": "vip"}}, {"segment": "big"}]}, ["bob"]),
    ],
)
def test_new_constructs_on_the_engine(shop: Graph, where: Any, members: list[str]) -> None:
    resolve = library(
        vip=VIP,
        big={"event": "Order Completed", "sum": {"property": "total", "op": ">=", "value": 100}},
    )
    result = run_segment(shop.store, seg(where), as_of_ms=AS_OF_MS, resolve=resolve)
    assert [m.id for m in result.members] == members
