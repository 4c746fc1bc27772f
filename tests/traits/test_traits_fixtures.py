"""Every computed trait of every fixture customer, against values computed from the raw files.

The expected values come from tests/traits/oracle.py, which reads fixtures/*.csv / *.jsonl and
truth.csv directly; customers are matched to people through the stored clusters and the truth.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import idgraph.traits
from idgraph.query import IdentityGraph
from idgraph.store.ladybug import LadybugStore
from tests.conftest import AS_OF, FIXTURES, as_of_ms, ingest_fixtures, load_truth
from tests.traits.oracle import expected_traits

DEFAULT_CONFIG = Path(idgraph.traits.__file__).parent / "default.yaml"

#: Every kind at least once, windows, event lists, a property of mixed kinds, other thresholds.
EVERY_KIND: dict[str, Any] = {
    "traits": [
        {"name": "orders", "kind": "count", "event": "Order Completed"},
        {"name": "orders_90d", "kind": "count", "event": "Order Completed", "within_days": 90},
        {
            "name": "spent_365d",
            "kind": "sum",
            "event": "Order Completed",
            "property": "total",
            "within_days": 365,
        },
        {"name": "mean_order", "kind": "avg", "event": "Order Completed", "property": "total"},
        {"name": "smallest_order", "kind": "min", "event": "Order Completed", "property": "total"},
        {"name": "largest_order", "kind": "max", "event": "Order Completed", "property": "total"},
        {
            "name": "products_seen",
            "kind": "distinct_count",
            "event": ["Product Viewed", "Product Added"],
            "property": "product_id",
        },
        {
            "name": "campaigns",
            "kind": "distinct_count",
            "event": ["Email Opened", "Coupon Applied"],
            "property": "campaign",
        },
        {"name": "first_email_ts", "kind": "first_seen", "event": "Email Sent"},
        {"name": "last_open_ts", "kind": "last_seen", "event": "Email Opened", "within_days": 200},
        {"name": "last_seen_anything_ts", "kind": "last_seen"},
        {"name": "days_since_open", "kind": "days_since_last", "event": "Email Opened"},
        {
            "name": "days_since_cart",
            "kind": "days_since_last",
            "event": "Product Added",
            "within_days": 120,
        },
        {
            "name": "top_category",
            "kind": "most_frequent",
            "event": ["Product Viewed", "Product Added"],
            "property": "category",
        },
        {"name": "top_page", "kind": "most_frequent", "event": "Page Viewed", "property": "name"},
        {
            "name": "top_price",
            "kind": "most_frequent",
            "event": "Product Viewed",
            "property": "price",
        },
        {
            "name": "top_store",
            "kind": "most_frequent",
            "event": "Order Completed",
            "property": "store",
        },
        {
            "name": "top_coupon",
            "kind": "most_frequent",
            "event": "Coupon Applied",
            "property": "coupon_code",
            "within_days": 365,
        },
    ],
    "builtins": {
        "age": True,
        "rfm": {"event": ["Order Completed"], "monetary": "total", "within_days": 365},
        "lifecycle": {
            "event": "Order Completed",
            "new_days": 60,
            "active_days": 120,
            "lapsing_days": 300,
        },
    },
}


def stored_traits(store: Path, names: list[str]) -> dict[str, dict[str, Any]]:
    """Person -> the named properties of their one Customer node."""
    truth = load_truth()
    with IdentityGraph(store) as graph:
        clusters = graph.clusters()
    person_of: dict[str, set[str]] = {}
    for record, customer in clusters:
        person_of.setdefault(customer, set()).add(truth[record])
    assert all(len(p) == 1 for p in person_of.values()), "the fixtures resolve exactly"
    with LadybugStore(store, read_only=True) as db:
        rows = db.query("all customers", "MATCH (c:Customer) RETURN c AS customer")
    found = {}
    for row in rows:
        node = row["customer"]
        (person,) = person_of[node["id"]]
        found[person] = {name: node.get(name) for name in names}
    return found


def assert_same(found: dict[str, dict[str, Any]], expected: dict[str, dict[str, Any]]) -> None:
    assert set(found) == set(expected)
    wrong = []
    for person, row in sorted(expected.items()):
        for name, value in row.items():
            got = found[person][name]
            same = got == pytest.approx(value) if isinstance(value, float) else got == value
            if not same or (type(got) is not type(value) and not isinstance(value, float)):
                wrong.append(f"{person}.{name}: stored {got!r}, expected {value!r}")
    assert not wrong, "\n".join(wrong[:30])


@pytest.fixture(scope="module")
def default_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixtures with the shipped traits config, as of the fixtures' AS_OF."""
    folder = tmp_path_factory.mktemp("default_traits")
    ingest_fixtures(folder / "idgraph.db", folder, as_of=AS_OF)
    return folder / "idgraph.db"


