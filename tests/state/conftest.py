"""Fixtures of the mirror's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from idgraph.match.config import load_match_config
from idgraph.normalize.record import NormalizeOptions
from idgraph.pipeline import run_ingest
from idgraph.settings import open_store
from idgraph.state.cache import forget_mirrors, keep_mirror_in_memory, mirror_in_memory
from idgraph.state.rebuild import warm_mirror
from tests.conftest import AS_OF, FIXTURE_INPUTS, as_of_ms


@pytest.fixture
def in_memory() -> Iterator[None]:
    """This process keeps the mirror in memory, as the service does, for one test."""
    was = mirror_in_memory()
    keep_mirror_in_memory(True)
    forget_mirrors()
    yield
    keep_mirror_in_memory(was)
    forget_mirrors()


def ingest_file(store: Path, path: Path) -> None:
    """One ingest of one fixture file, the way the mirror tests run them."""
    run_ingest(
        [path],
        store=store,
        options=NormalizeOptions(default_region="IT"),
        rejects_path=store.parent / "rejects.jsonl",
        as_of_ms=as_of_ms(AS_OF),
    )


def warmed_before_email(store: Path) -> Path:
    """The fixtures but the email file ingested, and their mirror read into memory as a
    service starting on the store reads it; returns the email file, the next run's input."""
    crm, pos, web, email = FIXTURE_INPUTS
    for path in (crm, pos, web):
        ingest_file(store, path)
    forget_mirrors()
    with open_store(store) as graph:
        warm_mirror(graph, load_match_config(None))
    return email
