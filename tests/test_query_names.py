"""`IdentityGraph.find_by_name` and `summaries` against a scan of every customer in Python."""

from __future__ import annotations

from pathlib import Path

import pytest

from idgraph.pipeline import IngestReport
from idgraph.query import IdentityGraph


def everyone(graph: IdentityGraph) -> list[dict[str, str | None]]:
    rows = graph.store.query(
        "all_names",
        "MATCH (c:Customer) RETURN c.id AS id, c.first_name AS first, c.last_name AS last",
    )
    return rows


@pytest.mark.parametrize(
    "query", ["Rebecca Serra", "serra", "ROSSI", "mario", "pablo sánchez", "Nobody Atall"]
)
def test_name_search_matches_a_python_scan(
    query: str, fixture_store: tuple[Path, IngestReport]
) -> None:
    words = query.lower().split()
    with IdentityGraph(store=fixture_store[0]) as graph:
        found = [c.id for c in graph.find_by_name(query, limit=500)]
        expected = sorted(
            row["id"]
            for row in everyone(graph)
            if (
                len(words) > 1
                and (row["first"] or "").lower() == words[0]
                and (row["last"] or "").lower() == " ".join(words[1:])
            )
            or (row["first"] or "").lower() == " ".join(words)
            or (row["last"] or "").lower() == " ".join(words)
        )
    assert sorted(found) == expected
    if query != "Nobody Atall":
        assert found


def test_blank_name_finds_nobody_and_summaries_skip_unknown_ids(
    fixture_store: tuple[Path, IngestReport],
) -> None:
    with IdentityGraph(store=fixture_store[0]) as graph:
        assert graph.find_by_name("   ") == []
        some = [row["id"] for row in everyone(graph)[:3]]
        summaries = graph.summaries([*some, "C-nobody"])
    assert [s.id for s in summaries] == sorted(some)
    assert all(s.record_count >= 1 for s in summaries)
