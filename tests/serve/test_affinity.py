"""The resolver and Polars' pool share one CPU while a micro-batch runs; the checkpoints
behind them, and the resolver between micro-batches (`"auto"`), run anywhere."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import idgraph.serve.resolver as resolver_module
from idgraph.errors import ConfigError
from idgraph.serve.affinity import allowed_cpus, check_cpu, polars_threads
from tests.serve.conftest import TS, identifies, serving

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or len(allowed_cpus()) < 2,
    reason="CPU affinity needs Linux and two CPUs",
)


@pytest.fixture(autouse=True)
def free_pool() -> Iterator[None]:
    """Polars' pool is the whole test process's: let it run anywhere again afterwards."""
    yield
    for tid in polars_threads():
        os.sched_setaffinity(tid, allowed_cpus())


def spy_on_micro_batches(monkeypatch: pytest.MonkeyPatch) -> list[tuple[set[int], list[set[int]]]]:
    """Record, as each micro-batch starts, the CPUs its thread and Polars' pool may use."""
    seen: list[tuple[set[int], list[set[int]]]] = []
    real = resolver_module.ingest_batches

    def spy(*args: Any, **kwargs: Any) -> Any:
        pool = [os.sched_getaffinity(tid) for tid in polars_threads()]
        seen.append((os.sched_getaffinity(0), pool))
        return real(*args, **kwargs)

    monkeypatch.setattr(resolver_module, "ingest_batches", spy)
    return seen


def resolver_thread() -> threading.Thread:
    return next(t for t in threading.enumerate() if t.name == "idgraph-resolver")


def track(user: str) -> dict[str, Any]:
    return {"userId": user, "event": "Viewed", "timestamp": TS, "messageId": f"m-{user}"}


def test_auto_pins_each_micro_batch_to_one_cpu_and_lets_go_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = spy_on_micro_batches(monkeypatch)
    with serving(tmp_path, resolver_cpu="auto") as served:
        for user in ("pin-1", "pin-2"):
            answer = served.post("/v1/track", track(user), params={"wait": "true"})
            assert answer.json()["resolved"] is True
        native = resolver_thread().native_id
        assert native is not None
        # The answer may come before the micro-batch's last step lets the thread go.
        deadline = time.monotonic() + 10
        while os.sched_getaffinity(native) != allowed_cpus():
            assert time.monotonic() < deadline, "the resolver stays pinned after its micro-batch"
            time.sleep(0.01)
    assert len(seen) == 2
    for mine, pool in seen:
        assert len(mine) == 1
        assert pool and all(cpus == mine for cpus in pool)


def test_a_fixed_cpu_holds_the_resolver_and_the_pool_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cpu = min(allowed_cpus())
    seen = spy_on_micro_batches(monkeypatch)
    with serving(tmp_path, resolver_cpu=cpu) as served:
        answer = served.post("/v1/track", track("fixed"), params={"wait": "true"})
        assert answer.json()["resolved"] is True
        native = resolver_thread().native_id
        assert native is not None
        assert os.sched_getaffinity(native) == {cpu}
    assert seen and all(mine == {cpu} and all(p == {cpu} for p in pool) for mine, pool in seen)


def test_without_a_cpu_nothing_is_pinned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = spy_on_micro_batches(monkeypatch)
    with serving(tmp_path) as served:
        answer = served.post("/v1/track", track("free"), params={"wait": "true"})
        assert answer.json()["resolved"] is True
    assert seen and all(mine == allowed_cpus() for mine, _ in seen)


def test_checkpoints_behind_a_pinned_resolver_run_on_any_cpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The checkpoint thread is started by the resolver's, whose CPU mask it would inherit.
    monkeypatch.setenv("IDGRAPH_CHECKPOINT_MB", "1")
    cpu = min(allowed_cpus())
    with serving(tmp_path, resolver_cpu=cpu, checkpoint_idle_s=0) as served:
        masks: list[set[int]] = []
        real = served.store.checkpoint

        def checkpoint() -> bool:
            masks.append(os.sched_getaffinity(0))
            return real()

        monkeypatch.setattr(served.store, "checkpoint", checkpoint)
        deadline = time.monotonic() + 60
        sent = 0
        while not masks:
            assert time.monotonic() < deadline, "no checkpoint behind the resolver"
            calls = identifies("cp", sent, 50)
            assert served.post("/v1/batch", {"batch": calls}).status_code == 200
            sent += len(calls)
        served.settle()
    assert masks[0] == allowed_cpus()


def test_a_cpu_the_process_may_not_use_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match=r"--resolver-cpu 7: this process may run on CPUs 0, 1"):
        check_cpu(7, {0, 1})
