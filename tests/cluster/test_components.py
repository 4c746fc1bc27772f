"""Clustering under identity limits: checked against networkx and against an edge-by-edge
replay written here, on random graphs with random limits, dates and cannot-links."""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np
import numpy.typing as npt
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idgraph.cluster import components
from idgraph.cluster.components import KEPT_APART, Constraints, cluster
from idgraph.cluster.ids import assign_ids
from idgraph.match.config import load_match_config
from idgraph.match.edges import EDGE_COLUMNS, FUZZY, IDENTIFIER, LINK

CONFIG = load_match_config()
NO_LIMITS = CONFIG.model_copy(update={"limits": {}, "strong_attributes": []})
_RULES = {LINK: "alias", IDENTIFIER: "same_email", FUZZY: "fuzzy"}


def _edges(rows: list[tuple[int, int, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "a": [a for a, _, _ in rows],
            "b": [b for _, b, _ in rows],
            "rule": [_RULES[k] for _, _, k in rows],
            "fields": ["x"] * len(rows),
            "score": [0.9] * len(rows),
            "class": [k for _, _, k in rows],
        },
        schema=EDGE_COLUMNS,
    )


def _constraints(
    users: dict[int, int], dates: dict[int, str], apart: list[tuple[int, int]]
) -> Constraints:
    return Constraints(
        limited={
            "user_id": pl.DataFrame(
                {"pos": list(users), "cls": list(users.values())},
                schema={"pos": pl.Int64, "cls": pl.Int64},
            )
        },
        strong={
            "birth_date": pl.DataFrame(
                {"pos": list(dates), "value": list(dates.values())},
                schema={"pos": pl.Int64, "value": pl.Utf8},
            )
        },
        apart=apart,
    )


def _partition(labels: list[int]) -> set[frozenset[int]]:
    groups: dict[int, set[int]] = {}
    for index, label in enumerate(labels):
        groups.setdefault(label, set()).add(index)
    return {frozenset(g) for g in groups.values()}


def _replay(
    n: int,
    rows: list[tuple[int, int, int]],
    users: dict[int, int],
    dates: dict[int, str],
    apart: list[tuple[int, int]],
) -> tuple[set[frozenset[int]], list[int], list[int]]:
    """The reference: every edge in order through a union-find that watches the limits."""
    parent = list(range(n))
    user = {i: ({users[i]} if i in users else set()) for i in range(n)}
    date = {i: ({dates[i]} if i in dates else set()) for i in range(n)}
    members = {i: {i} for i in range(n)}

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    accepted, blocked = [], []
    for index, (a, b, kind) in enumerate(rows):
        ra, rb = find(a), find(b)
        if ra == rb:
            if kind != IDENTIFIER:
                accepted.append(index)
            continue
        joined = members[ra] | members[rb]
        if any(x in joined and y in joined for x, y in apart if x != y):
            blocked.append(index)
            continue
        if kind != LINK and (
            len(user[ra] | user[rb]) > 1 or (date[ra] and date[rb] and date[ra] != date[rb])
        ):
            blocked.append(index)
            continue
        parent[rb] = ra
        members[ra] = joined
        user[ra] |= user[rb]
        date[ra] |= date[rb]
        accepted.append(index)
    return _partition([find(i) for i in range(n)]), accepted, blocked


@settings(max_examples=60, deadline=None)
@given(n=st.integers(min_value=1, max_value=40), data=st.data())
def test_without_limits_equals_connected_components(n: int, data: st.DataObject) -> None:
    pairs = data.draw(
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=80)
    )
    rows = [(a, b, FUZZY) for a, b in pairs if a != b]
    result = cluster(n, _edges(rows), Constraints(), NO_LIMITS)
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from((a, b) for a, b, _ in rows)
    assert _partition(result.labels.tolist()) == {
        frozenset(c) for c in nx.connected_components(graph)
    }


@settings(max_examples=150, deadline=None)
@given(n=st.integers(min_value=2, max_value=30), data=st.data())
def test_same_groups_accepted_and_refused_links_as_an_edge_by_edge_replay(
    n: int, data: st.DataObject
) -> None:
    users = {i: data.draw(st.integers(0, 3)) for i in range(n) if data.draw(st.integers(0, 3)) == 0}
    dates = {
        i: data.draw(st.sampled_from(["1980-01-01", "1990-02-02"]))
        for i in range(n)
        if data.draw(st.integers(0, 3)) == 0
    }
    apart = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=2))
    rows = [
        (a, b, kind)
        for a, b, kind in data.draw(
            st.lists(
                st.tuples(
                    st.integers(0, n - 1),
                    st.integers(0, n - 1),
                    st.sampled_from([LINK, IDENTIFIER, FUZZY]),
                ),
                max_size=60,
            )
        )
        if a != b
    ]
    result = cluster(n, _edges(rows), _constraints(users, dates, apart), CONFIG)
    groups, accepted, blocked = _replay(n, rows, users, dates, apart)
    assert _partition(result.labels.tolist()) == groups
    assert sorted(i for i, ok in enumerate(result.accepted.tolist()) if ok) == accepted
    assert [i for i, _ in result.blocked] == blocked


