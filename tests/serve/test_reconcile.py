"""Every call received ends accepted or rejected (or failed, answered 503): counts reconcile,
and every rejected call is in the rejects file, which survives a restart."""

from __future__ import annotations

from pathlib import Path

from idgraph.query import IdentityGraph
from idgraph.serve import ServeSettings, create_app
from idgraph.settings import open_store
from tests.serve.conftest import AUTH, KEY, TS, Served, TestClient, serving


def test_counts_and_rejects_file_reconcile(fresh: Served) -> None:
    fresh.post("/v1/identify", {"userId": "r1", "timestamp": TS})
    fresh.post("/v1/identify", b"{broken")
    fresh.post("/v1/batch", {"batch": [{"type": "page", "anonymousId": "r2"}, 1, {}]})
    fresh.post("/v1/batch", b"[1]")
    stats = fresh.get("/v1/stats").json()
    assert stats == {
        "requests": 4,
        "received": 6,
        "accepted": 2,
        "rejected": 4,
        "failed": 0,
        "commits": 2,
        "pending": 0,
        "reconciles": True,
    }
    lines = fresh.rejects_lines()
    assert len(lines) == stats["rejected"]
    assert {tuple(sorted(line)) for line in lines} == {
        ("field", "file", "kind", "line", "raw", "reason")
    }
    assert {line["kind"] for line in lines} == {"line"}
    assert [line["raw"] for line in lines][:2] == ["{broken", "1"]


def test_rejects_file_is_appended_across_restarts(tmp_path: Path) -> None:
    for run in range(2):
        with serving(tmp_path) as served:
            served.post("/v1/track", {"userId": f"run{run}", "timestamp": TS})
    with serving(tmp_path) as served:
        assert len(served.rejects_lines()) == 2


def test_replaying_a_reject_after_fixing_it_stores_it(fresh: Served) -> None:
    fresh.post("/v1/track", {"userId": "fixme", "timestamp": TS})
    import orjson

    raw = orjson.loads(fresh.rejects_lines()[-1]["raw"])
    raw["event"] = "Fixed"
    assert fresh.post("/v1/track", raw).status_code == 200
    assert fresh.graph.profile(fresh.graph.lookup("fixme")[0]).events[0].name == "Fixed"


def test_a_forgotten_person_is_refused_and_their_call_withheld(tmp_path: Path) -> None:
    from idgraph.erasure import forget

    with serving(tmp_path) as served:
        call = {"userId": "gone-1", "traits": {"email": "gone@x.it"}, "timestamp": TS}
        assert served.post("/v1/identify", call).status_code == 200
        forget(served.store, "gone@x.it")
    with serving(tmp_path) as served:  # a restart reads the erased hashes
        answer = served.post("/v1/identify", call)
        # The shape is fine, so the call is acknowledged; the resolver refuses it.
        assert answer.status_code == 200, answer.text
        assert answer.json()["resolved"] is True
        assert served.graph.lookup("gone@x.it") == [] == served.graph.lookup("gone-1")
        assert served.get("/v1/status").json()["refused"] == 1
        (line,) = served.rejects_lines()
        assert "erased" in line["reason"] and line["field"]
        assert "gone@x.it" not in line["raw"] and "withheld" in line["raw"]


def test_commits_wait_in_the_log_until_the_app_stops(tmp_path: Path) -> None:
    """Each commit only appends to the write-ahead log; stopping the app folds them in."""
    wal = tmp_path / "idgraph.db.wal"
    store = open_store(tmp_path / "idgraph.db")
    app = create_app(store, ServeSettings(api_keys=(KEY,), rejects_path=tmp_path / "r.jsonl"))
    try:
        with TestClient(app) as client:
            for n in range(3):
                answer = client.post(
                    "/v1/identify",
                    json={"userId": f"log{n}", "traits": {"email": f"log{n}@x.it"}},
                    headers=AUTH,
                )
                assert answer.status_code == 200
            assert wal.exists() and wal.stat().st_size > 0
        # The lifespan has ended, the store is still open: the log was folded at shutdown.
        assert not wal.exists() or wal.stat().st_size == 0
        assert IdentityGraph.over(store).lookup("log2@x.it")
    finally:
        store.close()
