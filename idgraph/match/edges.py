"""What a candidate edge is: its columns and its class, shared by every matcher and clustering."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from idgraph.models import MatchEvidence

__all__ = ["EDGE_COLUMNS", "FUZZY", "IDENTIFIER", "LINK", "evidence_objects"]

#: Kinds of edge, in the order their edges are applied.
LINK, IDENTIFIER, FUZZY = 0, 1, 2

#: Columns of `Evidence.edges`: record positions, what joined them, and the edge's class.
EDGE_COLUMNS = {
    "a": pl.UInt32,
    "b": pl.UInt32,
    "rule": pl.Utf8,
    "fields": pl.Utf8,
    "score": pl.Float64,
    "class": pl.Int8,
}


def evidence_objects(
    keys: pl.Series, edges: pl.DataFrame, rows: Sequence[int] | None = None
) -> list[MatchEvidence]:
    """The edges at `rows` (all when None) as `MatchEvidence`, their ends as record keys."""
    chosen = edges if rows is None else edges[list(rows)]
    if chosen.height == 0:
        return []
    a = keys.gather(chosen["a"]).to_list()
    b = keys.gather(chosen["b"]).to_list()
    return [
        MatchEvidence(x, y, rule, tuple(fields.split(",")), score)
        for x, y, rule, fields, score in zip(
            a,
            b,
            chosen["rule"].to_list(),
            chosen["fields"].to_list(),
            chosen["score"].to_list(),
            strict=True,
        )
    ]
