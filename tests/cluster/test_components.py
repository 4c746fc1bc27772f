"""Clustering under identity limits, checked against networkx on random graphs."""

from __future__ import annotations

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from idgraph.cluster.components import cluster
from idgraph.cluster.ids import assign_ids
from idgraph.match.config import load_match_config
from idgraph.models import Link, MatchEvidence, Record

CONFIG = load_match_config()
NO_LIMITS = CONFIG.model_copy(update={"limits": {}, "strong_attributes": []})


def _records(n: int) -> list[Record]:
    return [Record(f"r{i:03d}", "t", str(i), "row", 0) for i in range(n)]


def _partition(labels: list[int]) -> set[frozenset[int]]:
    groups: dict[int, set[int]] = {}
    for index, label in enumerate(labels):
        groups.setdefault(label, set()).add(index)
    return {frozenset(g) for g in groups.values()}


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=40),
    data=st.data(),
)
def test_without_limits_equals_connected_components(n: int, data: st.DataObject) -> None:
    edges = data.draw(
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=80)
    )
    records = _records(n)
    evidence = [
        MatchEvidence(records[a].key, records[b].key, "fuzzy", ("x",), 0.9)
        for a, b in edges
        if a != b
    ]
    result = cluster(records, evidence, [], NO_LIMITS)
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from((a, b) for a, b in edges if a != b)
    assert _partition(result.labels) == {frozenset(c) for c in nx.connected_components(graph)}


@settings(max_examples=60, deadline=None)
@given(n=st.integers(min_value=2, max_value=30), data=st.data())
def test_limits_hold_and_accepted_edges_explain_every_cluster(n: int, data: st.DataObject) -> None:
    records = _records(n)
    for record in records:
        if data.draw(st.booleans()):
            record.identifiers.add(("user_id", f"u{data.draw(st.integers(0, 5))}"))
        if data.draw(st.booleans()):
            record.fields["birth_date"] = data.draw(st.sampled_from(["1980-01-01", "1990-02-02"]))
    edges = data.draw(
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=60)
    )
    evidence = [
        MatchEvidence(records[a].key, records[b].key, "fuzzy", ("x",), 0.9)
        for a, b in edges
        if a != b
    ]
    result = cluster(records, evidence, [], CONFIG)
    for members in result.components():
        users = {v for i in members for k, v in records[i].identifiers if k == "user_id"}
        dobs = {
            records[i].fields["birth_date"] for i in members if "birth_date" in records[i].fields
        }
        assert len(users) <= 1
        assert len(dobs) <= 1
    index = {r.key: i for i, r in enumerate(records)}
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from((index[e.a], index[e.b]) for e in result.accepted)
    assert _partition(result.labels) == {frozenset(c) for c in nx.connected_components(graph)}


def test_family_tablet_logins_stay_apart_but_alias_joins() -> None:
    records = _records(4)
    for i in range(3):
        records[i].identifiers.add(("user_id", f"u{i}"))
    edges = [
        MatchEvidence("r000", "r001", "same_anonymous_id", ("anonymous_id",), 1.0),
        MatchEvidence("r000", "r002", "same_anonymous_id", ("anonymous_id",), 1.0),
    ]
    result = cluster(records, edges, [], CONFIG)
    assert len(set(result.labels[:3])) == 3
    assert [b.reason for b in result.blocked] == [
        "would give one customer 2 distinct user_id (limit 1)"
    ] * 2
    aliased = cluster(
        records,
        [MatchEvidence("r000", "r001", "alias", ("id",), 1.0)],
        [Link("r000", "r001", "alias")],
        CONFIG,
    )
    assert aliased.labels[0] == aliased.labels[1]


def test_conflicting_birth_dates_never_merge() -> None:
    records = _records(2)
    records[0].fields["birth_date"] = "1980-01-01"
    records[1].fields["birth_date"] = "1980-01-02"
    result = cluster(
        records, [MatchEvidence("r000", "r001", "same_email", ("email",), 1.0)], [], CONFIG
    )
    assert result.labels[0] != result.labels[1]
    assert result.blocked[0].reason == "records disagree on birth_date"


def test_ids_survive_and_the_larger_part_keeps_the_id() -> None:
    previous = {"a": "C-1", "b": "C-1", "c": "C-1", "d": "C-2"}
    # C-1 splits into {a, b} and {c}; {d} merges with a new record.
    ids = assign_ids([["c"], ["a", "b"], ["d", "e"], ["f"]], previous)
    assert ids[1] == "C-1"
    assert ids[2] == "C-2"
    assert ids[0] not in {"C-1", "C-2"} and ids[3] not in {"C-1", "C-2"}
    assert len(set(ids)) == 4
    assert assign_ids([["c"], ["a", "b"], ["d", "e"], ["f"]], previous) == ids
