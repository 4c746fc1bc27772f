"""The report's data functions on a real embedded store, checked against counts taken
another way: the input files themselves, the rejects file, profiles, segment member pages."""

from __future__ import annotations

import json
import math
from collections import Counter
from importlib import resources
from itertools import combinations
from pathlib import Path

import networkx as nx
import orjson
import pytest

from idgraph.errors import NotFoundError
from idgraph.insights import (
    blocking_funnel,
    cluster_summary,
    doubtful_graphs,
    identifiers_off,
    ingest_runs,
    link_summary,
    model_summary,
    rejects_summary,
    run_insights,
    segments_summary,
)
from idgraph.insights.graphs import GraphEdge, _mark_weakest
from idgraph.normalize.record import NormalizeOptions
from idgraph.pipeline import run_ingest
from idgraph.query import CustomerProfile, IdentityGraph
from idgraph.settings import open_store
from tests.conftest import FIXTURE_INPUTS
from tests.insights.conftest import SEGMENTS, data_lines


@pytest.fixture(scope="module")
def graph(report_store: tuple[Path, Path, list[Path]]) -> IdentityGraph:
    with IdentityGraph(report_store[0]) as opened:
        yield opened


@pytest.fixture(scope="module")
def profiles(graph: IdentityGraph) -> list[CustomerProfile]:
    customers = sorted({c for _, c in graph.clusters()})
    return [graph.profile(c, events=0) for c in customers]


def test_the_run_record_counts_every_input_line(
    graph: IdentityGraph, report_store: tuple[Path, Path, list[Path]]
) -> None:
    _, rejects, inputs = report_store
    [run] = ingest_runs(graph.store)
    assert run.mode == "full"
    assert {f.path: f.read for f in run.files} == {str(p): data_lines(p) for p in inputs}
    rows = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
    assert run.rejected == sum(r["kind"] == "line" for r in rows) == 2
    assert sum(f.values_dropped for f in run.files) == sum(r["kind"] == "field" for r in rows) > 0
    assert run.read == run.ingested + run.rejected
    assert run.rejects_path == str(rejects.resolve())


def test_rejects_per_source_and_reason_come_with_examples(
    graph: IdentityGraph, report_store: tuple[Path, Path, list[Path]]
) -> None:
    inputs = report_store[2]
    summary = rejects_summary(ingest_runs(graph.store)[0], examples=5)
    assert summary.note is None
    by_source = {s.source: s for s in summary.sources}
    assert by_source["bad"].rejected == 2 and by_source["bad"].ingested == 3
    assert sum(s.read for s in summary.sources) == sum(data_lines(p) for p in inputs)
    whole = [r for r in summary.reasons if r.kind == "line"]
    assert sum(r.rejected for r in whole) == 2
    assert {r.source for r in whole} == {"bad"}
    lines = sorted(e.line for r in whole for e in r.examples)
    assert lines == [2, 4]
    dropped = [r for r in summary.reasons if r.kind == "field"]
    assert sum(r.rejected for r in dropped) == sum(s.values_dropped for s in summary.sources) > 0
    raws = {e.raw for r in summary.reasons for e in r.examples}
    assert "this is not json" in raws


def test_a_missing_rejects_file_is_said(graph: IdentityGraph, tmp_path: Path) -> None:
    run = ingest_runs(graph.store)[0]
    gone = run.model_copy(update={"rejects_path": str(tmp_path / "gone.jsonl")})
    summary = rejects_summary(gone)
    assert summary.reasons == [] and summary.note is not None and "gone" in summary.note


def test_cluster_sizes_match_the_exported_clusters(graph: IdentityGraph) -> None:
    per_customer = Counter(c for _, c in graph.clusters())
    summary = cluster_summary(graph.store, top=3)
    assert summary.sizes == dict(Counter(per_customer.values()))
    assert summary.customers == len(per_customer)
    assert summary.records == sum(per_customer.values())
    assert [c.records for c in summary.largest] == sorted(per_customer.values(), reverse=True)[:3]
    assert all(per_customer[c.id] == c.records for c in summary.largest)


def test_customers_over_the_review_threshold(graph: IdentityGraph) -> None:
    everyone = graph.review(limit=10_000)
    low = cluster_summary(graph.store, review_threshold=0.5)
    assert low.for_review == len(everyone) > 0
    high = cluster_summary(graph.store, review_threshold=1000)
    assert high.for_review == 0 and high.review == []


