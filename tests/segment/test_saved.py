"""Saved segments on the real embedded store: save, run (IN_SEGMENT + deltas), history, delete,
and the query module's membership reads, judged against the fixtures' segment truth."""

from __future__ import annotations

import csv
import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from idgraph.cli import app
from idgraph.errors import NotFoundError, SegmentDefinitionError
from idgraph.query import IdentityGraph
from idgraph.segment.definition import load_segment, parse_segment
from idgraph.segment.saved import (
    delete_segment,
    get_segment,
    list_segments,
    run_saved_segment,
    save_segment,
    segment_history,
)
from idgraph.settings import open_store
from tests.conftest import AS_OF, FIXTURES, ingest_fixtures, load_truth

SEGMENTS = FIXTURES / "segments"
AS_OF_MS = int(dt.datetime.fromisoformat(AS_OF).replace(tzinfo=dt.UTC).timestamp() * 1000)
DAY = 86_400_000


def expected_people(segment: str) -> set[str]:
    with (FIXTURES / "segment_truth.csv").open(newline="", encoding="utf-8") as handle:
        return {row["person_id"] for row in csv.DictReader(handle) if row["segment"] == segment}


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("saved")
    ingest_fixtures(folder / "idgraph.db", folder)
    return folder / "idgraph.db"


@pytest.fixture(scope="module")
def people(store_path: Path) -> dict[str, str]:
    """customer id -> person id (each fixture customer is exactly one person)."""
    truth = load_truth()
    with IdentityGraph(store_path) as graph:
        return {customer: truth[record] for record, customer in graph.clusters()}


@pytest.fixture
def fresh(store_path: Path) -> Iterator[Path]:
    """The module's store with no saved segments left over from another test."""
    yield store_path
    with open_store(store_path) as store:
        for saved in sorted(list_segments(store), key=lambda s: "segment:" in s.definition):
            delete_segment(store, saved.name)


def test_run_materialises_exactly_the_true_members(fresh: Path, people: dict[str, str]) -> None:
    with open_store(fresh) as store:
        for path in sorted(SEGMENTS.glob("*.yaml")):
            defn = load_segment(path)
            if "segment:" in path.read_text(encoding="utf-8"):
                continue
            save_segment(store, defn, now_ms=AS_OF_MS)
            report = run_saved_segment(store, defn.name, as_of_ms=AS_OF_MS, now_ms=AS_OF_MS)
            truth = expected_people(defn.name)
            if truth:
                assert {people[m.id] for m in report.members} == truth, defn.name
            assert report.first_run and report.exited == []
            assert {m.id for m in report.entered} == {m.id for m in report.members}
    with IdentityGraph(fresh) as graph:
        page = graph.segment_members("lapsed_high_spenders", limit=1000)
        assert {people[m.id] for m in page.members} == expected_people("lapsed_high_spenders")
        assert all(m.since_ts == AS_OF_MS for m in page.members)


def test_second_run_reports_who_entered_and_who_exited(fresh: Path) -> None:
    with open_store(fresh) as store:
        defn = load_segment(SEGMENTS / "lapsed_high_spenders.yaml")
        save_segment(store, defn)
        early = run_saved_segment(store, defn.name, as_of_ms=AS_OF_MS - 200 * DAY, now_ms=1)
        late = run_saved_segment(store, defn.name, as_of_ms=AS_OF_MS, now_ms=2)
        before, after = {m.id for m in early.members}, {m.id for m in late.members}
        assert before != after  # the fixtures' lapsed set moves over 200 days
        assert {m.id for m in late.entered} == after - before
        assert set(late.exited) == before - after
        again = run_saved_segment(store, defn.name, as_of_ms=AS_OF_MS, now_ms=3)
        assert again.entered == [] and again.exited == []
        history = segment_history(store, defn.name)
    assert [(h.ts, h.size) for h in history] == [(1, len(before)), (2, len(after)), (3, len(after))]
    assert [(h.entered, h.exited) for h in history][1] == (
        len(after - before),
        len(before - after),
    )
    with IdentityGraph(fresh) as graph:
        stayed = sorted(before & after)
        assert stayed and all(graph.in_segment(c, defn.name) for c in stayed)
        gone = sorted(before - after)
        assert not any(graph.in_segment(c, defn.name) for c in gone)
        member = graph.segment_members(defn.name, limit=1000).members
        since = {m.id: m.since_ts for m in member}
        assert {since[c] for c in stayed} == {1} and {since[c] for c in after - before} <= {2}
        profile = graph.profile(stayed[0])
        assert [(s.name, s.since_ts) for s in profile.segments] == [(defn.name, 1)]


def test_membership_survives_a_later_ingest(fresh: Path, tmp_path: Path) -> None:
    with open_store(fresh) as store:
        defn = load_segment(SEGMENTS / "lapsed_high_spenders.yaml")
        save_segment(store, defn)
        report = run_saved_segment(store, defn.name, as_of_ms=AS_OF_MS, now_ms=5)
    ingest_fixtures(fresh, tmp_path)  # re-ingest rewrites customers on the embedded store
    with IdentityGraph(fresh) as graph:
        page = graph.segment_members(defn.name, limit=1000)
    assert {(m.id, m.since_ts) for m in page.members} == {(m.id, 5) for m in report.members}


