"""Reopening the embedded store while other threads read from it (the service's resolver
does so to give back the memory the engine keeps of past writes)."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from idgraph.errors import StoreError, StoreUnavailable
from idgraph.store.gate import UseGate
from idgraph.store.ladybug import LadybugStore
from tests.conftest import ingest_fixtures

COUNT = "MATCH (r:Record) RETURN count(r) AS n"


@pytest.fixture
def store(fixture_store: tuple[Path, object], tmp_path: Path) -> LadybugStore:
    source, _ = fixture_store
    target = tmp_path / "idgraph.db"
    shutil.copy2(source, target)
    state = Path(f"{source}.state")
    if state.exists():
        shutil.copytree(state, f"{target}.state")
    return LadybugStore(target)


def test_reopen_keeps_the_data_and_takes_writes_after(store: LadybugStore, tmp_path: Path) -> None:
    before = store.query("count", COUNT)[0]["n"]
    version = store.state_version()
    assert before > 0
    store.reopen()
    assert store.query("count", COUNT)[0]["n"] == before
    assert store.state_version() == version
    store.close()
    # The store reopened is still one ingest can add to (the fixtures again: nothing new).
    report = ingest_fixtures(tmp_path / "idgraph.db", tmp_path)
    assert report.records_new == 0


def test_a_reopen_that_cannot_open_again_leaves_the_store_down_until_one_can(
    store: LadybugStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = store.query("count", COUNT)[0]["n"]
    opening = LadybugStore._open

    def refuse(self: LadybugStore) -> None:
        raise StoreUnavailable("cannot open store: disk gone")

    monkeypatch.setattr(LadybugStore, "_open", refuse)
    with pytest.raises(StoreError):
        store.reopen()
    assert store.down is not None
    with pytest.raises(StoreUnavailable, match="closed until it reopens"):
        store.query("count", COUNT)
    with pytest.raises(StoreError):  # still failing: still down, nothing closed twice
        store.reopen()
    monkeypatch.setattr(LadybugStore, "_open", opening)
    store.reopen()
    assert store.down is None
    assert store.query("count", COUNT)[0]["n"] == before
    store.close()


def test_readers_on_other_threads_wait_out_a_reopen(store: LadybugStore) -> None:
    expected = store.query("count", COUNT)[0]["n"]
    seen: list[int] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                seen.append(store.query("count", COUNT)[0]["n"])
            except BaseException as exc:  # a read on a closed connection fails here
                failures.append(exc)
                return

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    try:
        for _ in range(5):
            time.sleep(0.02)
            store.reopen()
    finally:
        stop.set()
        for reader in readers:
            reader.join(10)
    store.close()
    assert failures == []
    assert seen and set(seen) == {expected}


def test_a_thread_inside_the_gate_may_enter_again_while_a_reopen_waits() -> None:
    gate = UseGate()
    entered, closed = threading.Event(), threading.Event()
    order: list[str] = []

    def close() -> None:
        entered.wait(5)
        with gate.closed():
            order.append("closed")
        closed.set()

    closer = threading.Thread(target=close)
    closer.start()
    with gate.use():
        entered.set()
        time.sleep(0.05)  # the closer now waits for this thread to leave
        with gate.use():  # nested: must not wait for the closer
            order.append("nested")
    assert closed.wait(5)
    closer.join(5)
    assert order == ["nested", "closed"]


def test_reopen_from_inside_an_operation_is_refused() -> None:
    gate = UseGate()
    with gate.use(), pytest.raises(RuntimeError, match="inside"), gate.closed():
        pass


def test_reads_go_on_while_a_reopen_checkpoints(
    store: LadybugStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = store.query("count", COUNT)[0]["n"]
    checkpointing, release = threading.Event(), threading.Event()
    checkpoint = LadybugStore.checkpoint

    def slow_checkpoint(self: LadybugStore) -> bool:
        done = checkpoint(self)
        checkpointing.set()
        release.wait(10)  # a long checkpoint, as on a large store
        return done

    monkeypatch.setattr(LadybugStore, "checkpoint", slow_checkpoint)
    reopening = threading.Thread(target=store.reopen)
    reopening.start()
    try:
        assert checkpointing.wait(10), "the reopen never checkpointed before closing"
        seen = store.query("count", COUNT)[0]["n"]
        read_during = reopening.is_alive()
    finally:
        release.set()
        reopening.join(10)
    assert read_during, "the read waited for the whole reopen"
    assert seen == expected
    assert store.query("count", COUNT)[0]["n"] == expected
    store.close()


def test_held_writes_wait_while_reads_and_nested_writes_go_on() -> None:
    gate = UseGate()
    order: list[str] = []

    def write() -> None:
        with gate.use(writes=True):
            order.append("write")

    writer = threading.Thread(target=write)
    with gate.writes_held():
        writer.start()
        time.sleep(0.05)  # the writer now waits at the gate
        with gate.use():
            order.append("read")
            with gate.use(writes=True):  # a thread inside may write: it holds no one up
                order.append("nested write")
        order.append("released")
    writer.join(5)
    assert order == ["read", "nested write", "released", "write"]
