"""Acknowledge on the durable append, resolve in the background, read your writes on request,
and resume after a restart exactly at the applied offset (a real embedded store)."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

from idgraph.errors import StoreUnavailable
from idgraph.serve.resolver import applied_offset, offset_key
from idgraph.store.base import GraphStore
from idgraph.store.ladybug import LadybugStore
from tests.serve.conftest import TS, Served, identifies, serving


def track(user: str, message_id: str) -> dict[str, Any]:
    return {"userId": user, "event": "Viewed", "timestamp": TS, "messageId": message_id}


def event_ids(store: GraphStore) -> list[str]:
    return [row["id"] for row in store.query("test_events", "MATCH (e:Event) RETURN e.id AS id")]


def status(served: Served) -> dict[str, Any]:
    response = served.get("/v1/status")
    assert response.status_code == 200
    return dict(response.json())


def test_a_call_is_answered_before_it_is_resolved(tmp_path: Path) -> None:
    with serving(tmp_path, resolver_paused=True) as served:
        response = served.post("/v1/track", track("early", "m-early"), params={})
        assert response.status_code == 200
        assert response.json()["accepted"] == 1 and response.json()["resolved"] is False
        state = status(served)
        assert state["resolver"] == "paused"
        assert (state["batches"], state["batch_s"]) == (0, 0)
        assert state["depth"] >= 1 and state["lag_s"] >= 0
        assert state["appended_offset"] == 1 and state["applied_offset"] == 0
        assert served.graph.lookup("early") == []
        served.client.app.state.service.resolver.resume()  # type: ignore[attr-defined]
        served.settle()
        assert len(served.graph.lookup("early")) == 1
        state = status(served)
        assert (state["depth"], state["applied_offset"], state["lag_s"]) == (0, 1, 0)
        assert state["batches"] == 1 and state["batch_s"] > 0


def test_wait_true_answers_once_resolved(tmp_path: Path) -> None:
    with serving(tmp_path, resolve_wait_ms=200) as served:
        body = {"userId": "waiter", "traits": {"email": "waiter@x.it"}, "timestamp": TS}
        response = served.post("/v1/identify", body, params={"wait": "true"})
        assert response.status_code == 200
        answer = response.json()
        assert answer["resolved"] is True
        (customer,) = served.graph.lookup("waiter@x.it")
        assert answer["customers"] == [customer]


def test_wait_times_out_with_resolved_false(tmp_path: Path) -> None:
    with serving(tmp_path, resolver_paused=True, wait_timeout_s=0.3) as served:
        response = served.post("/v1/track", track("slow", "m-slow"), params={"wait": "true"})
        assert response.status_code == 200
        assert response.json()["resolved"] is False


def test_restart_resumes_after_the_applied_offset(tmp_path: Path) -> None:
    with serving(tmp_path) as served:
        for i in range(3):
            assert served.post("/v1/track", track(f"r{i}", f"m-r{i}")).status_code == 200
        served.settle()
        assert applied_offset(served.store, "lane-00") == 3
    with serving(tmp_path, resolver_paused=True) as served:  # left in the log, not applied
        for i in range(3, 5):
            response = served.post("/v1/track", track(f"r{i}", f"m-r{i}"), params={})
            assert response.status_code == 200
        assert status(served)["depth"] == 2
    with serving(tmp_path) as served:
        service = served.client.app.state.service  # type: ignore[attr-defined]
        served.settle()
        assert status(served)["applied_offset"] == 5
        assert service.resolver.applied_calls == 2  # the two waiting calls only
        ids = event_ids(served.store)
        assert sorted(ids) == [f"http:m-r{i}" for i in range(5)]
        rows = served.store.query(
            "test_offset",
            "MATCH (m:Meta {key: $key}) RETURN m.value AS v",
            {"key": offset_key("lane-00")},
        )
        assert rows == [{"v": "5"}]
    with serving(tmp_path) as served:  # nothing left: nothing applied again
        service = served.client.app.state.service  # type: ignore[attr-defined]
        assert status(served)["depth"] == 0
        assert (service.resolver.batches, service.resolver.applied_calls) == (0, 0)


def test_log_segments_behind_the_applied_offset_are_deleted(tmp_path: Path) -> None:
    with serving(tmp_path) as served:
        service = served.client.app.state.service  # type: ignore[attr-defined]
        service.log._segment_bytes = 1  # one record per segment
        for i in range(4):
            assert served.post("/v1/track", track(f"t{i}", f"m-t{i}")).status_code == 200
        served.settle()
        # only the segment being written to is left
        assert [p.name for p in service.log.folder.glob("*.log")] == [f"{4:020d}.log"]


def test_a_removed_log_folder_continues_after_the_applied_offset(tmp_path: Path) -> None:
    with serving(tmp_path) as served:
        assert served.post("/v1/track", track("a", "m-a")).status_code == 200
        folder = served.client.app.state.service.log.folder  # type: ignore[attr-defined]
    shutil.rmtree(folder)
    with serving(tmp_path) as served:
        assert served.post("/v1/track", track("b", "m-b")).status_code == 200
        assert status(served)["applied_offset"] == 2
        assert sorted(event_ids(served.store)) == ["http:m-a", "http:m-b"]


def test_the_resolver_reopens_the_store_once_its_process_has_grown(
    tmp_path: Path, monkeypatch: Any
) -> None:
    grown = iter(range(0, 1 << 40, 300 << 20))  # 300 MiB more at every look
    monkeypatch.setattr("idgraph.serve.resolver.resident_bytes", lambda: next(grown))
    with serving(tmp_path, store_reopen_mb=512) as served:
        for n in range(6):
            answer = served.post("/v1/track", track(f"grower-{n}", f"m-grow-{n}"))
            assert answer.status_code == 200
        state = status(served)
        assert state["store_reopens"] >= 2
        assert state["store_reopen_s"] > 0
        assert len(event_ids(served.store)) == 6
        assert all(len(served.graph.lookup(f"grower-{n}")) == 1 for n in range(6))


def test_a_reopen_runs_behind_the_resolver_which_goes_on_resolving_meanwhile(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """The reopen checkpoints first (seconds on a large store): in the checkpoint thread, the
    resolver reads and resolves the next micro-batch meanwhile, and only its write waits."""
    grown = iter(range(0, 1 << 40, 300 << 20))
    monkeypatch.setattr("idgraph.serve.resolver.resident_bytes", lambda: next(grown))
    reopening = LadybugStore.reopen
    threads: list[str] = []

    def slow_reopen(self: LadybugStore) -> None:
        threads.append(threading.current_thread().name)
        time.sleep(0.3)
        reopening(self)

    monkeypatch.setattr(LadybugStore, "reopen", slow_reopen)
    with serving(tmp_path, store_reopen_mb=512) as served:
        for n in range(6):
            answer = served.post("/v1/track", track(f"behind-{n}", f"m-behind-{n}"))
            assert answer.status_code == 200
        served.settle()
        assert status(served)["store_reopens"] >= 1
        assert len(event_ids(served.store)) == 6
    assert threads and all(name.startswith("idgraph-checkpoint") for name in threads)


def test_growth_up_to_the_store_file_size_is_the_page_cache_not_a_reason_to_reopen(
    tmp_path: Path, monkeypatch: Any
) -> None:
    grown = iter(range(0, 1 << 40, 300 << 20))
    monkeypatch.setattr("idgraph.serve.resolver.resident_bytes", lambda: next(grown))
    monkeypatch.setattr(LadybugStore, "file_bytes", lambda self: 4 << 30)  # a 4 GiB store
    with serving(tmp_path, store_reopen_mb=512) as served:
        for n in range(6):  # 1.5 GiB of growth: within 4 GiB + 512 MiB
            answer = served.post("/v1/track", track(f"cached-{n}", f"m-cached-{n}"))
            assert answer.status_code == 200
        assert status(served)["store_reopens"] == 0


def test_the_resolver_never_reopens_with_the_setting_off(tmp_path: Path, monkeypatch: Any) -> None:
    grown = iter(range(0, 1 << 40, 300 << 20))
    monkeypatch.setattr("idgraph.serve.resolver.resident_bytes", lambda: next(grown))
    with serving(tmp_path, store_reopen_mb=0) as served:
        for n in range(3):
            answer = served.post("/v1/track", track(f"steady-{n}", f"m-steady-{n}"))
            assert answer.status_code == 200
        assert status(served)["store_reopens"] == 0


def test_after_a_reopen_that_failed_the_resolver_opens_the_store_and_applies_the_calls(
    tmp_path: Path, monkeypatch: Any
) -> None:
    grown = iter(range(0, 1 << 40, 300 << 20))
    growing = [True]
    size = [0]

    def resident() -> int:
        if growing[0]:  # 300 MiB more at every look, until the store is down
            size[0] = next(grown)
        return size[0]

    monkeypatch.setattr("idgraph.serve.resolver.resident_bytes", resident)
    opening = LadybugStore._open
    with serving(tmp_path, store_reopen_mb=512) as served:
        assert served.post("/v1/track", track("before", "m-before")).status_code == 200
        served.settle()

        def refuse(self: LadybugStore) -> None:
            raise StoreUnavailable("cannot open store: disk gone")

        monkeypatch.setattr(LadybugStore, "_open", refuse)
        sent = ["m-before"]
        deadline = time.monotonic() + 10
        while status(served)["store_down"] is None:  # every micro-batch grows 300 MiB
            assert time.monotonic() < deadline, "the failed reopen never showed in the status"
            sent.append(f"m-during-{len(sent)}")
            answer = served.post("/v1/track", track("during", sent[-1]), params={})
            assert answer.status_code == 200
            time.sleep(0.05)
        growing[0] = False  # no growth from now on: only the resolver's retry opens it
        # Still acknowledged while the store is down; applied once it opens again. (A caller
        # that asks to read its write gets a 503: there is nothing to read it from.)
        assert served.post("/v1/track", track("down", "m-down"), params={}).status_code == 200
        sent.append("m-down")
        monkeypatch.setattr(LadybugStore, "_open", opening)
        served.settle()
        assert status(served)["store_down"] is None
        assert sorted(event_ids(served.store)) == sorted(f"http:{m}" for m in sent)


def test_a_lull_folds_the_log_and_the_status_counts_the_checkpoint(tmp_path: Path) -> None:
    with serving(tmp_path, checkpoint_idle_s=0.2) as served:
        assert status(served)["store_checkpoints"] == 0
        assert served.post("/v1/track", track("lull-1", "m-lull-1")).status_code == 200
        deadline = time.monotonic() + 30
        while (state := status(served))["store_checkpoints"] == 0:
            assert time.monotonic() < deadline, "no checkpoint in the lull"
            time.sleep(0.05)
        assert state["store_checkpoint_s"] > 0
        assert state["depth"] == 0
        assert len(served.graph.lookup("lull-1")) == 1


def test_a_growing_log_is_checkpointed_behind_the_resolver_without_a_lull(
    tmp_path: Path, monkeypatch: Any
) -> None:
    # The engine would checkpoint inside a commit at 1 MiB of log; the resolver starts one of
    # its own in the background at half that, and no lull ever comes.
    monkeypatch.setenv("IDGRAPH_CHECKPOINT_MB", "1")
    with serving(tmp_path, checkpoint_idle_s=0) as served:
        resolver = served.client.app.state.service.resolver  # type: ignore[attr-defined]
        sent: list[str] = []
        deadline = time.monotonic() + 60
        while resolver.checkpoints == 0:
            assert time.monotonic() < deadline, "no checkpoint behind the resolver"
            calls = identifies("grow", len(sent), 50)
            assert served.post("/v1/batch", {"batch": calls}).status_code == 200
            sent += [call["userId"] for call in calls]
        served.settle()
        assert all(len(served.graph.lookup(user)) == 1 for user in sent[-5:])
        count = served.store.query("test_records", "MATCH (r:Record) RETURN count(r) AS n")
        assert count[0]["n"] == len(sent)
        assert not served.store.checkpoint_due()
        state = status(served)
        assert state["store_checkpoints"] >= 1
        assert state["store_checkpoint_s"] > 0
