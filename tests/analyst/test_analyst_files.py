"""Every engine-neutral file in cypher/ answers its question on the ingested fixtures.

Expected answers come from fixtures/truth.csv and the raw fixture files (tests/analyst/truth.py),
never from idgraph; customers are mapped to people through the records they hold.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from idgraph.analyst import list_queries
from tests.analyst import truth
from tests.analyst.conftest import cypher
from tests.conftest import load_truth

PEOPLE = truth.people()
TRUTH = load_truth()
#: Planted cases (fixtures/README.md): typo, alias, app reinstall, family tablet, store email.
PERSONS = sorted({TRUTH[k] for k in ("crm:C1003", "crm:C1045", "crm:C1050", "crm:C1040")})
EMBEDDED = [q.name for q in list_queries() if q.runs_on("ladybug")]
TESTED = {
    "customer_graph",
    "customer_records",
    "customers_sharing_identifier",
    "shared_identifiers",
    "largest_customers",
    "customers_per_source",
    "source_overlap",
    "segment_members",
    "segment_entries_since",
}


def test_every_embedded_file_has_a_truth_test() -> None:
    assert set(EMBEDDED) == TESTED


def _person_customer(person: str, customers: dict[str, str]) -> str:
    (customer,) = {customers[key] for key in PEOPLE[person]}
    return customer


@pytest.mark.parametrize("person", PERSONS)
def test_customer_graph_holds_exactly_the_persons_records(
    store: Path, customers: dict[str, str], person: str
) -> None:
    customer = _person_customer(person, customers)
    rows = cypher(store, "customer_graph", f"customer_id={customer}")
    nodes: dict[str, dict[str, object]] = {}
    edges: set[tuple[str, object, object]] = set()
    for row in rows:
        for node in row["p"]["nodes"]:
            key = node.get("key") or node.get("id")
            nodes[f"{node['label']}:{key}"] = node
        for rel in row["p"]["relationships"]:
            edges.add((rel["type"], rel["start"], rel["end"]))
    records = {n["key"] for n in nodes.values() if n["label"] == "Record"}
    assert records == PEOPLE[person]
    assert [n["id"] for n in nodes.values() if n["label"] == "Customer"] == [customer]
    events = truth.events_per_record()
    assert sum(1 for n in nodes.values() if n["label"] == "Event") == sum(
        events[k] for k in PEOPLE[person]
    )
    for kind, start, end in edges:
        assert kind in ("HAS_RECORD", "HAS_IDENTIFIER", "MATCHED", "PERFORMED")
        assert start == customer if kind == "HAS_RECORD" else start in records
        if kind == "MATCHED":
            assert end in records
    identifiers = {n["key"] for n in nodes.values() if n["label"] == "Identifier"}
    assert identifiers == {end for kind, _, end in edges if kind == "HAS_IDENTIFIER"}


@pytest.mark.parametrize("person", PERSONS)
def test_customer_records_one_row_per_record_with_its_events(
    store: Path, customers: dict[str, str], person: str
) -> None:
    rows = cypher(store, "customer_records", f"customer_id={_person_customer(person, customers)}")
    assert [r["record_key"] for r in rows] == sorted(PEOPLE[person])
    events = truth.events_per_record()
    assert {r["record_key"]: r["events"] for r in rows} == {k: events[k] for k in PEOPLE[person]}
    for row in rows:
        assert {truth.source_of(row["record_key"])} == {row["source"]}
        assert all(m.split(" ")[0] in PEOPLE[person] for m in row["matched"])


def test_customer_records_shows_the_fuzzy_evidence(store: Path, customers: dict[str, str]) -> None:
    rows = cypher(store, "customer_records", f"customer_id={customers['crm:C1003']}")
    by_key = {r["record_key"]: r for r in rows}
    assert any(m.startswith("crm:C1493 (") for m in by_key["crm:C1003"]["matched"])


def test_unknown_customer_has_no_graph(store: Path) -> None:
    assert cypher(store, "customer_graph", "customer_id=C-nobody") == []


SHARED = [
    ("device_id", "B42372C8-1207-40F3-A36C-9E7FBFBF5592", "device"),
    ("anonymous_id", "tab-7f3a", "anonymous"),
    ("email", "cassa.milano@ortensia-store.com", "email"),
]


def _holders(kind: str, value: str) -> set[str]:
    if kind == "email":
        return truth.records_with_email(value)
    getter = truth.device_id if kind == "device_id" else truth.anonymous_id
    return truth.stream_records_holding(getter, value)


@pytest.mark.parametrize(
    ("kind", "value"), [(k, v) for k, v, _ in SHARED], ids=[i for *_, i in SHARED]
)
def test_customers_sharing_identifier(store: Path, kind: str, value: str) -> None:
    expected_records = _holders(kind, value)
    expected_people = {TRUTH[k] for k in expected_records}
    rows = cypher(store, "customers_sharing_identifier", f"kind={kind}", f"value={value}")
    assert {k for r in rows for k in r["records"]} == expected_records
    assert len(rows) == len({r["customer_id"] for r in rows}) == len(expected_people)
    assert {r["identifier"] for r in rows} == {f"{kind}:{value}"}
    for row in rows:
        assert len({TRUTH[k] for k in row["records"]}) == 1
        if len(expected_people) > 1:
            assert row["linking"] is False and row["reason"]
    assert [r["customer_id"] for r in rows] == sorted(r["customer_id"] for r in rows)


def test_shared_identifiers_match_the_stream_identifiers(store: Path) -> None:
    rows = cypher(store, "shared_identifiers", "limit=1000")
    found = {(r["kind"], r["value"]): r for r in rows}
    for kind, getter in (("device_id", truth.device_id), ("anonymous_id", truth.anonymous_id)):
        for value, records in truth.stream_identifier_holders(getter).items():
            people = {TRUTH[k] for k in records}
            if len(people) > 1:
                assert found[(kind, value)]["customers"] == len(people)
                assert found[(kind, value)]["linking"] is False
            else:
                assert (kind, value) not in found
    store_email = found[("email", "cassa.milano@ortensia-store.com")]
    assert store_email["customers"] == 10 == len(store_email["customer_ids"])
    counts = [r["customers"] for r in rows]
    assert counts == sorted(counts, reverse=True) and min(counts) > 1
    assert rows[0] == store_email


@pytest.mark.parametrize(("params", "rows"), [((), None), (("limit=1",), 1), (("limit=2",), 2)])
def test_shared_identifiers_limit(store: Path, params: tuple[str, ...], rows: int | None) -> None:
    everything = _sorted_ids(cypher(store, "shared_identifiers", "limit=1000"))
    result = _sorted_ids(cypher(store, "shared_identifiers", *params))
    assert result == everything[: rows or 50]


def _sorted_ids(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`customer_ids` is a collected list, in no particular order."""
    return [{**row, "customer_ids": sorted(row["customer_ids"])} for row in rows]


