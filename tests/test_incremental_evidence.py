"""An incremental run leaves the computed evidence a full re-resolve would write.

Customers whose records come out the same keep their stored evidence, also when their row is
rewritten (an event changes traits, not matches); a record whose fields change has its
evidence computed again. After every run a copy of the store is fully re-resolved and its
`MATCHED` relationships compared with the incremental store's. A re-resolved customer's edge
whose pair, rule and fields come out the same stays as stored (its score within
`EVIDENCE_SCORE_TOLERANCE` of the new one), not deleted and written again.
"""

from __future__ import annotations

import shutil
from collections.abc import Collection
from pathlib import Path
from typing import Any

import pytest

from bench.store_copy import copy_store
from idgraph.normalize.record import NormalizeOptions
from idgraph.pipeline import IngestReport, run_ingest
from idgraph.settings import open_store
from idgraph.state.cache import keep_mirror_in_memory, mirror_in_memory
from idgraph.store.ladybug import LadybugStore
from tests.conftest import FIXTURE_INPUTS
from tests.small_sources import write_calls as _calls
from tests.small_sources import write_csv as _csv

AS_OF_MS = 1_793_491_200_000  # 2026-11-01
PHONE = "+390612345678"
MARIO = {"phone": PHONE, "first": "Mario", "last": "Rossi", "dob": "1980-01-01"}
#: A web identify that joins Mario's customer by its email.
IDENTIFY = {
    "type": "identify",
    "userId": "u1",
    "traits": {"email": "mario@x.it", "firstName": "Mario", "lastName": "Rossi"},
    "timestamp": "2026-01-10T10:00:00Z",
    "messageId": "i1",
}

Edge = tuple[str, str, str, str, float]


def _ingest(store: Path, paths: list[Path], **kwargs: object) -> IngestReport:
    return run_ingest(
        paths,
        store=store,
        rejects_path=store.parent / "rejects.jsonl",
        as_of_ms=AS_OF_MS,
        **kwargs,  # type: ignore[arg-type]
    )


def _mario_in_two_systems(tmp_path: Path) -> Path:
    """A store holding Mario from the CRM (with email) and the till (without), one customer."""
    store = tmp_path / "s" / "idgraph.db"
    store.parent.mkdir()
    _ingest(store, [_csv(tmp_path / "1", "crm", [{"id": "c1", "email": "mario@x.it", **MARIO}])])
    _ingest(store, [_csv(tmp_path / "2", "pos", [{"id": "p1", **MARIO}])])
    return store


def _evidence(store: Path) -> list[Edge]:
    with open_store(store) as graph:
        rows = graph.query(
            "evidence",
            "MATCH (a:Record)-[m:MATCHED]->(b:Record) "
            "RETURN a.key AS a, b.key AS b, m.rule AS rule, m.fields AS fields, m.score AS score",
        )
    return sorted((r["a"], r["b"], r["rule"], r["fields"], round(r["score"], 9)) for r in rows)


def _as_full_run(store: Path, folder: Path) -> list[Edge]:
    """The evidence of a copy of `store` re-resolved whole."""
    shutil.rmtree(folder, ignore_errors=True)
    copy = copy_store(store, folder / store.name)
    report = _ingest(copy, [], full=True)
    assert report.mode == "full"
    return _evidence(copy)


@pytest.fixture(params=[False, True], ids=["from-disk", "in-memory"])
def mirror_mode(request: pytest.FixtureRequest) -> object:
    was = mirror_in_memory()
    keep_mirror_in_memory(request.param)
    yield request.param
    keep_mirror_in_memory(was)


def test_changed_fields_and_events_leave_the_evidence_of_a_full_run(
    tmp_path: Path, mirror_mode: object
) -> None:
    store = _mario_in_two_systems(tmp_path)
    _ingest(store, [_calls(tmp_path / "3", [IDENTIFY])])
    linked = _evidence(store)
    assert {(a, b, rule) for a, b, rule, *_ in linked} >= {("crm:c1", "pos:p1", "match_model")}
    assert linked == _as_full_run(store, tmp_path / "full")

    # Events only: the customer's row changes, its evidence does not.
    track = [
        {
            "type": "track",
            "userId": "u1",
            "event": "Order Completed",
            "properties": {"revenue": 10.0 * n},
            "timestamp": f"2026-02-0{n}T10:00:00Z",
            "messageId": f"t{n}",
        }
        for n in range(1, 4)
    ]
    report = _ingest(store, [_calls(tmp_path / "4", track)])
    assert report.customers_touched == 1 and report.events_new == 3
    assert _evidence(store) == linked == _as_full_run(store, tmp_path / "full")

    # A changed last name in the same customer (the phone still joins it): the name match is
    # gone, in the same run as an event of the same customer.
    renamed = {**MARIO, "last": "Verdi"}
    more = {**track[0], "messageId": "t9", "timestamp": "2026-03-01T10:00:00Z"}
    report = _ingest(
        store,
        [_csv(tmp_path / "5", "pos", [{"id": "p1", **renamed}]), _calls(tmp_path / "6", [more])],
    )
    assert report.records_updated == 2  # p1, and u1's record (a newer call)
    after = _evidence(store)
    assert ("crm:c1", "pos:p1", "name_and_birth_date") not in {(a, b, r) for a, b, r, *_ in after}
    assert after == _as_full_run(store, tmp_path / "full")


