"""Human overrides: must-link (`idgraph link`) and cannot-link (`idgraph split`) survive runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from idgraph.cli import app
from idgraph.errors import ConfigError, NotFoundError
from idgraph.pipeline import Overrides, run_ingest
from idgraph.query import IdentityGraph
from tests.conftest import FIXTURES, ingest_fixtures, load_truth


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "idgraph.db"
    ingest_fixtures(path, tmp_path, as_of="2026-11-01")
    return path


def _customer(store: Path, key: str) -> str:
    with IdentityGraph(store) as graph:
        return graph.lookup(key)[0]


def test_link_merges_two_people_and_survives_a_later_ingest(store: Path, tmp_path: Path) -> None:
    truth = load_truth()
    assert truth["crm:C1026"] != truth["crm:C1028"]
    run_ingest([], store=store, overrides=Overrides(must_link=[("crm:C1026", "crm:C1028")]))
    assert _customer(store, "crm:C1026") == _customer(store, "crm:C1028")
    ingest_fixtures(store, tmp_path, as_of="2026-11-01")
    assert _customer(store, "crm:C1026") == _customer(store, "crm:C1028")
    with IdentityGraph(store) as graph:
        flagged = {i.customer_id: i.reasons for i in graph.review(limit=500)}
    assert any("dates of birth" in r for r in flagged[_customer(store, "crm:C1026")])


def test_split_separates_records_and_survives_a_later_ingest(store: Path, tmp_path: Path) -> None:
    before = _customer(store, "crm:C1097")
    with IdentityGraph(store) as graph:
        members = [r.key for r in graph.profile(before).records]
    taken = ["crm:C1097"]
    pairs = [(a, b) for a in taken for b in members if b not in taken]
    run_ingest([], store=store, overrides=Overrides(cannot_link=pairs))
    rest = [k for k in members if k not in taken]
    assert _customer(store, "crm:C1097") not in {_customer(store, k) for k in rest}
    assert {_customer(store, k) for k in rest} == {before}  # the larger part keeps the id
    ingest_fixtures(store, tmp_path, as_of="2026-11-01")
    assert _customer(store, "crm:C1097") != _customer(store, rest[0])
    with pytest.raises(ConfigError, match="split apart by a reviewer"):
        run_ingest([], store=store, overrides=Overrides(must_link=[("crm:C1097", rest[0])]))


def test_overrides_name_unknown_records(store: Path) -> None:
    with pytest.raises(NotFoundError, match="no record with key 'crm:nope'"):
        run_ingest([], store=store, overrides=Overrides(must_link=[("crm:C1026", "crm:nope")]))


def test_cli_link_and_split(store: Path) -> None:
    runner = CliRunner()
    s = ["--store", str(store)]
    linked = runner.invoke(app, ["link", "crm:C1026", "crm:C1028", *s])
    assert linked.exit_code == 0, linked.output
    assert "linked: crm:C1026 and crm:C1028 are customer" in linked.output
    customer = _customer(store, "crm:C1026")
    split = runner.invoke(app, ["split", customer, "--records", "crm:C1028", *s])
    assert split.exit_code == 0, split.output
    assert _customer(store, "crm:C1026") != _customer(store, "crm:C1028")
    wrong = runner.invoke(app, ["split", customer, "--records", "pos:nope", *s])
    assert wrong.exit_code == 2 and "not records of" in wrong.output
    assert (FIXTURES / "crm.csv").exists()
