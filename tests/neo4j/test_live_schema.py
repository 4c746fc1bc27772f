"""`idgraph schema apply` on a live Neo4j, and the refusal to ingest before it has run."""

from __future__ import annotations

from pathlib import Path

import pytest

from idgraph.errors import StoreUnavailable
from tests.conftest import FIXTURE_INPUTS
from tests.neo4j.conftest import (
    census,
    cli,
    drop_schema,
    existing_schema,
    ingest,
    live_store,
    schema_names,
    wipe,
)

pytestmark = pytest.mark.neo4j


def test_schema_apply_creates_everything_and_can_run_again(neo4j_url: str) -> None:
    wipe(neo4j_url)
    drop_schema(neo4j_url)
    assert not set(schema_names("CONSTRAINT")) & existing_schema(neo4j_url, "CONSTRAINTS")
    for attempt in (1, 2):
        result = cli("schema", "apply", "--store", neo4j_url)
        assert result.exit_code == 0, f"attempt {attempt}: {result.output}"
        assert "Traceback" not in result.output
    assert set(schema_names("CONSTRAINT")) <= existing_schema(neo4j_url, "CONSTRAINTS")
    assert set(schema_names("INDEX")) <= existing_schema(neo4j_url, "INDEXES")


@pytest.mark.parametrize("via", ["cli", "python"])
def test_ingest_refuses_until_schema_apply(neo4j_url: str, tmp_path: Path, via: str) -> None:
    wipe(neo4j_url)
    drop_schema(neo4j_url, kinds=("CONSTRAINT",))
    try:
        if via == "cli":
            args = [*map(str, FIXTURE_INPUTS), "--default-region", "IT"]
            rejects = str(tmp_path / "rejects.jsonl")
            result = cli("ingest", *args, "--store", neo4j_url, "--rejects", rejects)
            assert result.exit_code == 3, result.output
            message = result.output
            assert "Traceback" not in message
            assert len([line for line in message.splitlines() if line.strip()]) == 1, message
        else:
            with pytest.raises(StoreUnavailable) as caught:
                ingest(neo4j_url, tmp_path)
            message = str(caught.value)
        assert "idgraph schema apply" in message
        with live_store(neo4j_url) as store:
            assert census(store)["total"] == 1, "nothing may be written before the check"
    finally:
        assert cli("schema", "apply", "--store", neo4j_url).exit_code == 0