def test_fixture_chunks_leave_the_evidence_of_a_full_run(
    tmp_path: Path, mirror_mode: object
) -> None:
    """The fixtures a file at a time, the event streams in interleaved chunks."""
    store = tmp_path / "s" / "idgraph.db"
    store.parent.mkdir()
    crm, pos, web, email = FIXTURE_INPUTS
    options = NormalizeOptions(default_region="IT")
    paths = [crm, pos]
    for stream, parts in ((web, 4), (email, 2)):
        lines = stream.read_text(encoding="utf-8").splitlines()
        for n in range(parts):
            chunk = tmp_path / f"{stream.stem}-{n}.jsonl"
            chunk.write_text("\n".join(lines[n::parts]) + "\n", encoding="utf-8")
            paths.append(chunk)
    for path in paths:
        assert _ingest(store, [path], options=options).mode in ("full", "incremental")
    mine, full = _evidence(store), _as_full_run(store, tmp_path / "full")
    assert set(mine) - set(full) == set() and set(full) - set(mine) == set()
    assert mine == full


def test_after_a_change_of_fuzzy_rules_one_run_is_full_and_the_next_incremental(
    tmp_path: Path,
) -> None:
    """Stored blocks depend on the fuzzy rules: the first run under new rules re-resolves
    everything and records them, so the run after it can find a scope again."""
    from idgraph.match.config import load_match_config

    store = tmp_path / "s" / "idgraph.db"
    store.parent.mkdir()
    people = [
        {"id": str(n), "first": "Ada", "last": f"Neri{n}", "dob": "1980-01-01"} for n in range(3)
    ]
    assert _ingest(store, [_csv(tmp_path / "a", "crm", people)]).mode == "full"
    assert _ingest(store, [_csv(tmp_path / "b", "pos", people[:1])]).mode == "incremental"
    shipped = load_match_config(None)
    rules = [r.model_copy(update={"max_block_size": 5}) for r in shipped.fuzzy]
    changed = shipped.model_copy(update={"fuzzy": rules})
    again = [_csv(tmp_path / "c", "shop", people[1:2])]
    assert _ingest(store, again, match_config=changed).mode == "full"
    later = [_csv(tmp_path / "d", "till", people[2:])]
    assert _ingest(store, later, match_config=changed).mode == "incremental"


def _edge_ids(store: Path) -> dict[tuple[str, str], str]:
    with open_store(store) as graph:
        rows = graph.query(
            "evidence_ids",
            "MATCH (a:Record)-[m:MATCHED]->(b:Record) RETURN a.key AS a, b.key AS b, "
            "m.rule AS rule, ID(m) AS id",
        )
    return {(r["a"], r["b"]): str(r["id"]) for r in rows if r["rule"] == "match_model"}


def test_a_customer_that_gains_a_record_keeps_its_unchanged_evidence_as_stored(
    tmp_path: Path,
) -> None:
    """Rewriting evidence that did not change was a third of each checkpoint at a million
    records: an edge whose pair, rule and fields are the same is left where it is."""
    store = _mario_in_two_systems(tmp_path)
    before = _edge_ids(store)
    assert ("crm:c1", "pos:p1") in before
    report = _ingest(store, [_calls(tmp_path / "3", [IDENTIFY])])
    assert report.mode == "incremental" and report.customers_touched == 1
    after = _edge_ids(store)
    assert after[("crm:c1", "pos:p1")] == before[("crm:c1", "pos:p1")]
    assert len(after) > len(before)  # the new record's own evidence was written
    assert _evidence(store) == _as_full_run(store, tmp_path / "full")


def test_only_stored_records_have_their_evidence_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record new to the store has no evidence stored: looking it up cost the engine one
    lookup per key, about half of the keys of a service's micro-batch."""
    store = _mario_in_two_systems(tmp_path)
    asked: list[str] = []
    keyed = LadybugStore._keyed

    def spy(self: LadybugStore, name: str, values: Collection[str], **kwargs: Any) -> list[Any]:
        if name == "computed_evidence_of":
            asked.extend(values)
        return keyed(self, name, values, **kwargs)

    monkeypatch.setattr(LadybugStore, "_keyed", spy)
    report = _ingest(store, [_calls(tmp_path / "3", [IDENTIFY])])
    assert report.mode == "incremental" and report.customers_touched == 1
    assert sorted(asked) == ["crm:c1", "pos:p1"]
    assert _evidence(store) == _as_full_run(store, tmp_path / "full")
