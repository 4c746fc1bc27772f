"""Micro-segments: the non-empty cross-cells of a few customer dimensions.

Marketers ask "which country × age band × lifecycle stage groups are big enough to target?".
Each cell is a group of customers sharing one value per dimension (a missing value is a value
of its own); cells under a minimum size are dropped. Every cell comes with a segment definition
that selects exactly its customers, so it can be saved and run like any other segment.
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from idgraph.errors import SegmentDefinitionError
from idgraph.segment.analytics import customers_table, default_traits
from idgraph.segment.definition import SegmentDefinition, parse_segment
from idgraph.store.base import GraphStore

__all__ = ["KEY_METRICS", "Cell", "default_metrics", "discover"]

Value = str | int | float | bool | None
_MAX_NAME = 63
#: Figures a marketer reads first, when the store has them (the default metrics).
KEY_METRICS = (
    "age",
    "order_count",
    "total_spent",
    "average_order_value",
    "days_since_last_order",
    "lifetime_value",
)


def default_metrics(numeric: Sequence[str], by: Sequence[str]) -> list[str]:
    """The key figures present among the numeric traits, or the first four numeric traits
    that are not timestamps or bookkeeping when none of them is."""
    present = [m for m in KEY_METRICS if m in numeric and m not in by]
    if present:
        return present
    plain = [t for t in numeric if not t.endswith("_ts") and t != "record_count" and t not in by]
    return plain[:4]


class Cell(BaseModel):
    """One cross-cell: its dimension values, size, key figures and a definition selecting it."""

    model_config = ConfigDict(frozen=True)

    values: dict[str, Value]
    size: int
    share: float
    figures: dict[str, float | None]
    definition: SegmentDefinition


def discover(
    store: GraphStore,
    by: Sequence[str],
    *,
    min_size: int = 1,
    metrics: Sequence[str] | None = None,
) -> list[Cell]:
    """The cells of `by` holding at least `min_size` customers, largest first.

    Args:
        store: Any open store.
        by: Customer properties (traits) to cross, e.g. country, age_band, lifecycle_stage.
        min_size: Smallest cell worth listing.
        metrics: Numeric traits to average per cell; default `default_metrics`.

    Raises:
        SegmentDefinitionError: a dimension or metric is not a customer property, or `by` is
            empty or repeats a name.
    """
    if not by or len(set(by)) != len(by):
        raise SegmentDefinitionError("--by needs one or more distinct trait names")
    if min_size < 1:
        raise SegmentDefinitionError("--min-size must be at least 1")
    table = customers_table(store)
    known = default_traits(table)
    numeric = [t for t in known if _numeric(table.values(), t)]
    chosen = list(metrics) if metrics is not None else default_metrics(numeric, by)
    unknown = [t for t in [*by, *chosen] if t not in known]
    if unknown:
        raise SegmentDefinitionError(
            f"unknown trait(s) {', '.join(unknown)}; known: {', '.join(known)}"
        )
    not_numbers = [t for t in chosen if t not in numeric]
    if not_numbers:
        raise SegmentDefinitionError(f"metric(s) {', '.join(not_numbers)} are not numbers")
    groups: dict[tuple[Value, ...], list[dict[str, Any]]] = defaultdict(list)
    for customer in table.values():
        groups[tuple(customer.get(d) for d in by)].append(customer)
    cells = []
    for key, members in groups.items():
        if len(members) < min_size:
            continue
        values = dict(zip(by, key, strict=True))
        figures = {}
        for metric in chosen:
            found = [float(m[metric]) for m in members if m.get(metric) is not None]
            figures[metric] = statistics.fmean(found) if found else None
        cells.append(
            Cell(
                values=values,
                size=len(members),
                share=len(members) / len(table),
                figures=figures,
                definition=_definition(values),
            )
        )
    return sorted(cells, key=lambda c: (-c.size, [str(v) for v in c.values.values()]))


def _numeric(customers: Any, trait: str) -> bool:
    values = [c[trait] for c in customers if c.get(trait) is not None]
    return bool(values) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    )


def _definition(values: dict[str, Value]) -> SegmentDefinition:
    conditions: list[dict[str, Any]] = []
    for trait, value in values.items():
        if value is None:
            conditions.append({"trait": trait, "op": "missing"})
        else:
            conditions.append({"trait": trait, "op": "=", "value": value})
    label = ", ".join(f"{k}={'(missing)' if v is None else v}" for k, v in values.items())
    data = {
        "name": _name(values),
        "description": f"micro-segment {label}",
        "where": {"all": conditions},
    }
    return parse_segment(data, source=f"micro-segment {label}")


def _name(values: dict[str, Value]) -> str:
    parts = ["missing" if v is None else str(v) for v in values.values()]
    slug = re.sub(r"[^a-z0-9]+", "_", "_".join(parts).lower()).strip("_")
    return ("cell_" + slug)[:_MAX_NAME].rstrip("_")
