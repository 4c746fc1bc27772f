"""Run a segment on a graph store and return its members, or show the query it compiles to."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from idgraph.models import CustomerSummary
from idgraph.segment.compile import ANY_TRAITS, CompiledQuery, Resolver, compile_segment
from idgraph.segment.definition import SEGMENT_NAME_PATTERN, SegmentDefinition, load_segment
from idgraph.store.base import GraphStore, Row
from idgraph.store.dialect import LADYBUG, Dialect

__all__ = [
    "SegmentResult",
    "SegmentSize",
    "explain_segment",
    "folder_resolver",
    "run_segment",
    "segment_size",
    "size_query",
]

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


def run_segment(
    store: GraphStore,
    defn: SegmentDefinition,
    *,
    as_of_ms: int,
    resolve: Resolver | None = None,
    customer_ids: Sequence[str] | None = None,
) -> SegmentResult:
    """Compile a definition for the store's engine, run it, and collect the members.

    Args:
        store: Any open graph store.
        defn: The validated definition.
        as_of_ms: The instant to evaluate at (epoch ms); see `compile_segment`.
        resolve: Finds saved segments by name, for `segment:` conditions.
        customer_ids: Test only these customers (those an ingest touched); default all.

    Returns:
        The members and their count.

    Raises:
        SegmentDefinitionError: If the definition names a trait the store does not hold,
            compares one with a value of the wrong type, or references an unknown segment or
            itself.
        StoreQueryError: If the engine rejects the query.
    """
    if customer_ids is None:
        compiled = explain_segment(store, defn, as_of_ms=as_of_ms, resolve=resolve)
        rows = store.query(compiled.name, compiled.cypher, compiled.params)
    else:
        compiled = compile_segment(
            defn,
            dialect=store.dialect,
            as_of_ms=as_of_ms,
            customer_properties=store.customer_properties(),
            resolve=resolve,
            among_ids=True,
            account_properties=store.account_properties(),
        )
        rows = []
        ordered = sorted(set(customer_ids))
        for start in range(0, len(ordered), 5000):
            params = {**compiled.params, "customer_ids": ordered[start : start + 5000]}
            rows.extend(store.query(compiled.name, compiled.cypher, params))
    members = [_summary(row) for row in rows]
    logger.debug("segment %s: %d members", defn.name, len(members))
    return SegmentResult(
        name=defn.name,
        count=len(members),
        members=members,
        as_of=dt.datetime.fromtimestamp(as_of_ms / 1000, tz=dt.UTC),
    )


class SegmentSize(BaseModel):
    """How many customers a definition holds now, and the ids of the first few (by id)."""

    model_config = ConfigDict(frozen=True)

    count: int
    sample: list[str]


def segment_size(
    store: GraphStore,
    defn: SegmentDefinition,
    *,
    as_of_ms: int,
    resolve: Resolver | None = None,
    sample: int = 20,
) -> SegmentSize:
    """Count a definition's members without fetching them (a segment builder's live size).

    The member query's `RETURN` becomes a count and a list of ids, which the engine builds
    far faster than it returns one row per member (57k members: 30 ms against 660 ms on a
    100k-customer store).

    Raises:
        SegmentDefinitionError: As `run_segment`.
    """
    compiled = size_query(explain_segment(store, defn, as_of_ms=as_of_ms, resolve=resolve))
    row = store.query(compiled.name, compiled.cypher, compiled.params)[0]
    return SegmentSize(count=int(row["n"]), sample=sorted(row["ids"])[:sample])


def size_query(compiled: CompiledQuery) -> CompiledQuery:
    """The member query with its `RETURN` swapped for `count(c) AS n, collect(c.id) AS ids`.

    Raises:
        ValueError: `compiled` is not a member query from `compile_segment`.
    """
    head, returns, _ = compiled.cypher.rpartition(" RETURN c.id AS customer_id")
    if not returns:
        raise ValueError(f"{compiled.name} does not end with a segment's member RETURN")
    cypher = f"{head} RETURN count(c) AS n, collect(c.id) AS ids"
    return CompiledQuery(name=f"{compiled.name}:size", cypher=cypher, params=compiled.params)


def explain_segment(
    source: GraphStore | Mapping[str, str] | None,
    defn: SegmentDefinition,
    *,
    as_of_ms: int,
    resolve: Resolver | None = None,
    dialect: Dialect | None = None,
) -> CompiledQuery:
    """The query a definition compiles to, with its parameters, without running it.

    Args:
        source: An open store (its engine and `Customer` properties are used), the
            `Customer` properties as `GraphStore.customer_properties()` gives them, or None to
            accept every trait name without checking its type (no store at hand).
        defn: The validated definition.
        as_of_ms: The instant to evaluate at (epoch ms); see `compile_segment`.
        resolve: Finds saved segments by name, for `segment:` conditions.
        dialect: The engine to write for; default the store's, or LadybugDB's without a store.

    Returns:
        The named query: `cypher` holds no values, `params` holds them all.

    Raises:
        SegmentDefinitionError: As `compile_segment`.

    Examples:
        >>> from idgraph.segment.definition import parse_segment
        >>> defn = parse_segment(
        ...     {"name": "big", "where": {"event": "Order Completed",
        ...      "sum": {"property": "total", "op": ">=", "value": 100}}}, source="-")
        >>> q = explain_segment(None, defn, as_of_ms=0)
        >>> print(q.cypher.split(" RETURN ")[0])  # doctest: +NORMALIZE_WHITESPACE
        MATCH (c:Customer) OPTIONAL MATCH (c)-[:HAS_RECORD]->(:Record)-[:PERFORMED]->(agg0:Event)
        WHERE agg0.name = $p0 AND agg0.ts <= $p1 WITH c, sum(agg0.`total`) AS agg0_value,
        count(agg0.`total`) AS agg0_n WHERE (agg0_n > 0 AND agg0_value >= $p2)
        >>> q.params
        {'p0': 'Order Completed', 'p1': 0, 'p2': 100}
    """
    accounts: Mapping[str, str] | None = None
    if isinstance(source, GraphStore):
        properties: Mapping[str, str] = source.customer_properties()
        accounts = source.account_properties()
        dialect = dialect or source.dialect
    else:
        properties = ANY_TRAITS if source is None else source
    return compile_segment(
        defn,
        dialect=dialect or LADYBUG,
        as_of_ms=as_of_ms,
        customer_properties=properties,
        resolve=resolve,
        account_properties=accounts,
    )


def folder_resolver(folder: Path | str) -> Resolver:
    """A resolver that reads `<folder>/<name>.yaml`, for segments kept as files.

    A name that is not a valid segment name, or has no file, resolves to None (unknown).
    """
    root = Path(folder)

    def resolve(name: str) -> SegmentDefinition | None:
        path = root / f"{name}.yaml"
        if not SEGMENT_NAME_PATTERN.fullmatch(name) or not path.is_file():
            return None
        return load_segment(path)

    return resolve


def _summary(row: Row) -> CustomerSummary:
    return CustomerSummary(
        id=row["customer_id"],
        email=row.get("email"),
        first_name=row.get("first_name"),
        last_name=row.get("last_name"),
        country=row.get("country"),
        record_count=row.get("record_count") or 0,
    )
