"""A segment over an event name no stored event carries runs, matches nobody, and says so."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from idgraph.cli import app
from idgraph.pipeline import IngestReport
from idgraph.query import IdentityGraph

runner = CliRunner()


def _definition(tmp_path: Path, event: str) -> Path:
    path = tmp_path / "buyers.yaml"
    path.write_text(
        "name: buyers\nwhere:\n  any:\n"
        f"    - event: {event}\n      within_days: 36500\n"
        "    - not:\n        event: [Page Viewed, Email Opned]\n",
        encoding="utf-8",
    )
    return path


def test_a_misspelt_event_is_named_with_the_nearest_stored_one(
    fixture_store: tuple[Path, IngestReport], tmp_path: Path
) -> None:
    store = ["--store", str(fixture_store[0])]
    with IdentityGraph(fixture_store[0]) as graph:
        stored = set(graph.stats().events_per_name)
    assert "Order Completed" in stored and "Email Opened" in stored
    for command in (["segment", "run"], ["segment", "preview"]):
        result = runner.invoke(
            app, [*command, str(_definition(tmp_path, "Order Complete")), *store]
        )
        assert result.exit_code == 0, result.output
        warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
        assert warnings == [
            "warning: buyers: no stored event is named 'Email Opned' (did you mean 'Email "
            "Opened'?): conditions on it match nobody until such events arrive",
            "warning: buyers: no stored event is named 'Order Complete' (did you mean 'Order "
            "Completed'?): conditions on it match nobody until such events arrive",
        ]


def test_stored_event_names_raise_no_warning(
    fixture_store: tuple[Path, IngestReport], tmp_path: Path
) -> None:
    path = tmp_path / "buyers.yaml"
    path.write_text(
        "name: buyers\nwhere:\n  event: Order Completed\n  within_days: 36500\n", encoding="utf-8"
    )
    result = runner.invoke(app, ["segment", "run", str(path), "--store", str(fixture_store[0])])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr
