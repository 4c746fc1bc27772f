"""A live Neo4j that refuses the login or lacks the database: one line saying what to do, exit 3."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from idgraph.cli import app
from idgraph.store.neo4j import auth_from_env

pytestmark = pytest.mark.neo4j

runner = CliRunner()


def _lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


@pytest.mark.parametrize("command", [["stats"], ["schema", "apply"]], ids=" ".join)
def test_wrong_password(neo4j_url: str, command: list[str]) -> None:
    auth = auth_from_env()
    if auth is None:
        pytest.skip("the server runs without authentication, so no password is wrong")
    wrong = f"{auth[1]}-but-wrong"
    env = {"NEO4J_AUTH": f"{auth[0]}/{wrong}", "NEO4J_USER": None, "NEO4J_PASSWORD": None}
    result = runner.invoke(app, [*command, "--store", neo4j_url], env=env)
    assert result.exit_code == 3, result.output
    assert len(_lines(result.output)) == 1, result.output
    assert "NEO4J_AUTH" in result.output
    assert wrong not in result.output


@pytest.mark.parametrize(
    "command", [["cypher", "RETURN 1 AS one"], ["schema", "apply"]], ids=lambda c: c[0]
)
def test_unknown_database(neo4j_url: str, command: list[str]) -> None:
    args = [*command, "--store", neo4j_url, "--database", "idgraph-no-such-database"]
    result = runner.invoke(app, args)
    assert result.exit_code == 3, result.output
    assert len(_lines(result.output)) == 1, result.output
    assert "idgraph-no-such-database" in result.output and "--database" in result.output