def test_family_tablet_logins_stay_apart_but_alias_joins() -> None:
    users = {0: 0, 1: 1, 2: 2}
    constraints = _constraints(users, {}, [])
    result = cluster(4, _edges([(0, 1, IDENTIFIER), (0, 2, IDENTIFIER)]), constraints, CONFIG)
    assert len(set(result.labels[:3].tolist())) == 3
    assert [reason for _, reason in result.blocked] == [
        "would give one customer 2 distinct user_id (limit 1)"
    ] * 2
    aliased = cluster(4, _edges([(0, 1, LINK)]), constraints, CONFIG)
    assert aliased.labels[0] == aliased.labels[1]


def test_conflicting_birth_dates_never_merge() -> None:
    constraints = _constraints({}, {0: "1980-01-01", 1: "1980-02-03"}, [])
    result = cluster(2, _edges([(0, 1, IDENTIFIER)]), constraints, CONFIG)
    assert result.labels[0] != result.labels[1]
    assert result.blocked == [(0, "records disagree on birth_date")]


def test_a_cannot_link_beats_an_alias() -> None:
    result = cluster(
        3, _edges([(0, 1, LINK), (1, 2, LINK)]), _constraints({}, {}, [(0, 2)]), CONFIG
    )
    assert result.labels[0] == result.labels[1] != result.labels[2]
    assert result.blocked == [(1, KEPT_APART)]


def test_ids_survive_and_the_larger_part_keeps_the_id() -> None:
    previous = {"a": "C-1", "b": "C-1", "c": "C-1", "d": "C-2"}
    # C-1 splits into {a, b} and {c}; {d} merges with a new record.
    ids = assign_ids([["c"], ["a", "b"], ["d", "e"], ["f"]], previous)
    assert ids[1] == "C-1"
    assert ids[2] == "C-2"
    assert ids[0] not in {"C-1", "C-2"} and ids[3] not in {"C-1", "C-2"}
    assert len(set(ids)) == 4
    assert assign_ids([["c"], ["a", "b"], ["d", "e"], ["f"]], previous) == ids


@settings(max_examples=150, deadline=None)
@given(n=st.integers(min_value=2, max_value=30), data=st.data())
def test_edges_refused_without_replay_get_the_replays_reasons(n: int, data: st.DataObject) -> None:
    """Edges between records with two birth dates are refused before the replay; with or
    without that shortcut the groups, accepted links and refusals (with reasons) agree."""
    users = {i: data.draw(st.integers(0, 2)) for i in range(n) if data.draw(st.booleans())}
    dates = {
        i: data.draw(st.sampled_from(["1980-01-01", "1990-02-02", "1971-03-03"]))
        for i in range(n)
        if data.draw(st.integers(0, 3)) > 0
    }
    kinds = [IDENTIFIER, FUZZY] + ([LINK] if data.draw(st.booleans()) else [])
    rows = [
        (a, b, kind)
        for a, b, kind in data.draw(
            st.lists(
                st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.sampled_from(kinds)),
                max_size=80,
            )
        )
        if a != b
    ]
    shortcut = cluster(n, _edges(rows), _constraints(users, dates, []), CONFIG)

    def nothing_sure(*args: Any) -> npt.NDArray[np.bool_]:
        return np.zeros(len(args[3]), dtype=bool)  # args[3]: the tense edges

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(components, "_surely_refused", nothing_sure)
        replayed = cluster(n, _edges(rows), _constraints(users, dates, []), CONFIG)
    assert shortcut.labels.tolist() == replayed.labels.tolist()
    assert shortcut.accepted.tolist() == replayed.accepted.tolist()
    assert shortcut.blocked == replayed.blocked


def test_a_birth_date_typo_merges_but_a_third_date_in_the_component_does_not() -> None:
    dates = {0: "1980-01-01", 1: "1980-01-07", 2: "1962-05-30"}
    constraints = _constraints({}, dates, [])
    result = cluster(3, _edges([(0, 1, IDENTIFIER), (1, 2, IDENTIFIER)]), constraints, CONFIG)
    assert result.labels[0] == result.labels[1] != result.labels[2]
    assert result.blocked == [(1, "records disagree on birth_date")]