def test_identifier_links_made_are_those_that_join_records(
    graph: IdentityGraph, profiles: list[CustomerProfile]
) -> None:
    """With no guard refusing, shared identifiers make the links that join records the
    explicit (alias) links leave apart: a spanning forest, counted here with networkx."""
    run = ingest_runs(graph.store)[0]
    assert run.refused == []
    records = [key for key, _ in graph.clusters()]
    explicit = nx.Graph()
    explicit.add_nodes_from(records)
    explicit.add_edges_from(
        (m.record_a, m.record_b) for p in profiles for m in p.evidence if m.rule == "alias"
    )
    both = explicit.copy()
    pairs = Counter()
    for p in profiles:
        for ident in p.identifiers:
            if ident.linking and len(ident.records) > 1:
                pairs[f"same_{ident.kind}"] += math.comb(len(ident.records), 2)
                both.add_edges_from(combinations(sorted(ident.records), 2))
    summary = link_summary(graph.store, run)
    made = {r.rule: r.made for r in summary.rules if r.rule.startswith("same_")}
    joined = nx.number_connected_components(explicit) - nx.number_connected_components(both)
    assert sum(made.values()) == joined > 0
    assert set(made) == set(pairs) and all(made[k] <= pairs[k] for k in made)
    assert summary.rules and all(r.refused == 0 for r in summary.rules)


def test_stored_links_match_the_profiles_evidence(
    graph: IdentityGraph, profiles: list[CustomerProfile]
) -> None:
    evidence = Counter(m.rule for p in profiles for m in p.evidence)
    summary = link_summary(graph.store, ingest_runs(graph.store)[0])
    assert {r.rule: r.stored for r in summary.rules if r.stored} == dict(evidence)
    model_links = [m for p in profiles for m in p.evidence if m.rule == "match_model"]
    assert sum(b.links for b in summary.weights) == len(model_links)
    expected: Counter[float] = Counter()
    for m in model_links:
        p = m.score or 0.0
        weight = 14.0 if p >= 0.99995 else math.log2(p / (1 - p))
        expected[math.floor(min(weight, 14.0))] += 1
    assert {b.low: b.links for b in summary.weights} == dict(expected)


def test_identifiers_switched_off_match_the_profiles(
    graph: IdentityGraph, profiles: list[CustomerProfile]
) -> None:
    off = {(i.kind, i.value): i for p in profiles for i in p.identifiers if not i.linking}
    summary = identifiers_off(graph.store, top=50)
    assert summary.per_kind == dict(Counter(kind for kind, _ in off))
    holders: dict[tuple[str, str], set[str]] = {}
    for p in profiles:
        for i in p.identifiers:
            if not i.linking:
                holders.setdefault((i.kind, i.value), set()).update(i.records)
    assert {(w.kind, w.value): w.records for w in summary.widest} == {
        k: len(v) for k, v in holders.items()
    }
    assert summary.widest[0].records == max(len(v) for v in holders.values())


def test_the_shipped_model_weights_are_log_m_over_u(tmp_path: Path) -> None:
    shipped = json.loads(
        resources.files("idgraph.match").joinpath("shipped_model.json").read_text("utf-8")
    )
    with open_store(tmp_path / "idgraph.db") as store:  # an empty store has no model of its own
        summary = model_summary(store)
    assert summary.origin == "shipped"
    for row in summary.fields:
        learned = shipped["levels"].get(row.field, [])
        if row.level not in learned:
            # A level added since, or a field the generated data it was learned on cannot
            # teach (they have no customer ids): no weight.
            assert row.weight == 0 and row.m == row.u
            continue
        level = learned.index(row.level)
        expected = math.log2(shipped["m"][row.field][level] / shipped["u"][row.field][level])
        if row.level == "echo":
            expected = min(expected, 2.0)
        assert row.weight == pytest.approx(expected, abs=1e-3)
    assert {r.field for r in summary.fields} == set(shipped["m"]) | {"customer_id"}


def test_the_blocking_funnel_narrows(graph: IdentityGraph) -> None:
    run = ingest_runs(graph.store)[0]
    funnel = blocking_funnel(run)
    steps = {s.step: s.count for s in funnel.steps}
    assert steps["records"] == graph.stats().records
    assert steps["blocks"] == sum(r.blocks for r in funnel.rules) > 0
    assert steps["links"] <= steps["candidate pairs"] <= sum(r.pairs for r in funnel.rules)
    assert steps["links"] == run.links.get("match_model", 0) + sum(
        run.links.get(r.rule, 0) for r in funnel.rules
    )


