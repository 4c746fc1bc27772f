"""Continuous ingest (issue 6): incremental resolution, stable ids, history, segment causes.

Small hand-written sources make each situation explicit: two customers created at different
times, then a record that bridges them; a reviewer's split; a new event that moves a customer
into a segment. Every check reads the store back through the public query module.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from idgraph.cli import app
from idgraph.pipeline import IngestReport, Overrides, run_ingest
from idgraph.query import HistoryEntry, IdentityGraph
from idgraph.segment.definition import parse_segment
from idgraph.segment.saved import run_saved_segment, save_segment, segment_changes
from idgraph.settings import open_store
from tests.conftest import FIXTURE_INPUTS, ingest_fixtures
from tests.small_sources import write_csv as _csv

AS_OF_MS = 1_793_491_200_000  # 2026-11-01


def _ingest(store: Path, *paths: Path, **kwargs: object) -> IngestReport:
    report = run_ingest(
        list(paths),
        store=store,
        rejects_path=store.parent / "rejects.jsonl",
        as_of_ms=AS_OF_MS,
        **kwargs,  # type: ignore[arg-type]
    )
    assert report.read == report.ingested + report.rejected
    return report


def _override(store: Path, overrides: Overrides) -> IngestReport:
    """Store a reviewer's overrides and re-resolve under them, as `idgraph link` / `split` do."""
    return run_ingest(
        [],
        store=store,
        rejects_path=store.parent / "rejects.jsonl",
        as_of_ms=AS_OF_MS,
        overrides=overrides,
    )


def _entries(store: Path, customer_id: str, kind: str) -> list[HistoryEntry]:
    with IdentityGraph(store) as graph:
        return [e for e in graph.history(customer_id).entries if e.kind == kind]


def _owner(store: Path, record: str) -> str:
    with IdentityGraph(store) as graph:
        (customer,) = graph.lookup(record)
    return customer


@pytest.fixture
def bridged(tmp_path: Path) -> tuple[Path, str, str]:
    """Customer A (1 record), then customer B (3 records), then a record bridging them."""
    store = tmp_path / "idgraph.db"
    _ingest(store, _csv(tmp_path / "1", "crm", [{"id": "a1", "email": "ann@x.it"}]))
    b_rows = [{"id": f"b{i}", "phone": "+390612345678"} for i in range(3)]
    _ingest(store, _csv(tmp_path / "2", "pos", b_rows))
    older, newer = _owner(store, "crm:a1"), _owner(store, "pos:b0")
    assert older != newer
    report = _ingest(
        store,
        _csv(tmp_path / "3", "web", [{"id": "w1", "email": "ann@x.it", "phone": "+390612345678"}]),
    )
    assert report.mode == "incremental" and report.merged_ids == [(newer, older)]
    return store, older, newer


def test_the_oldest_id_survives_a_merge_even_against_more_records(
    bridged: tuple[Path, str, str],
) -> None:
    store, older, _ = bridged
    assert {_owner(store, key) for key in ("crm:a1", "pos:b0", "pos:b2", "web:w1")} == {older}


def test_a_merged_id_still_answers_with_the_survivor(bridged: tuple[Path, str, str]) -> None:
    store, older, newer = bridged
    with IdentityGraph(store) as graph:
        assert graph.lookup(newer) == [older]
        assert graph.profile(newer).id == older
        assert graph.current_id(newer) == older
        history = graph.history(newer)
    assert history.status == "merged" and history.current == older
    merged = [e for e in history.entries if e.kind == "merged_into"]
    assert [(e.other, e.records) for e in merged] == [(older, 3)]
    assert "web:w1" in merged[0].detail and "same_" in merged[0].detail
    assert history.entries[0].kind == "created"


