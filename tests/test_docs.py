"""The docs follow the code: every command is in docs/cli.md, the README's commands exist."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from idgraph.cli import app
from scripts.cli_docs import COMMANDS
from tests.conftest import ROOT

CLI_DOC = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_command_documented_with_its_options(command: list[str]) -> None:
    assert f"## idgraph {' '.join(command)}\n" in CLI_DOC, "run `make docs`"
    help_text = CliRunner().invoke(app, [*command, "--help"]).stdout
    section = CLI_DOC.split(f"## idgraph {' '.join(command)}\n", 1)[1].split("\n## ", 1)[0]
    for option in set(re.findall(r"--[a-z][a-z-]+", help_text)):
        assert option in section, f"{option} of {command} missing from docs/cli.md: make docs"


def _leaf_commands(command: Any, path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Typer ships its own click, so groups are recognised by their `commands`."""
    if hasattr(command, "commands"):
        # A group that runs on its own (`idgraph deliver`) is a command too.
        found: set[tuple[str, ...]] = {path} if command.invoke_without_command else set()
        for name, sub in command.commands.items():
            found |= _leaf_commands(sub, (*path, name))
        return found
    return {path}


def test_every_registered_command_is_documented() -> None:
    registered = _leaf_commands(typer.main.get_command(app))
    assert {("ingest",), ("schema", "apply"), ("cypher",)} <= registered
    assert registered == {tuple(c) for c in COMMANDS}, "add it to scripts/cli_docs.py COMMANDS"


def test_quickstart_is_two_commands_that_exist() -> None:
    quickstart = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    block = quickstart.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line.strip() and not line.startswith("#")]
    assert len(commands) == 2
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for command in commands:
        target = command.split()[1]
        assert re.search(rf"^{target}:", makefile, re.M), target
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1].split("#")[0].strip() in ci
