"""Fixtures for segment tests: a fresh real LadybugDB graph per test (see segment_graph.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from segment_graph import Graph, open_graph

from idgraph.store.ladybug import LadybugStore


@pytest.fixture
def graph(tmp_path: Path) -> Iterator[Graph]:
    """An empty database with the schema, fresh for each test."""
    yield from open_graph(tmp_path)


@pytest.fixture
def store(graph: Graph) -> LadybugStore:
    return graph.store
