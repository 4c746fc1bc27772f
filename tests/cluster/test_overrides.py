"""Human overrides: must-link (`idgraph link`) and cannot-link (`idgraph split`) survive runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from idgraph.cli import app
from idgraph.errors import ConfigError, NotFoundError
from idgraph.pipeline import Overrides, run_ingest
from idgraph.query import IdentityGraph
from tests.conftest import FIXTURES, ingest_fixtures, load_truth


@pytest.fixture
def store(fixture_store_copy: Path) -> Path:
    return fixture_store_copy


def _customer(store: Path, key: str) -> str:
    with IdentityGraph(store) as graph:
        return graph.lookup(key)[0]


def test_link_merges_two_people_and_survives_a_later_ingest(store: Path, tmp_path: Path) -> None:
    truth = load_truth()
    assert truth["crm:C1026"] != truth["crm:C1028"]
    run_ingest([], store=store, overrides=Overrides(must_link=[("crm:C1026", "crm:C1028")]))
    assert _customer(store, "crm:C1026") == _customer(store, "crm:C1028")
    ingest_fixtures(store, tmp_path, as_of="2026-11-01")
    assert _customer(store, "crm:C1026") == _customer(store, "crm:C1028")
    with IdentityGraph(store) as graph:
        flagged = {i.customer_id: i.reasons for i in graph.review(limit=500)}
    assert any("dates of birth" in r for r in flagged[_customer(store, "crm:C1026")])


def test_split_separates_records_and_survives_a_later_ingest(store: Path, tmp_path: Path) -> None:
    before = _customer(store, "crm:C1097")
    with IdentityGraph(store) as graph:
        members = [r.key for r in graph.profile(before).records]
    taken = ["crm:C1097"]
    pairs = [(a, b) for a in taken for b in members if b not in taken]
    run_ingest([], store=store, overrides=Overrides(cannot_link=pairs))
    rest = [k for k in members if k not in taken]
    assert _customer(store, "crm:C1097") not in {_customer(store, k) for k in rest}
    assert {_customer(store, k) for k in rest} == {before}  # the larger part keeps the id
    ingest_fixtures(store, tmp_path, as_of="2026-11-01")
    assert _customer(store, "crm:C1097") != _customer(store, rest[0])
    with pytest.raises(ConfigError, match="split apart by a reviewer"):
        run_ingest([], store=store, overrides=Overrides(must_link=[("crm:C1097", rest[0])]))


def test_overrides_name_unknown_records(store: Path) -> None:
    with pytest.raises(NotFoundError, match="no record with key 'crm:nope'"):
        run_ingest([], store=store, overrides=Overrides(must_link=[("crm:C1026", "crm:nope")]))


def test_cli_link_and_split(store: Path) -> None:
    runner = CliRunner()
    s = ["--store", str(store)]
    linked = runner.invoke(app, ["link", "crm:C1026", "crm:C1028", *s])
    assert linked.exit_code == 0, linked.output
    assert "linked: crm:C1026 and crm:C1028 are customer" in linked.output
    customer = _customer(store, "crm:C1026")
    split = runner.invoke(app, ["split", customer, "--records", "crm:C1028", *s])
    assert split.exit_code == 0, split.output
    assert _customer(store, "crm:C1026") != _customer(store, "crm:C1028")
    wrong = runner.invoke(app, ["split", customer, "--records", "pos:nope", *s])
    assert wrong.exit_code == 2 and "not records of" in wrong.output
    assert (FIXTURES / "crm.csv").exists()


def _store_rows(store: Path, cypher: str) -> list[dict[str, object]]:
    """Read the store directly (not through the code under test)."""
    from idgraph.settings import open_store

    with open_store(store, read_only=True) as graph:
        return graph.query("test", cypher)


def test_cli_split_then_unsplit_makes_one_customer_again(store: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    s = ["--store", str(store)]
    before = _customer(store, "crm:C1097")
    with IdentityGraph(store) as graph:
        members = sorted(r.key for r in graph.profile(before).records)
    assert len(members) > 1
    split = runner.invoke(app, ["split", before, "--records", "crm:C1097", "--reason", "x", *s])
    assert split.exit_code == 0, split.output
    part = _customer(store, "crm:C1097")
    assert part != before
    apart = "MATCH (:Record)-[k:CANNOT_LINK]->(:Record) RETURN count(k) AS n"
    assert _store_rows(store, apart)[0]["n"] == len(members) - 1

    undo = runner.invoke(
        app, ["unsplit", before, part, "--reason", "same person", "--by", "ana", *s]
    )
    assert undo.exit_code == 0, undo.output
    assert f"their records are customer {before}" in undo.output
    assert _store_rows(store, apart)[0]["n"] == 0
    owners = _store_rows(
        store,
        "MATCH (c:Customer)-[:HAS_RECORD]->(r:Record) WHERE r.key IN "
        + repr(members).replace("'", '"')
        + " RETURN DISTINCT c.id AS id",
    )
    assert [row["id"] for row in owners] == [before]
    history = runner.invoke(app, ["history", part, "--format", "json", *s])
    assert history.exit_code == 0, history.output
    kinds = [e["kind"] for e in __import__("json").loads(history.output)["entries"]]
    assert "split_from" in kinds and "merged_into" in kinds
    with IdentityGraph(store) as graph:
        entries = graph.history(before).entries
    undone = [e for e in entries if e.kind == "absorbed" and e.other == part]
    assert undone and "split undone: by ana: same person (the split was: x)" in undone[0].detail
    assert any(e.kind == "split_off" and e.other == part for e in entries)
    # A later ingest keeps them together: no cannot-link is left to obey.
    ingest_fixtures(store, tmp_path, as_of="2026-11-01")
    assert {_customer(store, k) for k in members} == {before}
    again = runner.invoke(app, ["unsplit", before, before, *s])
    assert again.exit_code == 2 and "one customer" in again.output


def test_unsplit_refuses_customers_no_split_keeps_apart(store: Path) -> None:
    from idgraph.overrides import unsplit_customers
    from idgraph.settings import open_store

    a, b = _customer(store, "crm:C1026"), _customer(store, "crm:C1028")
    assert a != b
    with open_store(store) as graph, pytest.raises(ConfigError, match="no reviewer's split"):
        unsplit_customers(graph, a, b)


def _changes_in_store(store: Path, since: int) -> set[tuple[str, str, str]]:
    rows = _store_rows(
        store,
        "MATCH (s:SegmentChange) WHERE s.ts >= "
        + str(since)
        + " RETURN s.segment AS segment, s.customer AS customer, s.change AS change",
    )
    return {(str(r["segment"]), str(r["customer"]), str(r["change"])) for r in rows}


def _moves(preview: dict[str, dict[str, list[str]]] | None) -> set[tuple[str, str, str]]:
    assert preview is not None
    return {
        (name, cid, "entered" if side == "entered" else "exited")
        for name, sides in preview.items()
        for side, ids in sides.items()
        for cid in ids
    }


def test_previewed_segment_moves_are_what_the_change_records(store: Path) -> None:
    import time

    from idgraph.overrides import preview_change, split_customer, unsplit_customers
    from idgraph.segment.definition import parse_segment
    from idgraph.segment.saved import run_saved_segment, save_segment
    from idgraph.settings import open_store

    with open_store(store) as graph:
        for name, where in (
            ("with_email", {"trait": "email", "op": "exists"}),
            ("without_email", {"trait": "email", "op": "missing"}),
        ):
            save_segment(graph, parse_segment({"name": name, "where": where}, source="test"))
            run_saved_segment(graph, name)
    customer = _customer(store, "crm:C1097")
    with IdentityGraph(store) as reader:
        profile = reader.profile(customer)
    assert profile.golden.get("email")
    emailed = [r.key for r in profile.records if r.fields.get("email")]
    taken = emailed[:1]
    with open_store(store) as graph:
        version = graph.state_version()
        preview = preview_change(graph, split=(customer, taken))
        assert graph.state_version() == version  # the rehearsal kept nothing
        expected = _moves(preview.segment_moves)
        assert any(change == "entered" for _, _, change in expected)
        since = int(time.time() * 1000)
        split_customer(graph, customer, taken)
    assert _changes_in_store(store, since) == expected
    part = _customer(store, taken[0])
    with open_store(store) as graph:
        undo = preview_change(graph, unsplit=(customer, part))
        expected = _moves(undo.segment_moves)
        assert (("with_email", part, "exited")) in expected
        since = int(time.time() * 1000)
        unsplit_customers(graph, customer, part)
    assert _changes_in_store(store, since) == expected


def _stages(report: object) -> set[str]:
    return {t.stage for t in report.resolution.timings}  # type: ignore[attr-defined]


def _history_of(store: Path, customer: str) -> list[tuple[str, str | None, str]]:
    with IdentityGraph(store) as reader:
        return [(e.kind, e.other, e.detail) for e in reader.history(customer).entries]


def test_a_change_confirmed_after_its_preview_writes_the_previewed_plan(
    store: Path, tmp_path: Path
) -> None:
    from bench.spark_scale import members_of_store
    from bench.store_copy import copy_store
    from idgraph.overrides import link_records, preview_change, split_customer
    from idgraph.settings import open_store

    twin = copy_store(store, tmp_path / "twin" / store.name)
    customer = _customer(store, "crm:C1097")
    with IdentityGraph(store) as reader:
        taken = [reader.profile(customer).records[-1].key]
    with open_store(store) as graph:
        preview = preview_change(graph, split=(customer, taken), reason="a shared till")
        done = split_customer(graph, customer, taken, reason="a shared till")
    with open_store(twin) as graph:
        fresh = split_customer(graph, customer, taken, reason="a shared till")
    assert "resolve" in _stages(fresh) and "resolve" not in _stages(done)
    assert done.into == fresh.into == _preview_ids(preview, customer)
    assert members_of_store(store) == members_of_store(twin)
    assert done.resolution.segment_changes == fresh.resolution.segment_changes
    assert [(k, o) for k, o, _ in _history_of(store, customer)] == [
        (k, o) for k, o, _ in _history_of(twin, customer)
    ]
    assert any("a shared till" in d for _, _, d in _history_of(store, customer))

    # Another reason is another change; a write in between makes the plan stale.
    pair = ("crm:C1026", "crm:C1028")
    with open_store(store) as graph:
        preview_change(graph, link=pair, reason="one")
        other = link_records(graph, *pair, reason="two")
        assert "resolve" in {t.stage for t in other.resolution.timings}
    with open_store(twin) as graph:
        preview_change(graph, link=pair)
        link_records(graph, "crm:C1097", "crm:C1103", reason="in between")
        late = link_records(graph, *pair)
        assert "resolve" in {t.stage for t in late.resolution.timings}
    assert _customer(twin, pair[0]) == _customer(twin, pair[1])


def _preview_ids(preview: object, customer: str) -> list[str]:
    """The customers a split preview says the records go to (the kept id and the new ones)."""
    ids = {customer, *(new for new, _ in preview.split_ids)}  # type: ignore[attr-defined]
    return sorted(ids)