def test_segments_sizes_history_and_overlap(graph: IdentityGraph) -> None:
    members = {
        name: {m.id for m in graph.segment_members(name, limit=10_000).members} for name in SEGMENTS
    }
    summary = segments_summary(graph.store)
    assert {s.name: s.size for s in summary.segments} == {n: len(m) for n, m in members.items()}
    overlap = {(o.a, o.b): o.customers for o in summary.overlap}
    for a in SEGMENTS:
        for b in SEGMENTS:
            assert overlap.get((a, b), 0) == len(members[a] & members[b]), (a, b)
    assert any(overlap.get((a, b), 0) for a, b in combinations(SEGMENTS, 2))
    runs = Counter(r.segment for r in summary.runs)
    assert runs == {name: 2 for name in SEGMENTS}
    for name in SEGMENTS:
        first, last = [r for r in summary.runs if r.segment == name]
        assert first.entered == first.size and first.exited == 0
        assert last.size == first.size + last.entered - last.exited == len(members[name])


def test_doubtful_customers_are_drawn_from_their_evidence(graph: IdentityGraph) -> None:
    drawn = doubtful_graphs(graph, limit=4)
    review = graph.review(limit=4)
    assert [d.customer_id for d in drawn] == [r.customer_id for r in review]
    for d in drawn:
        profile = graph.profile(d.customer_id, events=0)
        assert {n.key for n in d.nodes} == {r.key for r in profile.records}
        keys = {n.key for n in d.nodes}
        assert all(e.a in keys and e.b in keys for e in d.edges)
        assert all(e.kind != "not_linking" for e in d.edges)  # only what holds it together
        if d.edges:
            g = nx.Graph([(e.a, e.b) for e in d.edges])
            g.add_nodes_from(keys)
            assert nx.is_connected(g)  # the evidence holds the customer together
            assert sum(e.weakest for e in d.edges) == 1


def test_the_weakest_link_is_the_least_certain_bridge() -> None:
    edges = [
        GraphEdge(a="a", b="b", kind="match", label="m", score=0.3),
        GraphEdge(a="b", b="c", kind="match", label="m", score=0.4),
        GraphEdge(a="a", b="c", kind="identifier", label="email", score=1.0),
        GraphEdge(a="c", b="d", kind="match", label="m", score=0.9),
        GraphEdge(a="d", b="e", kind="identifier", label="phone", score=1.0),
    ]
    marked = _mark_weakest(edges)
    assert [e.weakest for e in marked] == [False, False, False, True, False]
    cycle = _mark_weakest(edges[:3])
    assert [e.weakest for e in cycle] == [True, False, False]


def test_each_ingest_adds_a_run_and_any_run_can_be_shown(tmp_path: Path) -> None:
    store = tmp_path / "idgraph.db"
    options = NormalizeOptions(default_region="IT")
    run_ingest(FIXTURE_INPUTS[:2], store=store, options=options, rejects_path=tmp_path / "r")
    run_ingest(FIXTURE_INPUTS[2:], store=store, options=options, rejects_path=tmp_path / "r")
    with IdentityGraph(store) as graph:
        runs = ingest_runs(graph.store)
        assert [r.mode for r in runs] == ["full", "incremental"]
        assert [sorted(f.path for f in r.files) for r in runs] == [
            sorted(str(p) for p in FIXTURE_INPUTS[:2]),
            sorted(str(p) for p in FIXTURE_INPUTS[2:]),
        ]
        assert run_insights(graph, doubtful=0).run_number == 2
        first = run_insights(graph, run=1, doubtful=0)
        assert first.run_number == 1 and first.run == runs[0]
        with pytest.raises(NotFoundError, match="no ingest run 3"):
            run_insights(graph, run=3)


def test_a_store_without_run_records_still_reports(tmp_path: Path) -> None:
    open_store(tmp_path / "idgraph.db").close()
    with IdentityGraph(tmp_path / "idgraph.db") as graph:
        insights = run_insights(graph)
    assert insights.run is None and insights.runs == 0 and insights.funnel is None
    assert insights.clusters.customers == 0
    assert orjson.loads(insights.model_dump_json())["links"]["rules"] == []
