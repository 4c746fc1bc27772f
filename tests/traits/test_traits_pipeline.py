"""Traits through `run_ingest` and `idgraph ingest`: typing, overriding, options and errors."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from idgraph.cli import app
from idgraph.errors import ConfigError
from idgraph.normalize.record import NormalizeOptions
from idgraph.pipeline import run_ingest
from idgraph.store.ladybug import LadybugStore
from idgraph.traits.config import TraitsConfig
from tests.conftest import AS_OF, FIXTURE_INPUTS, FIXTURES, as_of_ms

runner = CliRunner()
CRM_POS = FIXTURE_INPUTS[:2]


def ingest(store: Path, paths: list[Path], traits: Any, day: str = AS_OF) -> None:
    run_ingest(
        paths,
        store=store,
        options=NormalizeOptions(default_region="IT"),
        rejects_path=store.parent / "rejects.jsonl",
        traits=traits,
        as_of_ms=as_of_ms(day),
    )


def customers(store: Path) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Customer nodes by id, and the Customer column types."""
    with LadybugStore(store, read_only=True) as db:
        rows = db.query("all customers", "MATCH (c:Customer) RETURN c AS customer")
        return {r["customer"]["id"]: r["customer"] for r in rows}, db.columns("Customer")


def crm_only_ids(store: Path) -> set[str]:
    with LadybugStore(store, read_only=True) as db:
        rows = db.query(
            "crm only",
            "MATCH (c:Customer) WHERE c.sources = 'crm' RETURN c.id AS id",
        )
    return {r["id"] for r in rows}


def test_computed_trait_overrides_a_source_trait_of_the_same_name(tmp_path: Path) -> None:
    config = TraitsConfig.model_validate(
        {
            "traits": [
                {
                    "name": "lifetime_value",
                    "kind": "sum",
                    "event": "Order Completed",
                    "property": "total",
                },
                {"name": "loyalty_tier", "kind": "count", "event": "Order Completed"},
            ]
        }
    )
    store = tmp_path / "idgraph.db"
    ingest(store, CRM_POS, config)
    nodes, columns = customers(store)
    assert columns["loyalty_tier"] == "INT64"  # the computed trait's type, not the source's
    assert columns["lifetime_value"] == "DOUBLE"
    crm_only = crm_only_ids(store)
    assert crm_only
    for cid in crm_only:  # CRM values such as 320.0 / "silver" are replaced
        assert nodes[cid]["lifetime_value"] == 0.0
        assert nodes[cid]["loyalty_tier"] == 0
    assert any(n["loyalty_tier"] > 1 for n in nodes.values())
    # the source trait that is not overridden is still there
    assert {n["marketing_opt_in"] for n in nodes.values()} >= {True, False}


def test_absent_computed_value_overrides_too(tmp_path: Path) -> None:
    config = {
        "traits": [
            {"name": "loyalty_tier", "kind": "max", "event": "Order Completed", "property": "total"}
        ]
    }
    path = tmp_path / "traits.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    store = tmp_path / "idgraph.db"
    ingest(store, CRM_POS, path)
    nodes, columns = customers(store)
    assert columns["loyalty_tier"] == "DOUBLE"
    assert all(nodes[cid]["loyalty_tier"] is None for cid in crm_only_ids(store))


@pytest.mark.parametrize(
    ("prop", "event", "column"),
    [
        ("category", "Product Viewed", "STRING"),
        ("price", "Product Viewed", "DOUBLE"),
    ],
)
def test_most_frequent_is_typed_from_its_values(
    tmp_path: Path, prop: str, event: str, column: str
) -> None:
    config = {
        "traits": [{"name": "top", "kind": "most_frequent", "event": event, "property": prop}]
    }
    store = tmp_path / "idgraph.db"
    ingest(store, [FIXTURE_INPUTS[2]], TraitsConfig.model_validate(config))
    nodes, columns = customers(store)
    assert columns["top"] == column
    assert any(n["top"] is not None for n in nodes.values())


def test_no_traits_adds_no_columns(tmp_path: Path) -> None:
    store = tmp_path / "idgraph.db"
    ingest(store, CRM_POS, TraitsConfig())
    _, columns = customers(store)
    assert "order_count" not in columns and "age" not in columns
    assert "lifetime_value" in columns


def test_invalid_traits_config_fails_before_anything_is_written(tmp_path: Path) -> None:
    path = tmp_path / "traits.yaml"
    path.write_text("traits:\n  - {name: spent, kind: sum, event: Order Completed}\n", "utf-8")
    store = tmp_path / "idgraph.db"
    with pytest.raises(ConfigError, match=r"traits\[0\]: kind sum needs `property`"):
        ingest(store, CRM_POS, path)
    assert not store.exists()


def _cli_ingest(store: Path, *options: str) -> Any:
    return runner.invoke(
        app,
        [
            "ingest",
            *map(str, CRM_POS),
            "--store",
            str(store),
            "--default-region",
            "IT",
            "--rejects",
            str(store.parent / "rejects.jsonl"),
            *options,
        ],
    )


def test_cli_ingest_with_traits_and_as_of(tmp_path: Path) -> None:
    path = tmp_path / "traits.yaml"
    path.write_text(
        "traits:\n  - {name: orders_30d, kind: count, event: Order Completed, within_days: 30}\n",
        encoding="utf-8",
    )
    store = tmp_path / "idgraph.db"
    result = _cli_ingest(store, "--traits", str(path), "--as-of", "2026-01-31")
    assert result.exit_code == 0, result.output
    nodes, columns = customers(store)
    assert "age" not in columns  # only the traits of the given file
    # the window is [as-of minus 30 days, as-of]: receipts from 1 January 2026 to midnight 31st
    with (FIXTURES / "pos.csv").open(newline="", encoding="utf-8") as handle:
        expected = sum(
            1
            for row in csv.DictReader(handle)
            if "2026-01-01T00:00:00Z" <= row["purchased_at"] <= "2026-01-31T00:00:00Z"
        )
    assert expected > 0
    assert sum(n["orders_30d"] for n in nodes.values()) == expected


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--as-of", "yesterday"], "is not a date"),
        (["--traits", "{missing}"], "cannot read traits config"),
        (["--traits", "{bad}"], "traits[0].within_days: Input should be greater than or equal"),
    ],
)
def test_cli_ingest_rejects_bad_trait_options(
    tmp_path: Path, options: list[str], message: str
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "traits:\n  - {name: n, kind: count, event: Order Completed, within_days: 0}\n", "utf-8"
    )
    filled = [o.format(missing=tmp_path / "missing.yaml", bad=bad) for o in options]
    result = _cli_ingest(tmp_path / "idgraph.db", *filled)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
