"""Which identifier values name the same identity, for identity limits.

Two login ids joined by an explicit `alias` are one identity, so a limit of one user id per
customer counts them once. Values are classes of the connected components of the graph whose
nodes are the watched values and whose edges join every value of one linked record to every
value of the other.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = ["identity_classes"]


def identity_classes(
    identifiers: pl.DataFrame, links: pl.DataFrame, kinds: Iterable[str]
) -> pl.DataFrame:
    """Each (record, kind, value) of the watched kinds with a class id shared by aliased values.

    Args:
        identifiers: (record, kind, value) rows.
        links: explicit links (a, b) between record keys, both ends among the records.
        kinds: the identifier kinds an identity limit watches.

    Returns:
        Columns record, kind, value, cls (Int64); one class id space across kinds.

    Examples:
        >>> ids = pl.DataFrame({"record": ["r1", "r2", "r3"], "kind": ["user_id"] * 3,
        ...                     "value": ["u1", "u2", "u3"]})
        >>> links = pl.DataFrame({"a": ["r1"], "b": ["r2"]})
        >>> identity_classes(ids, links, ["user_id"]).sort("record")["cls"].to_list()
        [0, 0, 1]
    """
    watched = identifiers.filter(pl.col("kind").is_in(list(kinds)))
    if watched.height == 0:
        return watched.with_columns(pl.lit(0, dtype=pl.Int64).alias("cls")).head(0)
    values = watched.select("kind", "value").unique().sort("kind", "value").with_row_index("v")
    watched = watched.join(values, on=["kind", "value"], how="left")
    count = values.height
    if links.height == 0:
        return watched.rename({"v": "cls"}).with_columns(pl.col("cls").cast(pl.Int64))
    numbered = links.select("a", "b").with_row_index("link")
    ends = pl.concat(
        [
            numbered.select("link", pl.col("a").alias("record")),
            numbered.select("link", pl.col("b").alias("record")),
        ]
    )
    members = ends.join(watched.select("record", "kind", "v"), on="record").select(
        "link", "kind", "v"
    )
    # Every watched value of either end of a link joins the first of its kind there.
    firsts = members.group_by("link", "kind").agg(pl.col("v").min().alias("first"))
    edges = members.join(firsts, on=["link", "kind"]).select(
        pl.col("v").alias("va"), pl.col("first").alias("vb")
    )
    rows = edges["va"].to_numpy().astype(np.int64)
    cols = edges["vb"].to_numpy().astype(np.int64)
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(count, count))
    _, labels = connected_components(graph, directed=False)
    classes = pl.Series("cls", labels.astype(np.int64))
    return watched.with_columns(classes.gather(watched["v"]).alias("cls")).drop("v")
