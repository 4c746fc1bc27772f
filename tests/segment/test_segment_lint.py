"""Every shape of compiled segment passes Neo4j's own Cypher front-end (via tests/cypherlint.py)."""

from __future__ import annotations

from typing import Any

import pytest

from idgraph.segment import compile_segment, parse_segment
from idgraph.store.dialect import LADYBUG, NEO4J
from tests.cypherlint import LintResult, lint

PROPS = {
    "lifetime_value": "number",
    "country": "string",
    "vip": "boolean",
    "birth_date": "string",
    "signup_date": "date",
    "order": "number",
    "end": "string",
    "email": "string",
    "last_order_ts": "number",
    "age": "number",
}
VALUES: dict[str, Any] = {
    "lifetime_value": 500,
    "country": "IT",
    "vip": True,
    "signup_date": "2025-01-01",
    "order": 3,
    "end": "x",
    "age": 18,
}


def _traits() -> dict[str, Any]:
    cases: dict[str, Any] = {}
    for name, value in VALUES.items():
        ops = ["=", "!=", "in", "not_in", "exists", "missing"]
        if not isinstance(value, bool):
            ops += ["<", "<=", ">", ">=", "between"]
        for op in ops:
            cond: dict[str, Any] = {"trait": name, "op": op}
            if op in ("in", "not_in") or op == "between":
                cond["value"] = [value, value]
            elif op not in ("exists", "missing"):
                cond["value"] = value
            cases[f"{name}{op}"] = cond
    for op in ("contains", "starts_with"):
        cases[f"email{op}"] = {"trait": "email", "op": op, "value": "@x"}
    for op in ("=", "!=", "<", "<=", ">", ">=", "in", "not_in", "between"):
        for name in ("birth_date", "last_order_ts"):
            value: Any = ["1y ago", "today"] if op in ("in", "not_in", "between") else "30d ago"
            cases[f"{name}{op}-date"] = {"trait": name, "op": op, "value": value}
    return cases


TRAITS = _traits()
EVENT = {"event": "Order Completed", "within_days": 180, "min_count": 2}
SUM = {"event": "Order Completed", "sum": {"property": "total", "op": ">=", "value": 100}}
AVG = {
    "event": "Order Completed",
    "within": "30d",
    "avg": {"property": "order", "op": "<", "value": 5},
}
SAVED = {
    "big": parse_segment({"name": "big", "where": SUM | {"within": "365d"}}, source="big"),
    "vip": parse_segment({"name": "vip", "where": TRAITS["vip="]}, source="vip"),
}
ACCOUNT = {"account": "plan", "op": "=", "value": "enterprise"}
CASES: dict[str, Any] = {
    **TRAITS,
    "account": ACCOUNT,
    "account-text": {"account": "plan", "op": "starts_with", "value": "ent"},
    "account-mixed": {
        "all": [
            {"account": "employees", "op": "between", "value": [10, 500]},
            TRAITS["country="],
            {"not": {"account": "id", "op": "in", "value": ["acme", "globex"]}},
            {"any": [{"account": "active", "op": "missing"}, EVENT]},
        ]
    },
    "event": {"event": "Page Viewed"},
    "event-window-props": EVENT | {"where": {"campaign": "spring", "order": 1}},
    "not-event": {"not": EVENT},
    "two-events": {"all": [EVENT, {"not": {"event": "Order Completed", "within_days": 30}}]},
    "lapsed": {"all": [TRAITS["lifetime_value>="], {"not": EVENT}]},
    "events-any-name": {"event": ["A", "B"], "within": "12w"},
    "between-window": {"event": "Email Opened", "between": ["2026-01-01", "30d ago"]},
    "count-zero": {"event": "Order Completed", "count": {"op": "=", "value": 0}},
    "count-ops": {
        "any": [{"event": "E", "count": {"op": op, "value": 2}} for op in ("!=", "<", "<=", ">")]
    },
    "filters": {
        "event": "E",
        "where": {
            "campaign": ["a", "b"],
            "total": {"op": ">=", "value": 10},
            "store": {"op": "not_in", "value": ["x"]},
            "end": {"op": "!=", "value": "y"},
        },
    },
    "sum": SUM,
    "avg-not": {"not": AVG},
    "aggregates-deep": {
        "any": [
            {"all": [SUM, TRAITS["countryin"], {"not": AVG}]},
            {"not": {"any": [EVENT, SUM | {"within": "1y"}]}},
            {"segment": "big"},
        ]
    },
    "segment-ref": {"all": [{"segment": "big"}, {"not": {"segment": "vip"}}]},
    "deep": {
        "any": [
            {"all": [TRAITS["age>="], TRAITS["countryin"], {"not": TRAITS["vip="]}]},
            {"not": {"any": [EVENT, TRAITS["ageexists"], TRAITS["endbetween"]]}},
            TRAITS["agenot_in"],
        ]
    },
}


@pytest.fixture(scope="module")
def results() -> dict[str, LintResult]:
    statements = []
    for case, where in CASES.items():
        for dialect in (NEO4J, LADYBUG):
            query = compile_segment(
                parse_segment({"name": "s", "where": where}, source=case),
                dialect=dialect,
                as_of_ms=1_780_000_000_000,
                customer_properties=PROPS,
                resolve=SAVED.get,
            )
            statements.append((f"{case}/{dialect.engine}", query.cypher, list(query.params)))
    return {result.name: result for result in lint(statements)}


@pytest.mark.parametrize("engine", ["neo4j", "ladybug"])
@pytest.mark.parametrize("case", list(CASES))
def test_compiled_segment_lints_clean(
    case: str, engine: str, results: dict[str, LintResult]
) -> None:
    result = results[f"{case}/{engine}"]
    assert result.ok, "\n".join(map(str, result.errors))
    assert not result.warnings, "\n".join(map(str, result.warnings))
