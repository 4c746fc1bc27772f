"""What a segment looks like and how it performs: the figures behind `segment stats`.

Membership comes from the last run (the `IN_SEGMENT` edges), so the figures describe the same
people a channel received. Distributions and conversions are computed in Python from one read
of the customers and one of the events involved; both grow with the store, not with the number
of segments.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict

from idgraph.errors import SegmentDefinitionError
from idgraph.segment.saved import (
    SegmentRunSummary,
    get_segment,
    list_segments,
    segment_history,
)
from idgraph.store.base import GraphStore
from idgraph.store.queries import READS

__all__ = [
    "Conversion",
    "NumberSummary",
    "Overlap",
    "SegmentStats",
    "ValueCount",
    "conversion",
    "customers_table",
    "member_ids",
    "segment_stats",
    "trait_summary",
]

DAY_MS = 86_400_000
#: Bookkeeping properties of `Customer` that say nothing about the person.
_NOT_TRAITS = frozenset({"id", "updated_ts", "flag_reason", "email", "phone", "street"})
_TOP_VALUES = 8


class ValueCount(BaseModel):
    model_config = ConfigDict(frozen=True)

    value: str | int | float | bool
    count: int
    share: float


class NumberSummary(BaseModel):
    """Spread of a numeric trait over the customers that have it."""

    model_config = ConfigDict(frozen=True)

    count: int
    mean: float
    minimum: float
    median: float
    maximum: float


class TraitSummary(BaseModel):
    """One trait over a group of customers: how many have it, and its values."""

    model_config = ConfigDict(frozen=True)

    trait: str
    present: int
    numbers: NumberSummary | None = None
    values: list[ValueCount] = []


class Overlap(BaseModel):
    """How much a segment shares with another saved segment (as of both last runs)."""

    model_config = ConfigDict(frozen=True)

    segment: str
    both: int
    jaccard: float


class Conversion(BaseModel):
    """Exposed customers who converted within the window, inside the segment and outside."""

    model_config = ConfigDict(frozen=True)

    exposure: str
    conversion: str
    within_days: int
    members_exposed: int
    members_converted: int
    members_rate: float | None
    others_exposed: int
    others_converted: int
    others_rate: float | None
    lift: float | None


class SegmentStats(BaseModel):
    """Size, share, trait distributions, history and overlaps of one saved segment."""

    model_config = ConfigDict(frozen=True)

    name: str
    size: int
    customers: int
    share: float
    last_run_ts: int | None
    traits: list[TraitSummary]
    history: list[SegmentRunSummary]
    overlaps: list[Overlap]
    conversion: Conversion | None = None


def member_ids(store: GraphStore, name: str) -> set[str]:
    """The customers of a saved segment as of its last run."""
    rows = store.query("segment_member_ids", READS["segment_member_ids"], {"name": name})
    return {row["id"] for row in rows}


def customers_table(store: GraphStore) -> dict[str, dict[str, Any]]:
    """Every customer's properties, by id (nulls dropped)."""
    rows = store.query("all_customers", READS["all_customers"])
    return {
        row["customer"]["id"]: {k: v for k, v in row["customer"].items() if v is not None}
        for row in rows
    }


def trait_summary(
    customers: Iterable[Mapping[str, Any]], traits: Sequence[str]
) -> list[TraitSummary]:
    """Numbers get mean/min/median/max; text and true/false their most common values."""
    group = list(customers)
    summaries = []
    for trait in traits:
        values = [c[trait] for c in group if c.get(trait) is not None]
        numbers = [
            float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)
        ]
        if values and len(numbers) == len(values):
            summaries.append(
                TraitSummary(
                    trait=trait,
                    present=len(values),
                    numbers=NumberSummary(
                        count=len(numbers),
                        mean=statistics.fmean(numbers),
                        minimum=min(numbers),
                        median=statistics.median(numbers),
                        maximum=max(numbers),
                    ),
                )
            )
            continue
        counts = Counter(str(v) if not isinstance(v, bool | int | float) else v for v in values)
        top = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))[:_TOP_VALUES]
        summaries.append(
            TraitSummary(
                trait=trait,
                present=len(values),
                values=[
                    ValueCount(value=v, count=n, share=n / len(values) if values else 0.0)
                    for v, n in top
                ],
            )
        )
    return summaries


