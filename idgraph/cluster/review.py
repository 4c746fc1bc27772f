"""Customers a person should look at: where the evidence and the records disagree.

Resolution refuses links that break a guard, but a customer can still look wrong: records
with several dates of birth (joined by an explicit alias, or stored before a guard existed),
names that are not variants of one another, an oversized group, or an identifier it shares
with other customers that was judged too common to link. Each suspect comes with its reasons
and a score, so the worst come first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from idgraph.normalize.fields import name_key
from idgraph.normalize.nicknames import canonical_first_name
from idgraph.store.base import GraphStore
from idgraph.store.queries import READS

__all__ = ["ReviewItem", "review_customers"]

#: How much each kind of doubt weighs when ranking suspects.
_WEIGHTS = {
    "birth_dates": 5.0,
    "flagged": 4.0,
    "first_names": 2.0,
    "last_names": 1.0,
    "shared_identifier": 1.0,
}


class ReviewItem(BaseModel):
    """One suspect customer and why."""

    model_config = ConfigDict(frozen=True)

    customer_id: str
    record_count: int
    score: float
    reasons: list[str]


def review_customers(store: GraphStore, *, limit: int = 50) -> list[ReviewItem]:
    """The most doubtful customers first (ties by id), at most `limit`."""
    reasons: dict[str, list[str]] = defaultdict(list)
    scores: dict[str, float] = defaultdict(float)
    sizes: dict[str, int] = {}
    for row in store.query("review_customer_records", READS["review_customer_records"]):
        customer = row["id"]
        sizes[customer] = row["record_count"] or 0
        if row["flagged"]:
            reasons[customer].append(f"flagged: {row['flag_reason'] or 'oversized'}")
            scores[customer] += _WEIGHTS["flagged"]
        births = _distinct(row["birth_dates"])
        if len(births) > 1:
            reasons[customer].append(f"{len(births)} dates of birth: {', '.join(births)}")
            scores[customer] += _WEIGHTS["birth_dates"]
        firsts = _distinct(canonical_first_name(name_key(n)) for n in row["first_names"] if n)
        if len(firsts) > 1:
            shown = ", ".join(_distinct(row["first_names"]))
            reasons[customer].append(f"{len(firsts)} different first names: {shown}")
            scores[customer] += _WEIGHTS["first_names"]
        lasts = _distinct(name_key(n) for n in row["last_names"] if n)
        if len(lasts) > 1:
            shown = ", ".join(_distinct(row["last_names"]))
            reasons[customer].append(f"{len(lasts)} different last names: {shown}")
            scores[customer] += _WEIGHTS["last_names"]
    holders: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for row in store.query("review_shared_identifiers", READS["review_shared_identifiers"]):
        holders[(row["kind"], row["value"], row["reason"] or "")].add(row["id"])
        sizes[row["id"]] = row["record_count"] or 0
    for (kind, value, why), customers in sorted(holders.items()):
        if len(customers) < 2:
            continue
        for customer in customers:
            reasons[customer].append(
                f"shares {kind} {value} with {len(customers) - 1} other customer(s), "
                f"not linking: {why}"
            )
            scores[customer] += _WEIGHTS["shared_identifier"]
    items = [
        ReviewItem(
            customer_id=customer,
            record_count=sizes.get(customer, 0),
            score=scores[customer],
            reasons=why,
        )
        for customer, why in reasons.items()
    ]
    items.sort(key=lambda item: (-item.score, item.customer_id))
    return items[:limit]


def _distinct(values: Iterable[str | None]) -> list[str]:
    return sorted({v for v in values if v})
