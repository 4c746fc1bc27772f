"""The fixtures ingested into a live Neo4j read back exactly as from the embedded store.

The embedded store's own results are checked against fixtures/truth.csv elsewhere; here the
same truth, plus equality with the embedded store, pins down the Neo4j adapter.
"""

from __future__ import annotations

import csv
import itertools
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from idgraph.pipeline import IngestReport
from idgraph.segment.definition import load_segment
from idgraph.segment.run import SegmentResult, run_segment
from tests.conftest import AS_OF, FIXTURES, load_truth
from tests.neo4j.conftest import cli, open_graph

pytestmark = pytest.mark.neo4j

SEGMENTS = sorted((FIXTURES / "segments").glob("*.yaml"))
AS_OF_MS = int(datetime.fromisoformat(AS_OF).replace(tzinfo=UTC).timestamp() * 1000)


def _partition(assignment: dict[str, str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = defaultdict(set)
    for record_key, group in assignment.items():
        groups[group].add(record_key)
    return {frozenset(members) for members in groups.values()}


def _segment_truth() -> dict[str, set[str]]:
    expected: dict[str, set[str]] = defaultdict(set)
    with (FIXTURES / "segment_truth.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            expected[row["segment"]].add(row["person_id"])
    return expected


def _comparable(profile: dict[str, Any]) -> dict[str, Any]:
    """A profile without what legitimately differs between two ingests: the time they ran
    (`updated_ts`) and the order `collect()` happens to return records in."""
    profile["summary"].pop("updated_ts")
    for identifier in profile["identifiers"]:
        identifier["records"] = sorted(identifier["records"])
    profile["evidence"] = sorted(profile["evidence"], key=lambda e: repr(sorted(e.items())))
    return profile


def _segment(store: str | Path, path: Path) -> tuple[SegmentResult, dict[str, str]]:
    with open_graph(store) as graph:
        result = run_segment(graph.store, load_segment(path), as_of_ms=AS_OF_MS)
        return result, dict(graph.clusters())


def test_counts_reconcile(neo4j_fixtures: tuple[str, IngestReport]) -> None:
    _, report = neo4j_fixtures
    assert report.files
    for f in report.files:
        assert f.read == f.ingested + f.rejected > 0, f
    assert report.rejected == 0


def test_report_equals_embedded(
    neo4j_fixtures: tuple[str, IngestReport], fixture_store: tuple[Path, IngestReport]
) -> None:
    (_, live), (_, embedded) = neo4j_fixtures, fixture_store
    ignore = {"seconds", "rejects_path"}
    assert live.model_dump(exclude=ignore) == embedded.model_dump(exclude=ignore)


def test_clusters_are_the_true_people(neo4j_fixtures: tuple[str, IngestReport]) -> None:
    url, _ = neo4j_fixtures
    truth = load_truth()
    with open_graph(url) as graph:
        clusters = dict(graph.clusters())
    assert set(clusters) == set(truth)
    assert _partition(clusters) == _partition(truth)


def test_clusters_and_stats_equal_embedded(
    neo4j_fixtures: tuple[str, IngestReport], fixture_store: tuple[Path, IngestReport]
) -> None:
    (url, _), (path, _) = neo4j_fixtures, fixture_store
    with open_graph(url) as live, open_graph(path) as embedded:
        assert live.clusters() == embedded.clusters()
        assert live.stats() == embedded.stats()
        assert live.stats().records == len(load_truth())


@pytest.mark.parametrize("path", SEGMENTS, ids=lambda p: p.stem)
def test_segment_members_are_the_expected_people(
    neo4j_fixtures: tuple[str, IngestReport], fixture_store: tuple[Path, IngestReport], path: Path
) -> None:
    (url, _), (embedded_path, _) = neo4j_fixtures, fixture_store
    result, clusters = _segment(url, path)
    truth = load_truth()
    person_of = {customer: truth[record] for record, customer in clusters.items()}
    people = {person_of[member.id] for member in result.members}
    assert result.count == len(result.members) == len(people)
    assert people == _segment_truth()[result.name]
    embedded, _ = _segment(embedded_path, path)
    assert result.members == embedded.members


def test_every_profile_and_lookup_equals_embedded(
    neo4j_fixtures: tuple[str, IngestReport], fixture_store: tuple[Path, IngestReport]
) -> None:
    (url, _), (path, _) = neo4j_fixtures, fixture_store
    with open_graph(url) as live, open_graph(path) as embedded:
        clusters = dict(embedded.clusters())
        for record_key, customer_id in clusters.items():
            assert live.lookup(record_key) == [customer_id], record_key
        for customer_id in sorted(set(clusters.values())):
            mine = live.profile(customer_id, events=1000)
            theirs = embedded.profile(customer_id, events=1000)
            assert _comparable(mine.model_dump()) == _comparable(theirs.model_dump())
            for value in filter(None, (mine.golden.get("email"), mine.golden.get("phone"))):
                found = live.lookup(value)
                assert customer_id in found, value
                assert found == embedded.lookup(value), value


def _explain_pairs(clusters: dict[str, str]) -> list[tuple[str, str]]:
    """Each customer's first record with each of its others, and first records of neighbours."""
    members: dict[str, list[str]] = defaultdict(list)
    for record_key, customer_id in sorted(clusters.items()):
        members[customer_id].append(record_key)
    firsts = [keys[0] for keys in members.values()]
    same = [(keys[0], other) for keys in members.values() for other in keys[1:]]
    return same + list(itertools.pairwise(firsts))


def test_explain_walks_evidence_like_embedded(
    neo4j_fixtures: tuple[str, IngestReport], fixture_store: tuple[Path, IngestReport]
) -> None:
    (url, _), (path, _) = neo4j_fixtures, fixture_store
    with open_graph(url) as live, open_graph(path) as embedded:
        pairs = _explain_pairs(dict(embedded.clusters()))
        assert pairs
        for a, b in pairs:
            mine, theirs = live.explain(a, b), embedded.explain(a, b)
            context = f"{a} -> {b}: {mine}"
            assert (mine.customer_a, mine.customer_b) == (theirs.customer_a, theirs.customer_b)
            assert mine.same_customer == theirs.same_customer
            # Ties between shortest paths may be broken differently; their length may not.
            assert len(mine.steps) == len(theirs.steps), context
            if not mine.same_customer:
                assert mine.steps == [], context
                continue
            assert mine.steps, context
            assert mine.steps[0].from_record == a and mine.steps[-1].to_record == b, context
            for step, following in itertools.pairwise(mine.steps):
                assert step.to_record == following.from_record, context


def test_explain_command(neo4j_fixtures: tuple[str, IngestReport]) -> None:
    url, _ = neo4j_fixtures
    truth = load_truth()
    by_person: dict[str, list[str]] = defaultdict(list)
    for record_key, person in sorted(truth.items()):
        by_person[person].append(record_key)
    a, b = next(keys[:2] for keys in by_person.values() if len(keys) > 1)
    result = cli("explain", a, b, "--store", url)
    assert result.exit_code == 0, result.output
    assert a in result.output and b in result.output
