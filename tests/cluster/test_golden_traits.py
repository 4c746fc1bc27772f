"""Which source trait survives on a customer: source priority per trait, then recency, then key."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import idgraph.cluster.customers as customers_module
from idgraph.cluster.customers import build_customers
from idgraph.frames import FIELDS, RECORDS
from idgraph.match.config import Survivorship, load_match_config


def _records(rows: list[tuple[str, str, int]]) -> pl.DataFrame:
    """(key, source, updated_ts) records with no fields, sorted by key as resolving keeps them."""
    return pl.DataFrame(
        {
            "key": [r[0] for r in rows],
            "source": [r[1] for r in rows],
            "source_id": [r[0].split(":")[1] for r in rows],
            "kind": ["record"] * len(rows),
            "updated_ts": [r[2] for r in rows],
            **{name: [None] * len(rows) for name in FIELDS},
            "traits": ["{}"] * len(rows),
        },
        schema=RECORDS,
    ).sort("key")


def _traits(survivorship: Survivorship) -> dict[tuple[str, str], str]:
    # Customer one: crm:1, pos:2, web:3. Customer two: pos:4, web:5.
    records = _records(
        [
            ("crm:1", "crm", 100),
            ("pos:2", "pos", 300),
            ("web:3", "web", 200),
            ("pos:4", "pos", 100),
            ("web:5", "web", 100),
        ]
    )
    # In key order: crm:1, pos:2, pos:4, web:3, web:5; a label is its customer's first position.
    labels = np.array([0, 0, 2, 0, 2])
    rows = [
        ("crm:1", "tier", '"gold"'),
        ("pos:2", "tier", '"silver"'),
        ("web:3", "tier", '"bronze"'),
        ("crm:1", "plan", '"a"'),
        ("pos:2", "plan", '""'),
        ("web:3", "plan", '"c"'),
        ("pos:4", "tier", '"x"'),
        ("web:5", "tier", '"y"'),
        ("pos:4", "plan", '""'),
        ("web:5", "plan", '""'),
    ]
    record_traits = pl.DataFrame(rows, schema=["record", "name", "value"], orient="row")
    config = load_match_config(None).model_copy(update={"survivorship": survivorship})
    customers = build_customers(
        records,
        labels,
        record_traits=record_traits,
        previous=pl.DataFrame(schema={"key": pl.Utf8, "customer": pl.Utf8}),
        event_span=None,
        config=config,
        now_ms=1_000,
    )
    owner = dict(customers.memberships.select("record", "customer").iter_rows())
    names = {owner["crm:1"]: "one", owner["pos:4"]: "two"}
    return {(names[c], n): v for c, n, v in customers.traits.iter_rows()}


def test_without_priorities_the_most_recent_non_empty_value_survives() -> None:
    # tier: pos:2 is newest (300). plan: pos:2 is empty, so web:3 (200) beats crm:1 (100).
    # Customer two: equal times, so the smaller key (pos:4) wins; its plan is empty everywhere.
    assert _traits(Survivorship()) == {
        ("one", "tier"): '"silver"',
        ("one", "plan"): '"c"',
        ("two", "tier"): '"x"',
    }


def test_a_trait_of_its_own_priority_list_ignores_the_default_list() -> None:
    rules = Survivorship(default=["web"], fields={"tier": ["crm", "web"]})
    assert _traits(rules) == {
        ("one", "tier"): '"gold"',  # crm first for tier, though the oldest
        ("one", "plan"): '"c"',  # web first by default
        ("two", "tier"): '"y"',  # no crm record: web next
    }


def test_the_default_list_ranks_unlisted_sources_last_then_by_recency() -> None:
    rules = Survivorship(default=["crm"])
    assert _traits(rules) == {
        ("one", "tier"): '"gold"',
        ("one", "plan"): '"a"',
        ("two", "tier"): '"x"',  # neither listed: equal times, smaller key
    }


@pytest.mark.parametrize(
    "rules", [Survivorship(), Survivorship(default=["web"], fields={"tier": ["crm", "web"]})]
)
def test_customers_taken_a_share_at_a_time_keep_the_same_survivors(
    rules: Survivorship, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _traits(rules)
    # Two trait rows at a time: the customers are split over several shares.
    monkeypatch.setattr(customers_module, "TRAIT_ROWS_AT_ONCE", 2)
    assert _traits(rules) == whole