def test_default_traits_of_every_fixture_customer(default_store: Path) -> None:
    config = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    expected = expected_traits(config, FIXTURES, load_truth(), as_of_ms(AS_OF))
    names = list(next(iter(expected.values())))
    assert len(names) == 25
    assert_same(stored_traits(default_store, names), expected)


@pytest.fixture(scope="module")
def every_kind_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("every_kind")
    config = folder / "traits.yaml"
    config.write_text(yaml.safe_dump(EVERY_KIND), encoding="utf-8")
    from idgraph.normalize.record import NormalizeOptions
    from idgraph.pipeline import run_ingest
    from tests.conftest import FIXTURE_INPUTS

    store = folder / "idgraph.db"
    run_ingest(
        FIXTURE_INPUTS,
        store=store,
        options=NormalizeOptions(default_region="IT"),
        rejects_path=folder / "rejects.jsonl",
        traits=config,
        as_of_ms=as_of_ms("2026-09-15"),
    )
    return store


def test_every_kind_of_trait_on_the_fixtures(every_kind_store: Path) -> None:
    expected = expected_traits(EVERY_KIND, FIXTURES, load_truth(), as_of_ms("2026-09-15"))
    names = list(next(iter(expected.values())))
    assert_same(stored_traits(every_kind_store, names), expected)


def test_the_fixtures_exercise_every_trait(every_kind_store: Path) -> None:
    """Guard against a vacuous comparison: each trait has a value for someone, and differs."""
    expected = expected_traits(EVERY_KIND, FIXTURES, load_truth(), as_of_ms("2026-09-15"))
    for name in next(iter(expected.values())):
        values = [row[name] for row in expected.values()]
        assert len({repr(v) for v in values}) > 1, name
        assert any(v not in (None, 0) for v in values), name
    stages = {row["lifecycle_stage"] for row in expected.values()}
    assert stages == {"prospect", "new", "active", "lapsing", "lapsed"}


@pytest.mark.parametrize("in_memory", [False, True], ids=["cold", "kept"])
def test_incremental_ingest_gives_the_same_traits(tmp_path: Path, in_memory: bool) -> None:
    """Events stored by the first ingest are read back (state_events) for the second; RFM
    scores of customers no run touched move as a full run moves them, whether each run reads
    the stored buyers afresh or a service keeps them (and their `RfmBook`) between runs."""
    from idgraph.normalize.record import NormalizeOptions
    from idgraph.pipeline import run_ingest
    from idgraph.state.cache import keep_mirror_in_memory, mirror_in_memory
    from tests.conftest import FIXTURE_INPUTS

    store = tmp_path / "idgraph.db"
    was = mirror_in_memory()
    keep_mirror_in_memory(in_memory)
    try:
        for part in (
            FIXTURE_INPUTS[:1],
            FIXTURE_INPUTS[1:2],
            FIXTURE_INPUTS[2:3],
            FIXTURE_INPUTS[3:],
        ):
            run_ingest(
                part,
                store=store,
                options=NormalizeOptions(default_region="IT"),
                rejects_path=tmp_path / "rejects.jsonl",
                as_of_ms=as_of_ms(AS_OF),
            )
    finally:
        keep_mirror_in_memory(was)
    config = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    expected = expected_traits(config, FIXTURES, load_truth(), as_of_ms(AS_OF))
    assert_same(stored_traits(store, list(next(iter(expected.values())))), expected)


def test_reingest_at_a_later_as_of_moves_the_windows(
    tmp_path: Path, fixture_store_copy: Path
) -> None:
    """Unchanged records are not re-resolved, so windows move for everyone on a full run."""
    from idgraph.normalize.record import NormalizeOptions
    from idgraph.pipeline import run_ingest
    from tests.conftest import FIXTURE_INPUTS

    store = fixture_store_copy
    run_ingest(
        FIXTURE_INPUTS,
        store=store,
        options=NormalizeOptions(default_region="IT"),
        rejects_path=tmp_path / "rejects.jsonl",
        as_of_ms=as_of_ms("2027-06-01"),
        full=True,
    )
    config = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    expected = expected_traits(config, FIXTURES, load_truth(), as_of_ms("2027-06-01"))
    assert_same(stored_traits(store, list(next(iter(expected.values())))), expected)
