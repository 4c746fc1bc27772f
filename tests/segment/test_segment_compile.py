"""Compiling definitions to Cypher: parameters only, checked traits, and exact age maths."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from idgraph.errors import SegmentDefinitionError
from idgraph.segment.compile import DAY_MS, CompiledQuery, compile_segment
from idgraph.segment.definition import SegmentDefinition, parse_segment
from idgraph.store.dialect import LADYBUG, NEO4J, Dialect

PROPS = {
    "id": "string",
    "email": "string",
    "country": "string",
    "birth_date": "string",
    "lifetime_value": "number",
    "record_count": "number",
    "vip": "boolean",
    "order": "number",
    "signup_date": "date",
}
AS_OF = dt.datetime(2026, 3, 15, 12, tzinfo=dt.UTC)
AS_OF_MS = int(AS_OF.timestamp() * 1000)


def defn(where: Any, name: str = "s") -> SegmentDefinition:
    return parse_segment({"name": name, "where": where}, source=f"{name}.yaml")


def compiled(where: Any, *, as_of_ms: int = AS_OF_MS, dialect: Dialect = NEO4J) -> CompiledQuery:
    return compile_segment(
        defn(where), dialect=dialect, as_of_ms=as_of_ms, customer_properties=PROPS
    )


def condition(query: CompiledQuery) -> str:
    head, _, tail = query.cypher.partition(" RETURN ")
    assert head.startswith("MATCH (c:Customer) WHERE ")
    assert tail == (
        "c.id AS customer_id, c.email AS email, c.first_name AS first_name, "
        "c.last_name AS last_name, c.country AS country, c.record_count AS record_count "
        "ORDER BY customer_id"
    )
    return head.removeprefix("MATCH (c:Customer) WHERE ")


def trait(t: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"trait": t, "op": op} | ({} if value is None else {"value": value})


@pytest.mark.parametrize(
    ("where", "expected_condition", "expected_params"),
    [
        (trait("lifetime_value", ">=", 500), "c.`lifetime_value` >= $p0", [500]),
        (trait("lifetime_value", ">", 1.5), "c.`lifetime_value` > $p0", [1.5]),
        (trait("record_count", "<", 2), "c.`record_count` < $p0", [2]),
        (trait("record_count", "<=", 2), "c.`record_count` <= $p0", [2]),
        (trait("country", "=", "IT"), "c.`country` = $p0", ["IT"]),
        (trait("country", "!=", "IT"), "c.`country` <> $p0", ["IT"]),
        (trait("country", "in", ["IT", "FR"]), "c.`country` IN $p0", [["IT", "FR"]]),
        (trait("country", "not_in", ["IT"]), "NOT (c.`country` IN $p0)", [["IT"]]),
        (
            trait("lifetime_value", "between", [10, 20]),
            "(c.`lifetime_value` >= $p0 AND c.`lifetime_value` <= $p1)",
            [10, 20],
        ),
        (trait("email", "exists"), "c.`email` IS NOT NULL", []),
        (trait("email", "missing"), "c.`email` IS NULL", []),
        (trait("vip", "=", True), "c.`vip` = $p0", [True]),
        (trait("order", "=", 3), "c.`order` = $p0", [3]),
        (trait("signup_date", ">=", "2025-01-01"), "c.`signup_date` >= $p0", ["2025-01-01"]),
        (
            {"all": [trait("vip", "=", True), {"any": [trait("email", "exists")]}]},
            "(c.`vip` = $p0 AND c.`email` IS NOT NULL)",
            [True],
        ),
        (
            {"any": [trait("vip", "=", True), {"not": trait("email", "exists")}]},
            "(c.`vip` = $p0 OR NOT (c.`email` IS NOT NULL))",
            [True],
        ),
    ],
)
def test_trait_conditions(where: Any, expected_condition: str, expected_params: list[Any]) -> None:
    query = compiled(where)
    assert condition(query) == expected_condition
    assert list(query.params.values()) == expected_params
    assert list(query.params) == [f"p{i}" for i in range(len(expected_params))]


def test_event_condition_counts_events_in_the_window() -> None:
    query = compiled(
        {
            "event": "Order Completed",
            "within_days": 180,
            "min_count": 2,
            "where": {"campaign": "spring", "channel": "email"},
        }
    )
    assert condition(query) == (
        "COUNT { MATCH (c)-[:HAS_RECORD]->(:Record)-[:PERFORMED]->(e:Event) "
        "WHERE e.name = $p0 AND e.ts >= $p1 AND e.ts <= $p2 AND e.`campaign` = $p3 "
        "AND e.`channel` = $p4 } >= $p5"
    )
    assert query.params == {
        "p0": "Order Completed",
        "p1": AS_OF_MS - 180 * DAY_MS,
        "p2": AS_OF_MS,
        "p3": "spring",
        "p4": "email",
        "p5": 2,
    }


def test_event_without_window_still_ignores_events_after_as_of() -> None:
    query = compiled({"not": {"event": "Page Viewed"}})
    assert condition(query) == (
        "NOT (COUNT { MATCH (c)-[:HAS_RECORD]->(:Record)-[:PERFORMED]->(e:Event) "
        "WHERE e.name = $p0 AND e.ts <= $p1 } >= $p2)"
    )
    assert query.params == {"p0": "Page Viewed", "p1": AS_OF_MS, "p2": 1}


INJECTIONS = [
    "x' OR 1=1 //",
    'x" RETURN c //',
    "}) DETACH DELETE c //",
    "`) MATCH (n) DELETE n //",
    "$evil OR true",
    "\\u0027",
]


@pytest.mark.parametrize("text", INJECTIONS)
def test_no_value_is_pasted_into_the_cypher(text: str) -> None:
    where = {
        "all": [
            trait("country", "=", text),
            trait("email", "in", [text, "a@b.c"]),
            trait("lifetime_value", "between", [123456, 654321]),
            {"event": text, "within_days": 97, "where": {"campaign": text}},
            {"not": {"event": "E", "min_count": 7919}},
        ]
    }
    query = compiled(where, dialect=LADYBUG)
    without_params = re.sub(r"\$p\d+\b", "", query.cypher)
    assert not re.search(r"\d", without_params), query.cypher
    assert text not in query.cypher
    assert "a@b.c" not in query.cypher
    flat = [
        v
        for value in query.params.values()
        for v in (value if isinstance(value, list) else [value])
    ]
    for value in (text, "a@b.c", 123456, 654321, 7919, AS_OF_MS - 97 * DAY_MS):
        assert value in flat


def test_unknown_trait_names_location_and_known_traits() -> None:
    with pytest.raises(SegmentDefinitionError) as caught:
        compiled({"all": [trait("vip", "=", True), {"not": trait("lifetime_valu", ">", 1)}]})
    message = str(caught.value)
    assert message.startswith(
        "s.yaml: where.all[1].not.trait: unknown trait 'lifetime_valu' "
        "(did you mean 'lifetime_value'?)"
    )
    assert "known traits: age, birth_date, country, email, id, lifetime_value" in message
    assert caught.value.location == "where.all[1].not.trait"


def test_age_is_unknown_without_birth_date() -> None:
    with pytest.raises(SegmentDefinitionError, match=r"unknown trait 'age'; known traits: email$"):
        compile_segment(
            defn(trait("age", ">=", 18)),
            dialect=NEO4J,
            as_of_ms=AS_OF_MS,
            customer_properties={"email": "string"},
        )


def test_virtual_trait_wins_over_a_stored_one() -> None:
    """A stored `age` is as old as its last ingest; a segment counts age at its as-of time."""
    query = compile_segment(
        defn(trait("age", ">=", 18)),
        dialect=NEO4J,
        as_of_ms=AS_OF_MS,
        customer_properties={"age": "number", "birth_date": "string"},
    )
    assert condition(query) == "c.`birth_date` <= $p0"
    assert query.params == {"p0": "2008-03-15"}


def test_stored_age_without_birth_date_is_a_problem() -> None:
    with pytest.raises(SegmentDefinitionError, match=r"where\.trait: trait 'age' is computed"):
        compile_segment(
            defn(trait("age", ">=", 18)),
            dialect=NEO4J,
            as_of_ms=AS_OF_MS,
            customer_properties={"age": "number"},
        )


@pytest.mark.parametrize(
    ("where", "location", "fragment"),
    [
        (trait("lifetime_value", ">=", "500"), "where.value", "holds numbers, got '500'"),
        (trait("lifetime_value", "=", True), "where.value", "holds numbers, got True"),
        (trait("lifetime_value", "in", [1, "2"]), "where.value", "holds numbers, got '2'"),
        (trait("country", "=", 39), "where.value", "holds text, got 39"),
        (trait("country", "between", [1, 2]), "where.value", "holds text, got 1"),
        (trait("vip", "=", "yes"), "where.value", "holds true/false, got 'yes'"),
        (trait("vip", ">", True), "where.op", "op '>' does not apply to true/false trait 'vip'"),
        (trait("signup_date", ">=", "2025-13-01"), "where.value", "expected YYYY-MM-DD or"),
        (trait("signup_date", ">=", "yesterday"), "where.value", "expected YYYY-MM-DD or"),
        (trait("signup_date", "=", 20250101), "where.value", "holds dates: expected YYYY-MM-DD"),
        (trait("age", ">=", 17.5), "where.value", "whole years"),
        (trait("age", ">=", -1), "where.value", "whole years"),
        (trait("age", "=", "18"), "where.value", "whole years"),
        (trait("age", "in", [18, 500]), "where.value", "whole years"),
    ],
)
def test_type_mismatch(where: Any, location: str, fragment: str) -> None:
    with pytest.raises(SegmentDefinitionError) as caught:
        compiled(where)
    assert str(caught.value).startswith(f"s.yaml: {location}: ")
    assert fragment in str(caught.value)


def test_every_compile_problem_is_reported_at_once() -> None:
    where = {"any": [trait("nope", "exists"), trait("country", "=", 1), trait("vip", "<", True)]}
    with pytest.raises(SegmentDefinitionError) as caught:
        compiled(where)
    message = str(caught.value)
    assert message.startswith("s.yaml: 3 problems")
    for location in ("where.any[0].trait", "where.any[1].value", "where.any[2].op"):
        assert f"  - {location}: " in message


def test_errors_name_the_segment_when_it_has_no_file() -> None:
    d = SegmentDefinition.model_validate({"name": "vip", "where": trait("nope", "exists")})
    with pytest.raises(SegmentDefinitionError, match=r"^segment 'vip': where\.trait: unknown"):
        compile_segment(d, dialect=NEO4J, as_of_ms=0, customer_properties=PROPS)


@pytest.mark.parametrize("as_of_ms", [-1, 1.5, True, "0"])
def test_bad_as_of_is_rejected(as_of_ms: Any) -> None:
    with pytest.raises(ValueError, match="as_of_ms"):
        compiled(trait("email", "exists"), as_of_ms=as_of_ms)


def test_query_is_named_after_the_segment() -> None:
    query = compile_segment(
        defn(trait("email", "exists"), name="lapsed"),
        dialect=LADYBUG,
        as_of_ms=0,
        customer_properties=PROPS,
    )
    assert query.name == "segment:lapsed"


def ms(day: str) -> int:
    return int(dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC).timestamp() * 1000)


@pytest.mark.parametrize(
    ("as_of", "op", "value", "expected_condition", "expected_params"),
    [
        ("2026-03-15", ">=", 18, "c.`birth_date` <= $p0", ["2008-03-15"]),
        ("2026-03-15", ">", 18, "c.`birth_date` <= $p0", ["2007-03-15"]),
        ("2026-03-15", "<", 18, "c.`birth_date` > $p0", ["2008-03-15"]),
        ("2026-03-15", "<=", 18, "c.`birth_date` > $p0", ["2007-03-15"]),
        (
            "2026-03-15",
            "=",
            30,
            "(c.`birth_date` <= $p0 AND c.`birth_date` > $p1)",
            ["1996-03-15", "1995-03-15"],
        ),
        (
            "2026-03-15",
            "!=",
            30,
            "(c.`birth_date` > $p0 OR c.`birth_date` <= $p1)",
            ["1996-03-15", "1995-03-15"],
        ),
        (
            "2026-03-15",
            "between",
            [18, 34],
            "(c.`birth_date` <= $p0 AND c.`birth_date` > $p1)",
            ["2008-03-15", "1991-03-15"],
        ),
        # a leap-day as-of: 18 years earlier has no 29 February, so the 28th is the cut-off
        ("2024-02-29", ">=", 18, "c.`birth_date` <= $p0", ["2006-02-28"]),
        ("2024-02-29", ">=", 20, "c.`birth_date` <= $p0", ["2004-02-29"]),
        ("2025-01-01", "<", 1, "c.`birth_date` > $p0", ["2024-01-01"]),
        ("2025-12-31", ">=", 0, "c.`birth_date` <= $p0", ["2025-12-31"]),
        ("2026-03-15", "exists", None, "c.`birth_date` IS NOT NULL", []),
        ("2026-03-15", "missing", None, "c.`birth_date` IS NULL", []),
    ],
)
def test_age_compiles_to_birth_date_bounds(
    as_of: str, op: str, value: Any, expected_condition: str, expected_params: list[Any]
) -> None:
    query = compiled(trait("age", op, value), as_of_ms=ms(as_of) + 23 * 3_600_000)
    assert condition(query) == expected_condition
    assert list(query.params.values()) == expected_params


def test_age_in_is_an_or_of_exact_ages() -> None:
    query = compiled(trait("age", "not_in", [18, 21]), as_of_ms=ms("2026-03-15"))
    assert condition(query) == (
        "NOT ((c.`birth_date` <= $p0 AND c.`birth_date` > $p1) OR "
        "(c.`birth_date` <= $p2 AND c.`birth_date` > $p3))"
    )
    assert list(query.params.values()) == ["2008-03-15", "2007-03-15", "2005-03-15", "2004-03-15"]


def test_age_counts_on_the_utc_date_of_as_of() -> None:
    just_before_midnight = ms("2026-03-14") + DAY_MS - 1
    query = compiled(trait("age", ">=", 18), as_of_ms=just_before_midnight)
    assert query.params == {"p0": "2008-03-14"}
