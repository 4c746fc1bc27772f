"""`idgraph review` and `ingest --dry-run` on the real embedded store, judged by raw fixtures."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import orjson
import pytest
import yaml
from typer.testing import CliRunner

from idgraph.cli import app
from idgraph.match.config import load_match_config
from idgraph.normalize.record import NormalizeOptions
from idgraph.pipeline import IngestReport, run_ingest
from idgraph.query import IdentityGraph
from tests.conftest import FIXTURES, load_truth


def customers_of_people(store: Path, people: set[str]) -> set[str]:
    truth = load_truth()
    with IdentityGraph(store) as graph:
        return {c for record, c in graph.clusters() if truth[record] in people}


def test_review_lists_every_customer_sharing_the_shops_email_or_the_family_tablet(
    fixture_store: tuple[Path, IngestReport],
) -> None:
    store, _ = fixture_store
    truth = load_truth()
    with (FIXTURES / "pos.csv").open(newline="", encoding="utf-8") as handle:
        shop = {
            truth[f"pos:{r['card_number']}"]
            for r in csv.DictReader(handle)
            if r["email"] == "cassa.milano@ortensia-store.com"
        }
    tablet = set()
    for line in (FIXTURES / "web.jsonl").read_text(encoding="utf-8").splitlines():
        call = orjson.loads(line)
        if call.get("anonymousId") == "tab-7f3a" and call.get("userId"):
            tablet.add(truth[f"web:user:{call['userId']}"])
    assert len(shop) > 2 and len(tablet) > 2
    with IdentityGraph(store) as graph:
        items = {i.customer_id: i for i in graph.review(limit=1000)}
    for customer in customers_of_people(store, shop):
        assert any("cassa.milano@ortensia-store.com" in r for r in items[customer].reasons)
        assert f"with {len(shop) - 1} other customer(s)" in " ".join(items[customer].reasons)
    for customer in customers_of_people(store, tablet):
        assert any("tab-7f3a" in r for r in items[customer].reasons)
    # the guards hold on the fixtures: nobody has two dates of birth
    assert not any("dates of birth" in r for i in items.values() for r in i.reasons)


def test_review_counts_each_customers_records(
    fixture_store: tuple[Path, IngestReport],
) -> None:
    """Customers listed only for an identifier they share showed 0 records."""
    store, _ = fixture_store
    with IdentityGraph(store) as graph:
        items = graph.review(limit=1000)
        held = Counter(customer for _, customer in graph.clusters())
    assert any(i.reasons[0].startswith("shares ") for i in items)
    assert {i.customer_id: i.record_count for i in items} == {
        i.customer_id: held[i.customer_id] for i in items
    }


def test_review_ranks_an_alias_forced_birth_date_conflict_first(tmp_path: Path) -> None:
    calls = [
        {
            "type": "identify",
            "messageId": "m1",
            "userId": "u-a",
            "timestamp": "2026-01-01T00:00:00Z",
            "traits": {"firstName": "Anna", "lastName": "Neri", "birthday": "1980-01-02"},
        },
        {
            "type": "identify",
            "messageId": "m2",
            "userId": "u-b",
            "timestamp": "2026-01-02T00:00:00Z",
            "traits": {"firstName": "Marta", "lastName": "Neri", "birthday": "1991-05-06"},
        },
        {
            "type": "alias",
            "messageId": "m3",
            "previousId": "u-a",
            "userId": "u-b",
            "timestamp": "2026-01-03T00:00:00Z",
        },
    ]
    path = tmp_path / "app.jsonl"
    path.write_text("\n".join(orjson.dumps(c).decode() for c in calls) + "\n", encoding="utf-8")
    store = tmp_path / "idgraph.db"
    run_ingest([path], store=store, rejects_path=tmp_path / "r.jsonl")
    with IdentityGraph(store) as graph:
        (first, *_) = graph.review()
    assert first.reasons[0] == "2 dates of birth: 1980-01-02, 1991-05-06"
    assert "2 different first names: Anna, Marta" in first.reasons
    assert first.record_count == 2


def test_dry_run_writes_nothing_and_names_merges_with_their_evidence(
    tmp_path: Path, fixture_store_copy: Path
) -> None:
    store = fixture_store_copy
    with IdentityGraph(store) as graph:
        before = graph.clusters()
    loose = yaml.safe_load((Path("idgraph/match/default.yaml")).read_text(encoding="utf-8"))
    loose["strong_attributes"] = []
    loose["scoring"]["threshold"] = 0.6
    loose["scoring"]["must_agree"] = []
    config = load_match_config_from(loose, tmp_path)
    report = run_ingest(
        [],
        store=store,
        match_config=config,
        options=NormalizeOptions(default_region="IT"),
        rejects_path=tmp_path / "r.jsonl",
        dry_run=True,
    )
    with IdentityGraph(store) as graph:
        assert graph.clusters() == before
    assert report.dry_run and report.changes is not None
    assert report.changes.merges and not report.changes.splits
    truth = load_truth()
    customer_of = dict(before)
    for merge in report.changes.merges:
        assert len(merge.from_customers) >= 2
        assert merge.reasons and " by " in merge.reasons[0]
        a, b = merge.reasons[0].split(" by ")[0].split(" ~ ")
        assert customer_of[a] != customer_of[b] and truth[a] != truth[b]  # strangers merged


def test_dry_run_with_the_same_config_changes_nothing(
    fixture_store: tuple[Path, IngestReport], tmp_path: Path
) -> None:
    store, _ = fixture_store
    report = run_ingest(
        [],
        store=store,
        options=NormalizeOptions(default_region="IT"),
        rejects_path=tmp_path / "r.jsonl",
        dry_run=True,
    )
    assert report.changes is not None and report.changes.unchanged


def test_cli_review_and_dry_run(fixture_store: tuple[Path, IngestReport]) -> None:
    store, _ = fixture_store
    runner = CliRunner()
    shown = runner.invoke(app, ["review", "--store", str(store), "-f", "csv", "--limit", "3"])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.splitlines()[0] == "customer,records,score,reasons"
    assert len(shown.stdout.splitlines()) == 4
    dry = runner.invoke(
        app, ["ingest", "--dry-run", "--store", str(store), "--default-region", "IT"]
    )
    assert dry.exit_code == 0, dry.output
    assert "would merge: 0 customer(s); would split: 0" in dry.stdout
    assert "dry run: nothing written" in dry.stdout
    bare = runner.invoke(app, ["ingest", "--store", str(store)])
    assert bare.exit_code == 2 and "none are needed with --dry-run" in bare.output


def load_match_config_from(data: dict[str, object], folder: Path) -> object:
    path = folder / "loose.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_match_config(path)


@pytest.fixture(autouse=True)
def _chdir_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parents[2])


def test_a_rejects_path_that_is_not_a_file_is_never_removed(tmp_path: Path) -> None:
    """`--rejects /dev/null` must not delete the device (it did, when run as root)."""
    import os

    fifo = tmp_path / "rejects.fifo"
    os.mkfifo(fifo)
    run_ingest([FIXTURES / "crm.csv"], store=tmp_path / "s.db", rejects_path=fifo)
    assert fifo.exists() and not fifo.is_file()
