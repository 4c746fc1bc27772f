"""The public surface stays small, and importing the query module stays light."""

from __future__ import annotations

import subprocess
import sys

import idgraph
import idgraph.query


def test_all_matches_real_exports() -> None:
    for module in (idgraph, idgraph.query):
        for name in module.__all__:
            assert getattr(module, name) is not None, name
    assert sorted(idgraph.__all__) == idgraph.__all__ or set(idgraph.__all__)


def test_query_import_leaves_cli_and_drivers_out() -> None:
    code = (
        "import sys, idgraph.query; "
        "print(','.join(m for m in ('typer', 'rich', 'neo4j', 'click') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
