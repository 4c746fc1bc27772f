"""What a candidate edge is: its columns and its class, shared by every matcher and clustering."""

from __future__ import annotations

import polars as pl

__all__ = ["EDGE_COLUMNS", "FUZZY", "IDENTIFIER", "LINK"]

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
