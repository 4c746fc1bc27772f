"""Run a segment on a graph store and return its members."""

from __future__ import annotations

import datetime as dt
import logging

from pydantic import BaseModel, ConfigDict

from idgraph.models import CustomerSummary
from idgraph.segment.compile import compile_segment
from idgraph.segment.definition import SegmentDefinition
from idgraph.store.base import GraphStore, Row

__all__ = ["SegmentResult", "run_segment"]

logger = logging.getLogger(__name__)


class SegmentResult(BaseModel):
    """Who is in a segment at one instant.

    `members` are ordered by customer id, so two runs can be compared line by line.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    count: int
    members: list[CustomerSummary]
    as_of: dt.datetime


def run_segment(store: GraphStore, defn: SegmentDefinition, *, as_of_ms: int) -> SegmentResult:
    """Compile a definition for the store's engine, run it, and collect the members.

    Args:
        store: Any open graph store.
        defn: The validated definition.
        as_of_ms: The instant to evaluate at (epoch ms); see `compile_segment`.

    Returns:
        The members and their count.

    Raises:
        SegmentDefinitionError: If the definition names a trait the store does not hold, or
            compares one with a value of the wrong type.
        StoreQueryError: If the engine rejects the query.
    """
    compiled = compile_segment(
        defn,
        dialect=store.dialect,
        as_of_ms=as_of_ms,
        customer_properties=store.customer_properties(),
    )
    rows = store.query(compiled.name, compiled.cypher, compiled.params)
    members = [_summary(row) for row in rows]
    logger.debug("segment %s: %d members", defn.name, len(members))
    return SegmentResult(
        name=defn.name,
        count=len(members),
        members=members,
        as_of=dt.datetime.fromtimestamp(as_of_ms / 1000, tz=dt.UTC),
    )


def _summary(row: Row) -> CustomerSummary:
    return CustomerSummary(
        id=row["customer_id"],
        email=row.get("email"),
        first_name=row.get("first_name"),
        last_name=row.get("last_name"),
        country=row.get("country"),
        record_count=row.get("record_count") or 0,
    )
