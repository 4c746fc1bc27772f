"""The live tests' own Cypher (census, claim, wipe, schema checks) passes Neo4j's linter.

Runs by default: the statements that guard a real database must be valid before anyone points
the live tests at one.
"""

from __future__ import annotations

import pytest

from idgraph.store.schema import PRIMARY_KEYS
from tests import cypherlint
from tests.neo4j.conftest import drop_statements, harness_statements, schema_names

STATEMENTS = harness_statements()


@pytest.fixture(scope="module")
def results() -> dict[str, cypherlint.LintResult]:
    """All of them in one linter run (Node starts once)."""
    return {result.name: result for result in cypherlint.lint(STATEMENTS)}


def test_drops_cover_the_schema_file() -> None:
    assert len(drop_statements()) == len(schema_names("CONSTRAINT")) + len(schema_names("INDEX"))
    assert len(drop_statements(("CONSTRAINT",))) == len(schema_names("CONSTRAINT"))
    assert len(schema_names("CONSTRAINT")) == len(PRIMARY_KEYS), "one per MERGE key"
    assert schema_names("INDEX")


@pytest.mark.parametrize("name", [name for name, _, _ in STATEMENTS])
def test_harness_statement_lints_clean(
    name: str, results: dict[str, cypherlint.LintResult]
) -> None:
    assert results[name].ok, [str(d) for d in results[name].errors]
