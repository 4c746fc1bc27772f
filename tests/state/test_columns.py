"""The mirror knows every trait column the store has, whatever runs made them, so a run that
types traits from it types them as the store does."""

from __future__ import annotations

from pathlib import Path

from idgraph.normalize.record import NormalizeOptions
from idgraph.pipeline import run_ingest
from idgraph.settings import open_store
from idgraph.state.mirror import Mirror
from tests.conftest import FIXTURE_INPUTS


def _columns(store: Path) -> tuple[dict[str, str], dict[str, str]]:
    mirror = Mirror.open(Path(f"{store}.state"))
    assert mirror is not None
    return dict(mirror.customer_columns), dict(mirror.event_columns)


def _stored(store: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The columns the store itself has (what a mirror rebuilt from it would hold)."""
    with open_store(store, read_only=True) as graph:
        return dict(graph.columns("Customer")), dict(graph.columns("Event"))


def test_columns_survive_incremental_and_full_runs(tmp_path: Path) -> None:
    store = tmp_path / "idgraph.db"
    options = NormalizeOptions(default_region="IT")
    first, *rest = FIXTURE_INPUTS
    run_ingest([first], store=store, options=options, rejects_path=tmp_path / "r.jsonl")
    run_ingest(rest, store=store, options=options, rejects_path=tmp_path / "r.jsonl")
    customer, event = _columns(store)
    assert "total_spent" in customer and "loyalty_tier" in customer
    assert event
    run_ingest([], store=store, full=True)
    assert _columns(store) == (customer, event)
    want_customer, want_event = _stored(store)
    assert customer.items() <= want_customer.items()
    assert event.items() <= want_event.items()