def default_traits(customers: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Traits worth summarising: every property some customer has, minus contact details."""
    names = {k for c in customers.values() for k in c}
    return sorted(names - _NOT_TRAITS)


def conversion(
    store: GraphStore,
    members: set[str],
    *,
    exposure: str,
    converted_by: str,
    within_days: int,
    as_of_ms: int,
    exposure_where: Mapping[str, str] | None = None,
) -> Conversion:
    """Share of customers who had `exposure` and then `converted_by` within `within_days`.

    A customer counts as exposed once, however many exposures; converted when any conversion
    event falls in `[exposure, exposure + window]` for any of their exposures.
    `exposure_where` keeps only exposures whose properties have those values (compared as
    text), e.g. `{"campaign": "spring_newsletter_2026"}` for one campaign.
    """
    if within_days < 1:
        raise SegmentDefinitionError("--within must be at least 1 day")
    rows = store.query(
        "customer_events_by_name",
        READS["customer_events_by_name"],
        {"names": sorted({exposure, converted_by}), "as_of": as_of_ms},
    )
    exposures: dict[str, list[int]] = {}
    conversions: dict[str, list[int]] = {}
    wanted = dict(exposure_where or {})
    for row in rows:
        if row["name"] == exposure and _has(row["properties"], wanted):
            exposures.setdefault(row["customer"], []).append(row["ts"])
        if row["name"] == converted_by:
            conversions.setdefault(row["customer"], []).append(row["ts"])
    window = within_days * DAY_MS
    converted = {
        customer
        for customer, starts in exposures.items()
        if any(s <= t <= s + window for s in starts for t in conversions.get(customer, ()))
    }
    inside = [c for c in exposures if c in members]
    outside = [c for c in exposures if c not in members]
    in_conv = sum(1 for c in inside if c in converted)
    out_conv = sum(1 for c in outside if c in converted)
    in_rate = in_conv / len(inside) if inside else None
    out_rate = out_conv / len(outside) if outside else None
    lift = in_rate / out_rate if in_rate is not None and out_rate else None
    label = exposure + "".join(f" [{k}={v}]" for k, v in sorted(wanted.items()))
    return Conversion(
        exposure=label,
        conversion=converted_by,
        within_days=within_days,
        members_exposed=len(inside),
        members_converted=in_conv,
        members_rate=in_rate,
        others_exposed=len(outside),
        others_converted=out_conv,
        others_rate=out_rate,
        lift=lift,
    )


def _has(properties: str | None, wanted: Mapping[str, str]) -> bool:
    if not wanted:
        return True
    values = orjson.loads(properties) if properties else {}
    return all(k in values and str(values[k]) == v for k, v in wanted.items())


def segment_stats(
    store: GraphStore,
    name: str,
    *,
    traits: Sequence[str] | None = None,
    exposure: str | None = None,
    converted_by: str | None = None,
    within_days: int = 7,
    exposure_where: Mapping[str, str] | None = None,
    as_of_ms: int,
) -> SegmentStats:
    """Everything `idgraph segment stats` prints, for one saved segment.

    Raises:
        NotFoundError: no segment of that name is saved.
        SegmentDefinitionError: a trait asked for is not a customer property, or only one of
            `exposure` / `converted_by` is given.
    """
    saved = get_segment(store, name)
    members = member_ids(store, name)
    table = customers_table(store)
    known = default_traits(table)
    chosen = list(traits) if traits else known
    unknown = [t for t in chosen if t not in known]
    if unknown:
        raise SegmentDefinitionError(
            f"unknown trait(s) {', '.join(unknown)}; known: {', '.join(known)}"
        )
    overlaps = []
    for other in list_segments(store):
        if other.name == name:
            continue
        theirs = member_ids(store, other.name)
        union = members | theirs
        both = len(members & theirs)
        overlaps.append(
            Overlap(segment=other.name, both=both, jaccard=both / len(union) if union else 0.0)
        )
    if (exposure is None) != (converted_by is None):
        raise SegmentDefinitionError("give both the exposure event and the conversion event")
    performance = None
    if exposure is not None and converted_by is not None:
        performance = conversion(
            store,
            members,
            exposure=exposure,
            converted_by=converted_by,
            within_days=within_days,
            as_of_ms=as_of_ms,
            exposure_where=exposure_where,
        )
    return SegmentStats(
        name=name,
        size=len(members),
        customers=len(table),
        share=len(members) / len(table) if table else 0.0,
        last_run_ts=saved.last_run_ts,
        traits=trait_summary([table[c] for c in sorted(members) if c in table], chosen),
        history=segment_history(store, name),
        overlaps=sorted(overlaps, key=lambda o: (-o.jaccard, o.segment)),
        conversion=performance,
    )
