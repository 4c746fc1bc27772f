"""Every generated fixture segment, run on the ingested fixtures, has exactly the expected members.

The expectation is `fixtures/segment_truth.csv`, which `bench/make_fixtures.py` derives from the
people it generated (not from idgraph); members are compared as true person ids via truth.csv.
Hand-written segments (not in that file) are checked by `tests/segment/test_fixture_oracle.py`,
which computes every fixture segment's members from the raw files.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from idgraph.pipeline import IngestReport
from idgraph.query import IdentityGraph
from idgraph.segment.definition import load_segment
from idgraph.segment.run import folder_resolver, run_segment
from tests.conftest import AS_OF, FIXTURES, load_truth

SEGMENTS = sorted((FIXTURES / "segments").glob("*.yaml"))


def _expected() -> dict[str, set[str]]:
    text = (FIXTURES / "segment_truth.csv").read_text(encoding="utf-8")
    expected: dict[str, set[str]] = defaultdict(set)
    for row in csv.DictReader(io.StringIO(text)):
        expected[row["segment"]].add(row["person_id"])
    return expected


GENERATED = [path for path in SEGMENTS if path.stem in _expected()]


def test_there_are_at_least_three_generated_segments() -> None:
    assert len(GENERATED) >= 3


@pytest.mark.parametrize("path", GENERATED, ids=lambda p: p.stem)
def test_segment_members_are_the_expected_people(
    fixture_store: tuple[Path, IngestReport], path: Path
) -> None:
    store, _ = fixture_store
    truth = load_truth()
    as_of_ms = int(datetime.fromisoformat(AS_OF).replace(tzinfo=UTC).timestamp() * 1000)
    definition = load_segment(path)
    with IdentityGraph(store) as graph:
        result = run_segment(
            graph.store,
            definition,
            as_of_ms=as_of_ms,
            resolve=folder_resolver(FIXTURES / "segments"),
        )
        person_of_customer = {}
        for record_key, customer_id in graph.clusters():
            person_of_customer[customer_id] = truth[record_key]
    people = {person_of_customer[m.id] for m in result.members}
    assert result.count == len(result.members) == len(people)
    assert people == _expected()[definition.name]
