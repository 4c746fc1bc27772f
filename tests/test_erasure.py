"""`idgraph forget` (issue 6, point 5): a person's records, events and identifiers leave the
store, the customers around them are re-resolved, segments drop them with cause "erasure",
and the identifiers come back only as refused lines whose text is withheld."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from idgraph.cli import app
from idgraph.erasure import forget
from idgraph.errors import ConfigError, NotFoundError
from idgraph.normalize.erased import erasure_hash
from idgraph.normalize.fields import normalize_email
from idgraph.normalize.record import NormalizeOptions
from idgraph.pipeline import run_ingest
from idgraph.query import IdentityGraph
from idgraph.segment.definition import parse_segment
from idgraph.segment.saved import run_saved_segment, save_segment, segment_changes
from idgraph.settings import open_store
from tests.conftest import AS_OF, FIXTURE_INPUTS, as_of_ms, load_truth

#: Federica Santoro: a CRM row and a web login (fixtures/README.md).
EMAIL = "federica.santoro@gmail.com"
runner = CliRunner()


@pytest.fixture
def store(fixture_store_copy: Path) -> Path:
    return fixture_store_copy


def _count(store: Path, cypher: str, **params: object) -> int:
    with open_store(store, read_only=True) as graph:
        return int(graph.query("test", cypher, params)[0]["n"])


def test_forget_removes_records_events_and_identifiers(store: Path) -> None:
    with IdentityGraph(store) as graph:
        (customer,) = graph.lookup(EMAIL)
        profile = graph.profile(customer)
    keys = [r.key for r in profile.records]
    values = [i.value for i in profile.identifiers]
    records_before = _count(store, "MATCH (r:Record) RETURN count(r) AS n")
    with open_store(store) as graph:
        report = forget(graph, EMAIL, default_region="IT", as_of_ms=as_of_ms(AS_OF))
    assert report.customer == customer and sorted(report.records) == sorted(keys)
    assert report.events == profile.event_count > 0
    assert _count(store, "MATCH (r:Record) RETURN count(r) AS n") == records_before - len(keys)
    assert _count(store, "MATCH (r:Record) WHERE r.key IN $k RETURN count(r) AS n", k=keys) == 0
    assert (
        _count(store, "MATCH (e:Event) WHERE e.record_key IN $k RETURN count(e) AS n", k=keys) == 0
    )
    assert (
        _count(store, "MATCH (i:Identifier) WHERE i.value IN $v RETURN count(i) AS n", v=values)
        == 0
    )
    with IdentityGraph(store) as graph:
        assert graph.lookup(EMAIL) == [] and graph.lookup(customer) == []
        history = graph.history(customer)
    assert history.status == "erased" and history.current is None
    assert [e.kind for e in history.entries] == ["created", "erased"]
    # Only hashes are kept, and nothing in the store still spells the email.
    with open_store(store, read_only=True) as graph:
        rows = graph.query("t", "MATCH (e:ErasedIdentifier) RETURN e.hash AS h, e.kind AS k", {})
    assert erasure_hash("email", normalize_email(EMAIL)) in {row["h"] for row in rows}
    assert report.remembered == len(rows) >= 2
    assert not any(EMAIL in json.dumps(row) for row in rows)


def test_a_later_ingest_refuses_the_forgotten_identifier(store: Path, tmp_path: Path) -> None:
    with open_store(store) as graph:
        forget(graph, EMAIL, default_region="IT", as_of_ms=as_of_ms(AS_OF))
    rejects = tmp_path / "again.jsonl"
    report = run_ingest(
        FIXTURE_INPUTS,
        store=store,
        options=NormalizeOptions(default_region="IT"),
        rejects_path=rejects,
        as_of_ms=as_of_ms(AS_OF),
    )
    assert report.read == report.ingested + report.rejected
    refused = [json.loads(line) for line in rejects.read_text(encoding="utf-8").splitlines()]
    erased = [r for r in refused if "erased at the person's request" in r["reason"]]
    assert {Path(r["file"]).name for r in erased} == {"crm.csv", "web.jsonl"}
    assert all(r["field"] for r in erased)
    assert all(EMAIL not in r["raw"] and "withheld" in r["raw"] for r in erased)
    assert report.records_new == 0  # nothing of the person came back
    with IdentityGraph(store) as graph:
        assert graph.lookup(EMAIL) == []


def test_forget_moves_the_customer_out_of_segments_with_the_cause(store: Path) -> None:
    defn = parse_segment(
        {"name": "everyone", "where": {"trait": "record_count", "op": ">=", "value": 1}},
        source="-",
    )
    with open_store(store) as graph:
        save_segment(graph, defn)
        run_saved_segment(graph, "everyone", as_of_ms=as_of_ms(AS_OF))
        customer = IdentityGraph.over(graph, default_region="IT").lookup(EMAIL)[0]
        forget(graph, EMAIL, default_region="IT", as_of_ms=as_of_ms(AS_OF))
        exits = [c for c in segment_changes(graph, "everyone") if c.change == "exited"]
    assert [(c.customer, c.cause) for c in exits] == [(customer, "erasure")]


def test_an_identifier_of_several_customers_names_no_one(store: Path) -> None:
    with open_store(store) as graph, pytest.raises(ConfigError, match="4 customers"):
        forget(graph, "tab-7f3a")
    with open_store(store) as graph, pytest.raises(NotFoundError):
        forget(graph, "nobody@nowhere.example")
    assert _count(store, "MATCH (r:Record) RETURN count(r) AS n") == len(load_truth())


def test_cli_dry_run_then_forget(store: Path) -> None:
    dry = runner.invoke(
        app, ["forget", EMAIL, "--store", str(store), "--default-region", "IT", "--dry-run"]
    )
    assert dry.exit_code == 0, dry.output
    assert "would forget" in dry.output and EMAIL not in dry.output
    assert _count(store, "MATCH (r:Record) RETURN count(r) AS n") == len(load_truth())
    done = runner.invoke(app, ["forget", EMAIL, "--store", str(store), "--default-region", "IT"])
    assert done.exit_code == 0, done.output
    assert "forgot customer" in done.output and "2 record(s)" in done.output
    assert _count(store, "MATCH (r:Record) RETURN count(r) AS n") == len(load_truth()) - 2
