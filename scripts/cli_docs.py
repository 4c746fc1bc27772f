"""Write docs/cli.md from the CLI's own --help texts, so the reference never drifts.

Run `make docs` after changing a command; tests/test_docs.py fails when the file is stale.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from typer.testing import CliRunner

from idgraph.cli import app

COMMANDS = [
    ["ingest"],
    ["resolve"],
    ["load"],
    ["segment", "save"],
    ["segment", "list"],
    ["segment", "show"],
    ["segment", "run"],
    ["segment", "preview"],
    ["segment", "explain"],
    ["segment", "stats"],
    ["segment", "changes"],
    ["segment", "discover"],
    ["segment", "delete"],
    ["persona", "list"],
    ["persona", "show"],
    ["profile"],
    ["history"],
    ["stats"],
    ["export", "clusters"],
    ["export", "neo4j-import"],
    ["explain"],
    ["review"],
    ["report"],
    ["link"],
    ["split"],
    ["unsplit"],
    ["forget"],
    ["mapping", "init"],
    ["cypher"],
    ["schema", "apply"],
    ["schema", "show"],
    ["serve"],
    ["deliver"],
    ["deliver", "status"],
]
TARGET = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def render() -> str:
    os.environ["COLUMNS"] = "100"
    os.environ["TERM"] = "dumb"
    os.environ["NO_COLOR"] = "1"
    runner = CliRunner()
    parts = [
        "# CLI reference\n\n",
        "Generated from `--help` by `scripts/cli_docs.py` (`make docs`); do not edit by hand.\n",
    ]
    for command in [[], *COMMANDS]:
        result = runner.invoke(app, [*command, "--help"], prog_name="idgraph", color=False)
        title = " ".join(["idgraph", *command])
        parts.append(f"\n## {title}\n\n```text\n{result.stdout.rstrip()}\n```\n")
    return "".join(parts)


if __name__ == "__main__":
    text = render()
    if "--check" in sys.argv:
        sys.exit(0 if TARGET.read_text(encoding="utf-8") == text else 1)
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
