"""A fixture store with a saved segment of every customer, run once: its changes wait in the
outbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from idgraph.segment.definition import parse_segment
from idgraph.segment.saved import run_saved_segment, save_segment
from idgraph.settings import open_store
from tests.conftest import AS_OF, as_of_ms

SECRET = "s3cret-for-tests"


@pytest.fixture
def ran_store(fixture_store_copy: Path) -> tuple[Path, int]:
    """(store path, number of customers entered)."""
    path = fixture_store_copy
    defn = parse_segment(
        {"name": "everyone", "where": {"trait": "record_count", "op": ">=", "value": 1}},
        source="-",
    )
    with open_store(path) as graph:
        save_segment(graph, defn)
        report = run_saved_segment(graph, "everyone", as_of_ms=as_of_ms(AS_OF))
    return path, len(report.entered)


def write_config(folder: Path, text: str) -> Path:
    path = folder / "destinations.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def webhook_yaml(url: str, **settings: object) -> str:
    extra = "".join(f"    {k}: {v}\n" for k, v in settings.items())
    return (
        "destinations:\n"
        "  - name: crm_hook\n"
        "    kind: webhook\n"
        f"    url: {url}\n"
        "    secret_env: CRM_HOOK_SECRET\n"
        "    segments: [everyone]\n"
        "    traits: [email, country]\n" + extra
    )
