"""`segment_size` (the builder's live size) counts what `run_segment` returns, and its query
passes Neo4j's linter for both engines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from idgraph.pipeline import IngestReport
from idgraph.segment import compile_segment, parse_segment
from idgraph.segment.run import run_segment, segment_size, size_query
from idgraph.settings import open_store
from idgraph.store.dialect import LADYBUG, NEO4J
from tests.conftest import as_of_ms
from tests.cypherlint import lint

WHERE: dict[str, Any] = {
    "trait": {"trait": "country", "op": "=", "value": "IT"},
    "event": {"event": "Order Completed", "within_days": 365, "min_count": 1},
    "sum": {"event": "Order Completed", "sum": {"property": "total", "op": ">=", "value": 100}},
    "nested": {
        "all": [
            {"trait": "email", "op": "exists"},
            {"not": {"event": "Email Opened", "within": "90d"}},
        ]
    },
    "nobody": {"trait": "country", "op": "=", "value": "XX"},
}


@pytest.mark.parametrize("case", list(WHERE))
def test_size_and_sample_agree_with_the_members(
    case: str, fixture_store: tuple[Path, IngestReport]
) -> None:
    defn = parse_segment({"name": "probe", "where": WHERE[case]}, source="test")
    with open_store(fixture_store[0], read_only=True) as store:
        members = [m.id for m in run_segment(store, defn, as_of_ms=as_of_ms()).members]
        size = segment_size(store, defn, as_of_ms=as_of_ms(), sample=5)
    assert size.count == len(members)
    assert size.sample == sorted(members)[:5]


def test_size_query_lints_clean_on_both_engines() -> None:
    statements = []
    for case, where in WHERE.items():
        defn = parse_segment({"name": "probe", "where": where}, source="test")
        for dialect in (NEO4J, LADYBUG):
            query = size_query(
                compile_segment(
                    defn,
                    dialect=dialect,
                    as_of_ms=as_of_ms(),
                    customer_properties={"country": "string", "email": "string"},
                )
            )
            statements.append((f"{case}/{dialect.engine}", query.cypher, list(query.params)))
    failures = {r.name: r.errors for r in lint(statements) if not r.ok or r.warnings}
    assert failures == {}


def test_size_query_refuses_a_query_that_is_not_a_segment() -> None:
    from idgraph.segment.compile import CompiledQuery

    with pytest.raises(ValueError, match="member RETURN"):
        size_query(CompiledQuery(name="x", cypher="MATCH (c:Customer) RETURN c", params={}))