def _name_spread() -> dict[str, tuple[int, int]]:
    """Distinct first names and birth dates per person, for people with CRM and POS rows only.

    A card's receipts fold into one record, so a card counts when its receipts agree on the
    first name (POS rows carry no birth date).
    """
    names: dict[str, set[str]] = {}
    for row in truth.csv_rows("crm"):
        names[f"crm:{row['customer_number']}"] = {row["first_name"]}
    dobs = {f"crm:{r['customer_number']}": r["dob"] for r in truth.csv_rows("crm")}
    for row in truth.csv_rows("pos"):
        names.setdefault(f"pos:{row['card_number']}", set()).add(row["first_name"])
    spread: dict[str, tuple[int, int]] = {}
    for person, keys in PEOPLE.items():
        if not all(k in names and len(names[k]) == 1 for k in keys):
            continue
        first = {n.strip().lower() for k in keys for n in names[k] if n.strip()}
        born = {dobs[k].strip() for k in keys if dobs.get(k, "").strip()}
        spread[person] = (len(first), len(born))
    return spread


def test_largest_customers_sizes_and_name_spread(store: Path, customers: dict[str, str]) -> None:
    rows = cypher(store, "largest_customers", "limit=1000")
    assert len(rows) == len(PEOPLE)
    sizes = [r["record_count"] for r in rows]
    assert sizes == sorted((len(keys) for keys in PEOPLE.values()), reverse=True)
    person_of = {customers[k]: TRUTH[k] for k in TRUTH}
    by_person = {person_of[r["customer_id"]]: r for r in rows}
    for person, keys in PEOPLE.items():
        row = by_person[person]
        assert row["record_count"] == len(keys)
        assert set(row["sources"].split(",")) == {truth.source_of(k) for k in keys}
    spread = _name_spread()
    assert len(spread) > 40
    for person, expected in spread.items():
        row = by_person[person]
        assert (row["first_names"], row["birth_dates"]) == expected, person
    assert spread["p002"][0] == 2  # Bob and Robert Taylor: one person, two first names


def test_largest_customers_default_limit(store: Path) -> None:
    rows = cypher(store, "largest_customers")
    assert rows == cypher(store, "largest_customers", "limit=1000")[:20]


def test_customers_per_source(store: Path) -> None:
    rows = cypher(store, "customers_per_source")
    records = Counter(truth.source_of(k) for k in TRUTH)
    expected = [
        {
            "source": source,
            "records": records[source],
            "customers": len({TRUTH[k] for k in TRUTH if truth.source_of(k) == source}),
        }
        for source in sorted(records)
    ]
    assert rows == expected


def test_source_overlap_equals_truth(store: Path) -> None:
    rows = cypher(store, "source_overlap")
    assert {(r["source_a"], r["source_b"]): r["customers"] for r in rows} == truth.source_pairs()
    assert [(r["source_a"], r["source_b"]) for r in rows] == sorted(truth.source_pairs())


def test_neo4j_only_file_is_refused_on_the_embedded_store(store: Path) -> None:
    message = cypher(
        store, "why_same_customer", "record_a=crm:C1003", "record_b=crm:C1493", expect=2
    )
    assert "Neo4j-only" in message and "Neo4j Browser" in message and "bolt://" in message
