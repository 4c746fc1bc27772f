"""Where the mirror disagrees with the graph it caches: a check for tests and for a store by hand.

Reads the whole store; never run by an ingest.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl

from idgraph.match.config import MatchConfig
from idgraph.state.mirror import MIRROR_TABLES, Mirror
from idgraph.state.rebuild import rebuild_mirror
from idgraph.store.base import GraphStore

__all__ = ["mirror_problems"]

#: Columns compared per table (the customers' timestamps of writing are left out).
_SKIP = {"customers": {"updated_ts"}}


class _Elsewhere:
    """The same store, with its mirror rebuilt into another folder."""

    def __init__(self, graph: GraphStore, root: Path) -> None:
        self._graph = graph
        self._root = root

    def __getattr__(self, name: str) -> object:
        return getattr(self._graph, name)

    def state_dir(self) -> Path:
        return self._root


def mirror_problems(graph: GraphStore, config: MatchConfig) -> list[str]:
    """Differences between the store's mirror and one rebuilt from its graph (empty: none)."""
    current = Mirror.open(graph.state_dir())
    if current is None:
        return ["no mirror beside the store"]
    problems = []
    version = graph.state_version()
    if current.version != version:
        problems.append(f"mirror version {current.version!r}, the graph says {version!r}")
    with tempfile.TemporaryDirectory() as folder:
        fresh = rebuild_mirror(_Elsewhere(graph, Path(folder)), config, version)  # type: ignore[arg-type]
        for name, table in MIRROR_TABLES.items():
            mine, theirs = current.load(name), fresh.load(name)
            columns = [c for c in theirs.columns if c not in _SKIP.get(name, set())]
            if name == "customers":
                columns = [c for c in columns if theirs[c].null_count() < theirs.height]
                columns = [c for c in columns if c in mine.columns]
            mine = _canonical(mine.select(columns))
            theirs = _canonical(theirs.select(columns))
            if not mine.equals(theirs):
                only_mine = mine.join(theirs, on=columns, how="anti", nulls_equal=True)
                only_theirs = theirs.join(mine, on=columns, how="anti", nulls_equal=True)
                problems.append(
                    f"{name}: {only_mine.height} row(s) only in the mirror "
                    f"{only_mine.head(3).rows()}, {only_theirs.height} only in the graph "
                    f"{only_theirs.head(3).rows()}"
                )
            del table
    return problems


def _canonical(frame: pl.DataFrame) -> pl.DataFrame:
    floats = [c for c, t in frame.schema.items() if t.is_float()]
    frame = frame.with_columns([pl.col(c).round(9) for c in floats])
    return frame.sort(frame.columns, nulls_last=True)
