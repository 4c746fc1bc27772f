"""What a batch carries besides the change: the traits a destination asks for, and the emails
and phones an audience hashes. Trait names are allowlisted by the config and checked against
the store's `Customer` properties before they are written into a statement."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from idgraph.store.base import GraphStore
from idgraph.store.schema import check_property_name

__all__ = ["CONTACT_IDENTIFIERS", "CONTACT_QUERY", "identifiers_of", "traits_cypher", "traits_of"]

#: The emails and phones as the sources wrote them (records' columns)...
CONTACT_QUERY: Final[str] = (
    "UNWIND $ids AS cid MATCH (:Customer {id: cid})-[:HAS_RECORD]->(r:Record) "
    "RETURN cid AS customer, r.email AS email, r.phone AS phone"
)
#: ...and as identifiers (tracking calls' traits are stored only as these).
CONTACT_IDENTIFIERS: Final[str] = (
    "UNWIND $ids AS cid MATCH (:Customer {id: cid})-[:HAS_RECORD]->(:Record)"
    "-[:HAS_IDENTIFIER]->(i:Identifier) WHERE i.kind IN ['email', 'phone'] "
    "RETURN DISTINCT cid AS customer, i.kind AS kind, i.value AS value"
)


def traits_cypher(traits: Sequence[str]) -> str:
    """The read of `traits` for many customers; every name passes the allowlist first."""
    columns = ", ".join(
        "c.id AS id" if t == "id" else f"c.`{check_property_name(t, what='trait')}` AS `{t}`"
        for t in traits
    )
    return f"UNWIND $ids AS cid MATCH (c:Customer {{id: cid}}) RETURN cid AS customer_, {columns}"


def traits_of(
    store: GraphStore, customers: Sequence[str], traits: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """customer id -> {trait: value} for the customers that still exist."""
    if not customers:
        return {}
    rows = store.keyed_read("deliver_traits", traits_cypher(traits), "ids", customers)
    return {row["customer_"]: {t: row[t] for t in traits} for row in rows}


def identifiers_of(store: GraphStore, customers: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    """customer id -> its distinct (kind, value) emails and phones: as written and as
    identifiers (an address idgraph canonicalises, e.g. Gmail without dots, gives both)."""
    if not customers:
        return {}
    found: dict[str, dict[tuple[str, str], None]] = {}
    for row in store.keyed_read("deliver_contacts", CONTACT_QUERY, "ids", customers):
        seen = found.setdefault(row["customer"], {})
        for kind in ("email", "phone"):
            if row[kind]:
                seen[(kind, str(row[kind]))] = None
    for row in store.keyed_read("deliver_identifiers", CONTACT_IDENTIFIERS, "ids", customers):
        found.setdefault(row["customer"], {})[(row["kind"], str(row["value"]))] = None
    return {customer: list(values) for customer, values in found.items()}
