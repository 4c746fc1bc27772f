"""A deliverer killed mid-drain (a real subprocess, SIGKILL) loses nothing: the next drain
sends what the first had not marked, with the same idempotency keys."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from idgraph.activate.config import load_destinations
from idgraph.activate.deliver import drain
from idgraph.activate.status import outbox_size
from idgraph.settings import open_store
from tests.activate.conftest import SECRET, webhook_yaml, write_config
from tests.activate.receiver import Behaviour, Receiver, verifies


def test_nothing_is_lost_across_a_killed_deliverer(
    ran_store: tuple[Path, int], tmp_path: Path
) -> None:
    store, entered = ran_store
    env = {**os.environ, "CRM_HOOK_SECRET": SECRET}
    with Receiver(Behaviour(delay=0.15)) as hook:
        path = write_config(tmp_path, webhook_yaml(hook.url, batch_size=5))
        errors = tmp_path / "child.err"
        with errors.open("wb") as err:
            child = subprocess.Popen(
                [sys.executable, "-m", "idgraph", "deliver", "--store", str(store),
                 "--destinations", str(path)],
                env=env, stdout=subprocess.DEVNULL, stderr=err,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while len(hook.accepted) < 4 and time.monotonic() < deadline:
            assert child.poll() is None, errors.read_text()
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL
        first = {c["idempotency_key"] for c in hook.changes()}
    assert 0 < len(first) < entered
    with open_store(store) as graph:
        left = outbox_size(graph)
        assert 0 < left <= entered - len(first) + 5  # at most one batch in flight was unmarked
    os.environ["CRM_HOOK_SECRET"] = SECRET
    try:
        with Receiver() as again:
            config = load_destinations(write_config(tmp_path, webhook_yaml(again.url)))
            with open_store(store) as graph:
                report = drain(graph, config)
                assert outbox_size(graph) == 0
    finally:
        del os.environ["CRM_HOOK_SECRET"]
    second = [c["idempotency_key"] for c in again.changes()]
    assert report.sent == left == len(second)
    with open_store(store, read_only=True) as graph:
        every = {r["id"] for r in graph.query("t", "MATCH (x:SegmentChange) RETURN x.id AS id")}
    assert len(every) == entered and first | set(second) == every
    # A repeat (the batch in flight at the kill) carries the key it had the first time.
    assert len(first & set(second)) <= 5
    assert all(verifies(r, SECRET.encode()) for r in again.accepted)
