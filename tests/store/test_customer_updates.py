"""A customer that keeps its id and every record it had is updated in place.

Its row stays where it lies in the embedded store (the engine's internal node id does not
change), only the columns that changed are set, the records it gained are added to its
`HAS_RECORD` pairs, and what the store holds is what a full re-resolve would write.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from bench.store_copy import copy_store
from idgraph.pipeline import IngestReport, run_ingest
from idgraph.settings import open_store
from idgraph.state.unchanged import _changed_columns, _row_changes
from idgraph.store.ladybug import LadybugStore
from tests.small_sources import write_calls as _calls
from tests.small_sources import write_csv as _csv

AS_OF_MS = 1_793_491_200_000  # 2026-11-01
MARIO = {
    "email": "mario@x.it",
    "phone": "+390612345678",
    "first": "Mario",
    "last": "Rossi",
    "dob": "1980-01-01",
}
#: Mario's web login, and an order of his.
IDENTIFY = {
    "type": "identify",
    "userId": "u1",
    "traits": {"email": "mario@x.it"},
    "timestamp": "2026-01-10T10:00:00Z",
    "messageId": "i1",
}
ORDER = {
    "type": "track",
    "userId": "u1",
    "event": "Order Completed",
    "properties": {"total": 30.0},
    "timestamp": "2026-02-01T10:00:00Z",
    "messageId": "o1",
}
#: Columns a full re-resolve writes differently by design: when the row was written.
WRITTEN_AT = {"updated_ts"}


def _ingest(store: Path, paths: list[Path], **kwargs: Any) -> IngestReport:
    return run_ingest(
        paths, store=store, rejects_path=store.parent / "rejects.jsonl", as_of_ms=AS_OF_MS, **kwargs
    )


def _customers(store: Path) -> dict[str, dict[str, Any]]:
    """Each customer's row, its engine node id (`node`) and its records (`records`)."""
    with open_store(store) as graph:
        rows = graph.query(
            "customers",
            "MATCH (c:Customer)-[:HAS_RECORD]->(r:Record) "
            "RETURN c AS c, ID(c) AS node, collect(r.key) AS records",
        )
    out = {}
    for row in rows:
        props = {k: v for k, v in row["c"].items() if not k.startswith("_")}
        out[props["id"]] = {**props, "node": str(row["node"]), "records": sorted(row["records"])}
    return out


def _as_full_run(store: Path, folder: Path) -> dict[str, dict[str, Any]]:
    """The customers of a copy of `store` re-resolved whole."""
    shutil.rmtree(folder, ignore_errors=True)
    copy = copy_store(store, folder / store.name)
    assert _ingest(copy, [], full=True).mode == "full"
    return _customers(copy)


def _same_as_full(mine: dict[str, dict[str, Any]], full: dict[str, dict[str, Any]]) -> None:
    assert set(mine) == set(full)
    for cid, row in mine.items():
        ignored = {"node", *WRITTEN_AT}
        assert {k: v for k, v in row.items() if k not in ignored} == {
            k: v for k, v in full[cid].items() if k not in ignored
        }, cid


def test_a_customer_gaining_records_and_events_keeps_its_row(tmp_path: Path) -> None:
    store = tmp_path / "s" / "idgraph.db"
    store.parent.mkdir()
    _ingest(store, [_csv(tmp_path / "1", "crm", [{"id": "c1", **MARIO}])])
    (cid, first), *_ = _customers(store).items()
    assert first["records"] == ["crm:c1"]

    # The till's record joins by phone: same customer id, same node, one more record.
    till = {k: v for k, v in MARIO.items() if k != "email"}
    report = _ingest(store, [_csv(tmp_path / "2", "pos", [{"id": "p1", **till}])])
    assert report.mode == "incremental"
    second = _customers(store)[cid]
    assert second["node"] == first["node"]
    assert second["records"] == ["crm:c1", "pos:p1"]
    assert second["record_count"] == 2 and second["sources"] != first["sources"]
    _same_as_full(_customers(store), _as_full_run(store, tmp_path / "full"))

    # A web identify (a new record) with an order, then an order alone (events only).
    order = dict(ORDER)
    identify = dict(IDENTIFY)
    _ingest(store, [_calls(tmp_path / "3", [identify, order])])
    third = _customers(store)[cid]
    assert third["node"] == first["node"]
    assert third["records"] == ["crm:c1", "pos:p1", "web:user:u1"]
    assert third["order_count"] == 1
    later = {**order, "messageId": "o2", "timestamp": "2026-03-01T10:00:00Z"}
    report = _ingest(store, [_calls(tmp_path / "4", [later])])
    assert report.customers_touched == 1 and report.events_new == 1
    fourth = _customers(store)[cid]
    assert fourth["node"] == first["node"]
    assert fourth["order_count"] == 2 and fourth["total_spent"] == 60.0
    assert fourth["last_order_ts"] > third["last_order_ts"]
    assert fourth["updated_ts"] >= third["updated_ts"]
    _same_as_full(_customers(store), _as_full_run(store, tmp_path / "full"))


