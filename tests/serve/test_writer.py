"""The group-commit writer: concurrent requests all land, in fewer commits than requests; a
failed commit answers every waiter and writes nothing."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from idgraph.ingest.jsonl_events import read_event_calls
from idgraph.ingest.rejects import RejectsWriter
from idgraph.match.config import load_match_config
from idgraph.normalize.record import NormalizeOptions
from idgraph.query import IdentityGraph
from idgraph.serve.writer import GroupWriter, WriterBusy, WriterStopped
from idgraph.settings import open_store
from idgraph.traits.config import load_traits_config
from tests.serve.conftest import TS, Served, serving

THREADS = 6
PER_THREAD = 2


def test_concurrent_requests_all_succeed_and_land(fresh: Served) -> None:
    def client(n: int) -> list[int]:
        codes = []
        for i in range(PER_THREAD):
            user = f"c{n}-{i}"
            if i % 2:
                body = {
                    "batch": [
                        {"type": "identify", "userId": user, "traits": {"email": f"{user}@x.it"}},
                        {"type": "track", "userId": user, "event": "Buy", "timestamp": TS},
                    ]
                }
                codes.append(fresh.post("/v1/batch", body).status_code)
            else:
                body = {"userId": user, "traits": {"email": f"{user}@x.it"}}
                codes.append(fresh.post("/v1/identify", body).status_code)
        return codes

    with ThreadPoolExecutor(THREADS) as pool:
        codes = [c for result in pool.map(client, range(THREADS)) for c in result]
    assert codes == [200] * THREADS * PER_THREAD
    graph = fresh.graph
    customers = {
        tuple(graph.lookup(f"c{n}-{i}@x.it")) for n in range(THREADS) for i in range(PER_THREAD)
    }
    assert len(customers) == THREADS * PER_THREAD
    assert all(len(ids) == 1 for ids in customers)
    stats = fresh.get("/v1/stats").json()
    calls = THREADS * PER_THREAD * 3 // 2
    assert (stats["received"], stats["accepted"], stats["reconciles"]) == (calls, calls, True)
    assert stats["commits"] < THREADS * PER_THREAD, stats


def batch_of(users: list[str]) -> object:
    calls = [{"type": "identify", "userId": u, "timestamp": TS} for u in users]
    return read_event_calls(
        calls, label="test", source="t", options=NormalizeOptions(), rejects=RejectsWriter(None)
    )


def writer_over(store: object, **kwargs: object) -> GroupWriter:
    return GroupWriter(
        store,  # type: ignore[arg-type]
        match_config=load_match_config(None),
        traits=load_traits_config(None),
        **kwargs,  # type: ignore[arg-type]
    )


def test_queued_batches_are_committed_together(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.db") as store:
        writer = writer_over(store, wait_ms=200)
        writer.start()
        futures = [writer.submit(batch_of([f"g{i}"])) for i in range(20)]  # type: ignore[arg-type]
        reports = [f.result(timeout=60) for f in futures]
        writer.stop()
        assert writer.commits < 20
        assert len({id(r) for r in reports}) == writer.commits
        assert len(IdentityGraph.over(store).clusters()) == 20


def test_writer_refuses_when_stopped_or_full(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.db") as store:
        writer = writer_over(store, max_pending=3)
        with pytest.raises(WriterStopped):
            writer.submit(batch_of(["a"]))  # type: ignore[arg-type]
        writer.start()
        writer.submit(batch_of(["a", "b"])).result(timeout=60)  # type: ignore[arg-type]
        writer.stop()
    with open_store(tmp_path / "t.db") as store:
        writer = writer_over(store, max_pending=3, wait_ms=500)
        writer.start()
        first = writer.submit(batch_of(["a", "b"]))  # type: ignore[arg-type]
        with pytest.raises(WriterBusy):
            writer.submit(batch_of(["c", "d"]))  # type: ignore[arg-type]
        first.result(timeout=60)
        writer.stop()


def test_a_store_that_refuses_writes_keeps_the_call_in_the_log(tmp_path: Path) -> None:
    with open_store(tmp_path / "idgraph.db"):
        pass
    read_only = open_store(tmp_path / "idgraph.db", read_only=True)
    log_dir = tmp_path / "calls"
    try:
        from idgraph.serve import ServeSettings, create_app
        from tests.serve.conftest import KEY, TestClient

        settings = ServeSettings(api_keys=(KEY,), log_path=log_dir, wait_timeout_s=0.5)
        app = create_app(read_only, settings)
        with TestClient(app) as client:
            headers = {"Authorization": f"Bearer {KEY}"}
            body = {"batch": [{"type": "identify", "userId": "x", "timestamp": TS}, 7]}
            response = client.post("/v1/batch?wait=true", json=body, headers=headers)
            assert response.status_code == 200  # durably logged: acknowledged
            assert response.json()["resolved"] is False
            status = client.get("/v1/status", headers=headers).json()
            assert status["depth"] == 1 and status["applied_offset"] == 0
            stats = client.get("/v1/stats", headers=headers).json()
            assert (stats["failed"], stats["rejected"], stats["accepted"]) == (0, 1, 1)
            assert stats["reconciles"]
        assert IdentityGraph.over(read_only).lookup("x") == []
    finally:
        read_only.close()
    with serving(tmp_path, log_path=log_dir) as served:  # writable again: the call lands
        served.settle()
        assert served.graph.lookup("x") != []


def test_service_keeps_serving_after_a_failed_group(tmp_path: Path) -> None:
    with serving(tmp_path) as served:
        assert served.post("/v1/identify", {"userId": "after", "timestamp": TS}).status_code == 200


def test_a_lull_folds_the_commits_into_the_store_file(tmp_path: Path) -> None:
    wal = tmp_path / "s.db.wal"
    with open_store(tmp_path / "s.db") as store:
        writer = writer_over(store, idle_checkpoint_s=0.2)
        writer.start()
        try:
            writer.submit(batch_of(["lull1"])).result(timeout=60)  # type: ignore[arg-type]
            writer.submit(batch_of(["lull2"])).result(timeout=60)  # type: ignore[arg-type]
            deadline = time.monotonic() + 30
            while (writer.checkpoints == 0 or wal_bytes(wal)) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert writer.checkpoints >= 1 and wal_bytes(wal) == 0
            checkpoints = writer.checkpoints
            time.sleep(0.5)  # nothing committed since: no more checkpoints
            assert writer.checkpoints == checkpoints
        finally:
            writer.stop()
        assert len(IdentityGraph.over(store).clusters()) == 2


def wal_bytes(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0
