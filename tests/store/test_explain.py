"""`explain` on the embedded engine, judged by the fixtures' ground truth."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from typer.testing import CliRunner

from idgraph.cli import app
from idgraph.errors import NotFoundError
from idgraph.pipeline import IngestReport
from idgraph.query import IdentityGraph
from tests.conftest import load_truth


@pytest.fixture(scope="module")
def graph(fixture_store: tuple[Path, IngestReport]) -> IdentityGraph:
    return IdentityGraph(fixture_store[0])


def test_every_pair_of_one_persons_records_has_a_connected_evidence_path(
    graph: IdentityGraph,
) -> None:
    by_person: dict[str, list[str]] = {}
    for record, person in load_truth().items():
        by_person.setdefault(person, []).append(record)
    checked = 0
    for records in by_person.values():
        for a, b in itertools.combinations(sorted(records), 2):
            path = graph.explain(a, b)
            assert path.same_customer, (a, b)
            hops = [(s.from_record, s.to_record) for s in path.steps]
            assert hops[0][0] == a and hops[-1][1] == b
            assert all(x[1] == y[0] for x, y in itertools.pairwise(hops))
            checked += 1
    assert checked > 100


def test_identifier_steps_use_identifiers_both_records_hold_and_that_link(
    graph: IdentityGraph,
) -> None:
    customer = graph.lookup("crm:C1097")[0]
    held = {f"{i.kind}:{i.value}": i for i in graph.profile(customer).identifiers}
    for other in graph.profile(customer).records:
        for step in graph.explain("crm:C1097", other.key).steps:
            if step.via == "identifier":
                identifier = held[step.identifier or ""]
                assert identifier.linking
                assert {step.from_record, step.to_record} <= set(identifier.records)


def test_records_of_different_people_sharing_a_guarded_identifier_have_no_path(
    graph: IdentityGraph,
) -> None:
    truth = load_truth()
    rows = graph.store.query(
        "test:guarded_pairs",
        "MATCH (a:Record)-[:HAS_IDENTIFIER]->(i:Identifier)<-[:HAS_IDENTIFIER]-(b:Record) "
        "WHERE i.linking = false AND a.key < b.key RETURN a.key AS a, b.key AS b",
    )
    strangers = [(r["a"], r["b"]) for r in rows if truth[r["a"]] != truth[r["b"]]]
    assert strangers
    for a, b in strangers:
        path = graph.explain(a, b)
        assert not path.same_customer and path.steps == []


def test_unknown_record_is_not_found(graph: IdentityGraph) -> None:
    with pytest.raises(NotFoundError, match="no record with key 'crm:nope'"):
        graph.explain("crm:C1097", "crm:nope")


def test_cli_exit_code_says_whether_one_customer(fixture_store: tuple[Path, IngestReport]) -> None:
    runner = CliRunner()
    store = str(fixture_store[0])
    same = runner.invoke(app, ["explain", "crm:C1097", "web:user:u-1019", "--store", store])
    assert same.exit_code == 0, same.output
    assert "one customer" in same.output
    apart = runner.invoke(app, ["explain", "crm:C1026", "crm:C1028", "--store", store])
    assert apart.exit_code == 1
    assert "different customers" in apart.output
