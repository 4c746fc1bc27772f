"""The blocking keys two stored records share, and how many records each holds.

Blocking keys are computed from the records' fields under the match config's fuzzy rules; a
block's size comes from the resolution mirror beside the store (`idgraph.state.mirror`) when it
is there and current, and is unknown otherwise (a Neo4j store read from another machine).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from idgraph.block.keys import record_blocks
from idgraph.frames import FIELDS, IDENTIFIERS
from idgraph.match.config import MatchConfig
from idgraph.match.view import VIEW_FIELDS, match_view, with_customer_ids
from idgraph.state.mirror import Mirror
from idgraph.store.base import GraphStore

__all__ = ["shared_blocks"]


def shared_blocks(
    graph: GraphStore,
    config: MatchConfig,
    records: Mapping[str, Mapping[str, Any]],
    identifiers: Sequence[tuple[str, str, str]] = (),
) -> list[tuple[str, int | None]]:
    """(block key, size or None) of every block all of `records` (key -> fields) are in;
    `identifiers`: their (record, kind, value) identifiers."""
    frame = pl.DataFrame(
        [{"key": key, **{f: fields.get(f) for f in FIELDS}} for key, fields in records.items()],
        schema={"key": pl.Utf8, **{f: pl.Utf8 for f in FIELDS}},
    )
    held = pl.DataFrame(list(identifiers), schema=IDENTIFIERS, orient="row")
    blocks = record_blocks(match_view(with_customer_ids(frame, held), VIEW_FIELDS), config.fuzzy)
    common = (
        blocks.group_by("block")
        .agg(pl.col("record").n_unique().alias("n"))
        .filter(pl.col("n") == frame.height)["block"]
        .sort()
        .to_list()
    )
    if not common:
        return []
    mirror = Mirror.open(graph.state_dir())
    version = graph.state_version()
    if mirror is None or not version or mirror.version != version:
        return [(block, None) for block in common]
    held = mirror.where("blocks", "block", common)
    sizes = dict(held.group_by("block").agg(pl.len()).iter_rows())
    return [(block, int(sizes.get(block, 0))) for block in common]
