"""segment_members and segment_entries_since on a store with materialised segments.

Segment materialisation is not part of idgraph yet, so the test writes Segment nodes and
IN_SEGMENT edges itself from `run_segment`'s members, each entering a day after the previous one.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from idgraph.segment.definition import load_segment
from idgraph.segment.run import folder_resolver, run_segment
from idgraph.settings import open_store
from tests.analyst.conftest import customer_of_record, cypher
from tests.conftest import AS_OF, FIXTURES, ingest_fixtures, load_truth

AS_OF_MS = int(datetime.fromisoformat(AS_OF).replace(tzinfo=UTC).timestamp() * 1000)
DAY_MS = 86_400_000
SEGMENTS = sorted((FIXTURES / "segments").glob("*.yaml"))
#: Hand-written fixture segments are not in segment_truth.csv; only generated ones are written.


def _segment_truth() -> dict[str, set[str]]:
    expected: dict[str, set[str]] = defaultdict(set)
    with (FIXTURES / "segment_truth.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            expected[row["segment"]].add(row["person_id"])
    return dict(expected)


@pytest.fixture(scope="module")
def segment_store(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, dict[tuple[str, str], int]]]:
    """The fixtures with every fixture segment written as IN_SEGMENT edges.

    Yields the store and `since_ts` per (segment, customer id).
    """
    folder = tmp_path_factory.mktemp("analyst_segments")
    path = folder / "idgraph.db"
    ingest_fixtures(path, folder)
    since: dict[tuple[str, str], int] = {}
    with open_store(path) as store:
        for definition_path in SEGMENTS:
            if definition_path.stem not in _segment_truth():
                continue
            definition = load_segment(definition_path)
            result = run_segment(
                store,
                definition,
                as_of_ms=AS_OF_MS,
                resolve=folder_resolver(definition_path.parent),
            )
            members = [
                {"id": m.id, "since_ts": AS_OF_MS - i * DAY_MS}
                for i, m in enumerate(result.members)
            ]
            store.query(
                "test_segment_node",
                "CREATE (:Segment {name: $name, definition: $definition, updated_ts: $ts})",
                {"name": definition.name, "definition": definition_path.name, "ts": AS_OF_MS},
            )
            store.query(
                "test_in_segment",
                "UNWIND $members AS m "
                "MATCH (c:Customer {id: m.id}), (s:Segment {name: $name}) "
                "CREATE (c)-[:IN_SEGMENT {since_ts: m.since_ts}]->(s)",
                {"members": members, "name": definition.name},
            )
            since.update({(definition.name, m["id"]): m["since_ts"] for m in members})
    yield path, since


@pytest.fixture(scope="module")
def person_of(segment_store: tuple[Path, dict[tuple[str, str], int]]) -> dict[str, str]:
    truth = load_truth()
    return {
        customer: truth[record] for record, customer in customer_of_record(segment_store[0]).items()
    }


@pytest.mark.parametrize("segment", sorted(_segment_truth()))
def test_segment_members_are_the_expected_people(
    segment_store: tuple[Path, dict[tuple[str, str], int]],
    person_of: dict[str, str],
    segment: str,
) -> None:
    path, since = segment_store
    rows = cypher(path, "segment_members", f"segment={segment}")
    assert {person_of[r["customer_id"]] for r in rows} == _segment_truth()[segment]
    assert len(rows) == len(_segment_truth()[segment])
    assert [r["customer_id"] for r in rows] == sorted(r["customer_id"] for r in rows)
    assert all(r["since_ts"] == since[(segment, r["customer_id"])] for r in rows)


def test_unknown_segment_has_no_members(
    segment_store: tuple[Path, dict[tuple[str, str], int]],
) -> None:
    assert cypher(segment_store[0], "segment_members", "segment=no_such_segment") == []


@pytest.mark.parametrize("days", [0, 2, 5, 100])
def test_segment_entries_since_filters_by_time(
    segment_store: tuple[Path, dict[tuple[str, str], int]],
    person_of: dict[str, str],
    days: int,
) -> None:
    path, since = segment_store
    threshold = AS_OF_MS - days * DAY_MS
    rows = cypher(path, "segment_entries_since", f"since_ts={threshold}")
    expected = {pair for pair, ts in since.items() if ts >= threshold}
    assert {(r["segment"], r["customer_id"]) for r in rows} == expected
    assert len(rows) == len(expected)
    stamps = [r["since_ts"] for r in rows]
    assert stamps == sorted(stamps, reverse=True)
    if days == 0:
        assert {r["segment"] for r in rows} == set(_segment_truth())
    if days == 100:
        people = {(r["segment"], person_of[r["customer_id"]]) for r in rows}
        assert people == {(s, p) for s, ps in _segment_truth().items() for p in ps}


def test_segment_entries_since_needs_a_number(
    segment_store: tuple[Path, dict[tuple[str, str], int]],
) -> None:
    message = cypher(segment_store[0], "segment_entries_since", "since_ts=last week", expect=2)
    assert "$since_ts" in message and "whole number" in message
