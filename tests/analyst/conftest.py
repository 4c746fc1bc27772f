"""Helpers to drive `idgraph cypher` the way a user does, on a real embedded store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from idgraph.cli import app
from idgraph.pipeline import IngestReport

runner = CliRunner()


def cypher(store: Path, query: str, *params: str, expect: int = 0) -> Any:
    """Run `idgraph cypher QUERY --param ... --format json` and return the parsed rows."""
    args = ["cypher", query, "--store", str(store), "--format", "json"]
    for param in params:
        args += ["--param", param]
    result = runner.invoke(app, args)
    assert result.exit_code == expect, result.output
    return orjson.loads(result.stdout) if expect == 0 else result.stderr


def customer_of_record(store: Path) -> dict[str, str]:
    rows = cypher(
        store,
        "MATCH (c:Customer)-[:HAS_RECORD]->(r:Record) RETURN r.key AS record, c.id AS customer",
    )
    return {row["record"]: row["customer"] for row in rows}


@pytest.fixture(scope="session")
def store(fixture_store: tuple[Path, IngestReport]) -> Path:
    return fixture_store[0]


@pytest.fixture(scope="session")
def customers(store: Path) -> dict[str, str]:
    """Record key -> customer id, as stored."""
    return customer_of_record(store)