def test_paging_is_ordered_and_complete(fresh: Path) -> None:
    with open_store(fresh) as store:
        defn = parse_segment(
            {"name": "everyone", "where": {"trait": "record_count", "op": ">=", "value": 1}},
            source="test",
        )
        save_segment(store, defn)
        run_saved_segment(store, "everyone", as_of_ms=AS_OF_MS)
    with IdentityGraph(fresh) as graph:
        total = graph.stats().customers
        pages = [graph.segment_members("everyone", offset=o, limit=40) for o in (0, 40, 80)]
        ids = [m.id for page in pages for m in page.members]
        assert pages[0].total == total
        assert ids == sorted(ids) and len(ids) == len(set(ids)) == total
        with pytest.raises(ValueError, match="limit"):
            graph.segment_members("everyone", limit=0)
        with pytest.raises(NotFoundError, match="no saved segment 'nobody'"):
            graph.segment_members("nobody")


def test_saving_validates_against_the_store(fresh: Path) -> None:
    bad = parse_segment(
        {"name": "bad", "where": {"trait": "shoe_size", "op": ">", "value": 40}}, source="t.yaml"
    )
    with open_store(fresh) as store:
        with pytest.raises(SegmentDefinitionError, match="unknown trait 'shoe_size'"):
            save_segment(store, bad)
        assert list_segments(store) == []
        with pytest.raises(NotFoundError, match="none is saved yet"):
            get_segment(store, "bad")


def test_saving_again_replaces_the_definition_and_keeps_membership(fresh: Path) -> None:
    with open_store(fresh) as store:
        defn = load_segment(SEGMENTS / "lapsed_high_spenders.yaml")
        save_segment(store, defn)
        first = run_saved_segment(store, defn.name, as_of_ms=AS_OF_MS)
        stricter = parse_segment(
            {
                "name": defn.name,
                "where": {
                    "all": [
                        {"trait": "lifetime_value", "op": ">=", "value": 2000},
                        {"not": {"event": "Order Completed", "within_days": 180}},
                    ]
                },
            },
            source="t",
        )
        save_segment(store, stricter)
        assert "2000" in get_segment(store, defn.name).definition
        second = run_saved_segment(store, defn.name, as_of_ms=AS_OF_MS)
    assert second.entered == []
    assert set(second.exited) == {m.id for m in first.members} - {m.id for m in second.members}
    assert second.exited


def test_delete_removes_membership_and_history(fresh: Path) -> None:
    with open_store(fresh) as store:
        defn = load_segment(SEGMENTS / "lapsed_high_spenders.yaml")
        save_segment(store, defn)
        run_saved_segment(store, defn.name, as_of_ms=AS_OF_MS)
        delete_segment(store, defn.name)
        assert store.query("left", "MATCH ()-[m:IN_SEGMENT]->() RETURN count(m) AS n")[0]["n"] == 0
        assert store.query("runs", "MATCH (r:SegmentRun) RETURN count(r) AS n")[0]["n"] == 0
        with pytest.raises(NotFoundError):
            delete_segment(store, defn.name)


def test_reads_from_many_threads_agree(store_path: Path) -> None:
    with IdentityGraph(store_path) as graph:
        customers = [c for _, c in graph.clusters()][:40]
        expected = {c: graph.profile(c).model_dump() for c in customers}
        results: dict[str, object] = {}
        errors: list[BaseException] = []

        def work(chunk: list[str]) -> None:
            try:
                for customer in chunk:
                    results[customer] = graph.profile(customer).model_dump()
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(customers[i::8],)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert results == expected


def test_cli_lifecycle(store_path: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    store = ["--store", str(store_path)]
    definition = str(SEGMENTS / "engaged_loyalty_members.yaml")
    saved = runner.invoke(app, ["segment", "save", definition, *store])
    assert saved.exit_code == 0, saved.output
    listed = runner.invoke(app, ["segment", "list", *store, "-f", "csv"])
    assert listed.stdout.splitlines()[1].startswith("engaged_loyalty_members,,")
    first = runner.invoke(
        app, ["segment", "run", "engaged_loyalty_members", *store, "--as-of", AS_OF, "--changes"]
    )
    assert first.exit_code == 0, first.output
    size = len(expected_people("engaged_loyalty_members"))
    assert f"{size} member(s), {size} entered, 0 exited (first run)" in first.output
    assert first.stdout.count("entered") == size
    shown = runner.invoke(app, ["segment", "show", "engaged_loyalty_members", *store])
    assert "min_count: 2" in shown.stdout and "runs" in shown.stdout
    preview = runner.invoke(
        app, ["segment", "preview", "engaged_loyalty_members", *store, "--as-of", AS_OF]
    )
    assert f"{size} member(s)" in preview.output
    gone = runner.invoke(app, ["segment", "delete", "engaged_loyalty_members", *store])
    assert gone.exit_code == 0
    missing = runner.invoke(app, ["segment", "run", "engaged_loyalty_members", *store])
    assert missing.exit_code == 2
    assert "no saved segment 'engaged_loyalty_members'" in missing.output
