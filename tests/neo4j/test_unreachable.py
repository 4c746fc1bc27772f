"""No server at the URL: one line that says how to start Neo4j, exit code 3.

Needs no Neo4j, so it runs in the default suite: nothing listens on a port just freed.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from idgraph.cli import app
from tests.conftest import FIXTURE_INPUTS

runner = CliRunner()
COMMANDS = [["stats"], ["schema", "apply"], ["cypher", "RETURN 1 AS one"], ["ingest"]]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.parametrize("scheme", ["bolt", "neo4j"])
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_unreachable_server(scheme: str, command: list[str], tmp_path: Path) -> None:
    url = f"{scheme}://127.0.0.1:{_free_port()}"
    args = [*command, "--store", url]
    if command == ["ingest"]:
        args += [str(FIXTURE_INPUTS[0]), "--rejects", str(tmp_path / "rejects.jsonl")]
    result = runner.invoke(app, args, env={"NEO4J_AUTH": "neo4j/any-password-at-all"})
    assert result.exit_code == 3, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert url in lines[0] and "docker compose up" in lines[0]
    assert "any-password-at-all" not in result.output


@pytest.mark.parametrize("scheme", ["bolt", "neo4j"])
def test_unreachable_server_in_a_real_shell(scheme: str) -> None:
    """As a user sees it: pytest's log capture would hide a stray line from the driver."""
    url = f"{scheme}://127.0.0.1:{_free_port()}"
    env = {**os.environ, "NEO4J_AUTH": "neo4j/any-password-at-all"}
    run = subprocess.run(
        [sys.executable, "-m", "idgraph", "stats", "--store", url],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert run.returncode == 3, run.stderr
    assert run.stdout == ""
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    assert url in lines[0] and "docker compose up" in lines[0]