def test_a_customer_losing_a_record_is_written_again(tmp_path: Path) -> None:
    """A record that changes and no longer matches leaves its customer: that is not an
    update in place, the customer is deleted and written again, and still matches a full
    re-resolve."""
    store = tmp_path / "s" / "idgraph.db"
    store.parent.mkdir()
    till = {k: v for k, v in MARIO.items() if k != "email"}
    _ingest(store, [_csv(tmp_path / "1", "crm", [{"id": "c1", **MARIO}])])
    _ingest(store, [_csv(tmp_path / "3", "pos", [{"id": "p1", **till}])])
    (cid, before), *_ = _customers(store).items()
    assert before["records"] == ["crm:c1", "pos:p1"]
    stranger = {"phone": "+390698765432", "first": "Luca", "last": "Bianchi", "dob": "1990-05-05"}
    _ingest(store, [_csv(tmp_path / "4", "pos", [{"id": "p1", **stranger}])])
    after = _customers(store)
    assert after[cid]["records"] == ["crm:c1"] and after[cid]["record_count"] == 1
    assert after[cid]["node"] != before["node"]
    assert len(after) == 2
    _same_as_full(after, _as_full_run(store, tmp_path / "full"))


def test_changed_columns_name_what_differs_and_stored_columns_left_out() -> None:
    written = pl.DataFrame(
        {"id": ["a", "b"], "n": [1, 2], "name": ["x", None], "same": [5, 6]},
    )
    stored = pl.DataFrame(
        {
            "id": ["a", "b", "c"],
            "n": [1, 3, 9],
            "name": ["x", "y", "z"],
            "same": [5, 6, 7],
            "vip": [None, "gold", None],
            "gone": [None, None, "q"],
        }
    )
    assert _changed_columns(written, stored, _row_changes(written, stored)) == ["n", "name", "vip"]
    only_a = written.filter(pl.col("id") == "a")
    assert _changed_columns(only_a, stored, _row_changes(only_a, stored)) == []


def test_each_updated_row_names_the_columns_it_changes() -> None:
    written = pl.DataFrame({"id": ["a", "b"], "n": [1, 2], "name": ["w", None]})
    stored = pl.DataFrame(
        {"id": ["a", "b"], "n": [1, 3], "name": ["x", "y"], "vip": [None, "gold"]}
    )
    changed = _row_changes(written, stored)
    assert changed.to_list() == [["name"], ["n", "name", "vip"]]


def test_customers_updated_together_set_only_their_own_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An order of one customer and a new record of another in one run: the engine keeps
    memory per column it sets across the store until a checkpoint, so each row sets only
    what it changes (one statement per set of columns), and the store still holds what a
    full re-resolve writes."""
    store = tmp_path / "s" / "idgraph.db"
    store.parent.mkdir()
    luca = {"email": "luca@x.it", "phone": "+390698765432", "first": "Luca", "last": "Bianchi"}
    _ingest(store, [_csv(tmp_path / "1", "crm", [{"id": "c1", **MARIO}, {"id": "c2", **luca}])])
    identify = dict(IDENTIFY)
    _ingest(store, [_calls(tmp_path / "2", [identify])])
    ids = {row["email"]: cid for cid, row in _customers(store).items()}

    written: list[tuple[list[str], list[str]]] = []
    original = LadybugStore._update_rows

    def recorded(self: LadybugStore, rows: pl.DataFrame, columns: list[str]) -> int:
        written.append((sorted(rows["id"].to_list()), columns))
        return original(self, rows, columns)

    monkeypatch.setattr(LadybugStore, "_update_rows", recorded)
    order = dict(ORDER)
    till = {k: v for k, v in luca.items() if k != "email"}
    _ingest(
        store,
        [_calls(tmp_path / "3", [order]), _csv(tmp_path / "4", "pos", [{"id": "p1", **till}])],
    )
    by_customer = {cid: columns for rows, columns in written for cid in rows}
    assert set(by_customer) == {ids["mario@x.it"], ids["luca@x.it"]}, written
    assert "order_count" in by_customer[ids["mario@x.it"]]
    assert "record_count" not in by_customer[ids["mario@x.it"]]
    assert "record_count" in by_customer[ids["luca@x.it"]]
    assert "order_count" not in by_customer[ids["luca@x.it"]]
    _same_as_full(_customers(store), _as_full_run(store, tmp_path / "full"))