def test_history_of_the_survivor_lists_what_it_absorbed(bridged: tuple[Path, str, str]) -> None:
    store, older, newer = bridged
    with IdentityGraph(store) as graph:
        history = graph.history(older)
    assert history.status == "active" and history.current == older
    assert [(e.kind, e.other) for e in history.entries if e.kind != "created"] == [
        ("absorbed", newer)
    ]
    result = CliRunner().invoke(app, ["history", newer, "--store", str(store), "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["current"] == older and data["status"] == "merged"


def test_unknown_id_has_no_history(bridged: tuple[Path, str, str]) -> None:
    store, _, _ = bridged
    result = CliRunner().invoke(app, ["history", "C-000000000000", "--store", str(store)])
    assert result.exit_code != 0 and "was ever issued" in result.output


def test_a_split_keeps_the_id_on_the_larger_part_and_records_the_other(
    bridged: tuple[Path, str, str],
) -> None:
    store, older, _ = bridged
    _override(store, Overrides(cannot_link=[("crm:a1", "web:w1")], reason="different people"))
    assert _owner(store, "web:w1") == older  # w1 + the three b records: the larger part
    part = _owner(store, "crm:a1")
    assert part != older
    with IdentityGraph(store) as graph:
        mine = graph.history(older)
        theirs = graph.history(part)
    split = [e for e in mine.entries if e.kind == "split_off"]
    assert [(e.other, e.records) for e in split] == [(part, 1)]
    assert "different people" in split[0].detail
    assert [(e.kind, e.other) for e in theirs.entries] == [("created", None), ("split_from", older)]


def test_records_moving_to_another_customer_show_in_both_histories(
    bridged: tuple[Path, str, str],
) -> None:
    """A reviewer takes crm:a1 out of the bridged customer and joins it to Cleo's: both ids
    live on, so it is neither a merge nor a split, and still both histories say so."""
    store, older, _ = bridged
    _ingest(store, _csv(store.parent / "4", "crm", [{"id": "c9", "email": "cleo@x.it"}]))
    cleo = _owner(store, "crm:c9")
    defn = parse_segment(
        {"name": "repeat", "where": {"trait": "record_count", "op": ">=", "value": 2}}, source="-"
    )
    with open_store(store) as graph:
        save_segment(graph, defn)
        run_saved_segment(graph, "repeat", as_of_ms=AS_OF_MS)
    report = _override(
        store,
        Overrides(
            must_link=[("crm:a1", "crm:c9")],
            cannot_link=[("crm:a1", "web:w1")],
            reason="a1 is Cleo's old address",
        ),
    )
    assert _owner(store, "crm:a1") == cleo and _owner(store, "web:w1") == older
    assert report.moved_records == [(older, cleo, 1)]
    assert not report.merged_ids and not report.split_ids
    (out,) = _entries(store, older, "moved_out")
    assert (out.other, out.records) == (cleo, 1) and "Cleo's old address" in out.detail
    (into,) = _entries(store, cleo, "moved_in")
    assert (into.other, into.records) == (older, 1)
    assert "crm:a1 ~ crm:c9 by must_link" in into.detail
    # Cleo's customer now has two records: it entered, and the move is why.
    with open_store(store, read_only=True) as graph:
        changes = segment_changes(graph, "repeat")
    assert [(c.customer, c.change, c.cause) for c in changes][-1] == (cleo, "entered", "merge")
    result = CliRunner().invoke(app, ["history", cleo, "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert "moved in" in result.output and older in result.output


def test_a_link_that_a_guard_cannot_merge_moves_the_record_and_says_so(tmp_path: Path) -> None:
    """web:w1 and web:w2 are login u1, crm:c1 shares w1's email; web:w3 is login u2. Linking
    c1 with w3 would put two logins in one customer, so the email link is refused and c1
    moves to w3's customer, which `idgraph link` reports and both histories keep."""
    store = tmp_path / "idgraph.db"
    web = tmp_path / "web"
    web.mkdir()
    (web / "web.csv").write_text("id,uid,email\nw1,u1,ann@x.it\nw2,u1,\nw3,u2,\n", encoding="utf-8")
    (web / "web.mapping.yaml").write_text(
        "source: web\nid: id\ncolumns:\n  user_id: uid\n  email: email\n", encoding="utf-8"
    )
    _ingest(store, web / "web.csv")
    _ingest(store, _csv(tmp_path / "crm", "crm", [{"id": "c1", "email": "ann@x.it"}]))
    ann, other = _owner(store, "web:w1"), _owner(store, "web:w3")
    assert _owner(store, "crm:c1") == ann != other
    result = CliRunner().invoke(app, ["link", "crm:c1", "web:w3", "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert f"linked: crm:c1 and web:w3 are customer {other}" in result.output
    assert f"1 record(s) moved from {ann} to {other}" in result.output
    assert _owner(store, "web:w1") == _owner(store, "web:w2") == ann
    (out,) = _entries(store, ann, "moved_out")
    (into,) = _entries(store, other, "moved_in")
    assert out.other == other and "crm:c1 ~ web:w1" in out.detail and "refused" in out.detail
    assert into.other == ann and "must_link" in into.detail


def test_a_batch_re_resolves_its_neighbourhood_not_the_store(tmp_path: Path) -> None:
    store = tmp_path / "idgraph.db"
    ingest_fixtures(store, tmp_path)
    report = _ingest(
        store, _csv(tmp_path / "new", "crm", [{"id": "n1", "email": "nobody-else@x.it"}])
    )
    assert report.mode == "incremental"
    assert (report.records_new, report.records_resolved, report.customers_touched) == (1, 1, 1)
    assert report.records_total == 249


def test_repeating_unchanged_files_touches_nothing(tmp_path: Path) -> None:
    store = tmp_path / "idgraph.db"
    first = ingest_fixtures(store, tmp_path)
    again = ingest_fixtures(store, tmp_path)
    assert again.records_unchanged == first.records_new
    assert (again.records_resolved, again.customers_touched, again.events_new) == (0, 0, 0)
    assert again.customers == first.customers


def test_incremental_batches_leave_nothing_for_a_full_run_to_change(tmp_path: Path) -> None:
    """Every fixture file alone, in an awkward order: a full re-resolve then finds nothing to
    merge or split, and gives each customer the id the incremental runs gave it."""
    store = tmp_path / "idgraph.db"
    for path in reversed(FIXTURE_INPUTS):
        _ingest(store, path)
    with IdentityGraph(store) as graph:
        before = dict(graph.clusters())
    dry = run_ingest([], store=store, rejects_path=tmp_path / "r.jsonl", dry_run=True)
    assert dry.changes is not None and dry.changes.unchanged, dry.changes
    full = _ingest(store, full=True)
    assert full.mode == "full" and not full.merged_ids and not full.split_ids
    with IdentityGraph(store) as graph:
        assert dict(graph.clusters()) == before


def test_segment_changes_carry_their_cause(bridged: tuple[Path, str, str]) -> None:
    store, older, _ = bridged
    defn = parse_segment(
        {"name": "with_email", "where": {"trait": "email", "op": "exists"}}, source="-"
    )
    with open_store(store) as graph:
        save_segment(graph, defn)
        run_saved_segment(graph, "with_email", as_of_ms=AS_OF_MS)
    # A new customer with an email enters because of its new record...
    _ingest(store, _csv(store.parent / "4", "crm", [{"id": "c9", "email": "cleo@x.it"}]))
    # ...and a reviewer's split makes the part it cut out a customer of its own, with an email.
    _override(store, Overrides(cannot_link=[("crm:a1", "web:w1")]))
    with open_store(store, read_only=True) as graph:
        changes = segment_changes(graph, "with_email")
    assert [(c.customer, c.change, c.cause) for c in changes] == [
        (older, "entered", "segment run"),
        (_owner(store, "crm:c9"), "entered", "new record"),
        (_owner(store, "crm:a1"), "entered", "split"),
    ]
    with IdentityGraph(store) as graph:
        assert graph.in_segment(_owner(store, "crm:a1"), "with_email")


def test_a_new_holder_of_an_over_shared_value_links_nobody(tmp_path: Path) -> None:
    """The shop's till email is on 18 records and 10 first names (max_names 3): a new record
    carrying it joins the stored identifier without loading its holders, and stays alone."""
    store = tmp_path / "idgraph.db"
    ingest_fixtures(store, tmp_path)
    till = [{"id": f"s{n}", "email": "cassa.milano@ortensia-store.com"} for n in range(8)]
    _ingest(store, _csv(tmp_path / "shop", "pos3", till))
    report = _ingest(
        store,
        _csv(tmp_path / "till", "pos2", [{"id": "t1", "email": "cassa.milano@ortensia-store.com"}]),
    )
    assert report.mode == "incremental" and report.records_resolved == 1
    with IdentityGraph(store) as graph:
        (customer,) = graph.lookup("pos2:t1")
        profile = graph.profile(customer)
    assert [r.key for r in profile.records] == ["pos2:t1"]
    (email,) = profile.identifiers
    assert not email.linking and email.reason.startswith("held by 10 different first names")
