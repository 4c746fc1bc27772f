"""kill -9 under load: every call answered 200 is in the store exactly once after a restart.

`idgraph serve` runs as a real process on a loopback port (alone, or with two HTTP worker
processes); client threads send single `track` calls with their own messageIds and note each
one answered 200; the server (or one worker) is killed with SIGKILL mid-load, started again,
and once `/v1/status` shows depth 0 the store is read.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from idgraph.settings import open_store
from tests.serve.conftest import TS

THREADS = 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(folder: Path, port: int, workers: int = 1) -> Iterator[subprocess.Popen[bytes]]:
    command = [
        sys.executable,
        "-m",
        "idgraph",
        "serve",
        "--no-auth",
        "--port",
        str(port),
        "--store",
        str(folder / "idgraph.db"),
        "--rejects",
        str(folder / "rejects.jsonl"),
        "--log-level",
        "warning",
        "--workers",
        str(workers),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else b""
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "idgraph serve did not start"
            time.sleep(0.1)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
        if process.stderr:
            process.stderr.close()


class Load:
    """Client threads sending single `track` calls with their own messageIds, noting each one
    answered 200; a call that fails in transport was not acknowledged and is not retried."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.acknowledged: list[str] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.client, args=(n,)) for n in range(THREADS)]

    def client(self, n: int) -> None:
        with httpx.Client(base_url=self.url, timeout=5) as http:
            i = 0
            while not self.stop.is_set():
                message_id = f"k{n}-{i}"
                body = {"userId": f"u{n}-{i % 7}", "event": "Viewed", "timestamp": TS}
                i += 1
                try:
                    response = http.post("/v1/track", json={**body, "messageId": message_id})
                except httpx.TransportError:
                    continue  # not acknowledged; the next call may reach another worker
                if response.status_code == 200:
                    with self.lock:
                        self.acknowledged.append(message_id)

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(10)

    def until(self, count: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acknowledged) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.acknowledged) >= count, "too few calls acknowledged"


def stored_once(folder: Path, port: int, acknowledged: list[str], workers: int) -> None:
    """Start the service again, let it resolve what its log holds, and check every
    acknowledged call is stored exactly once."""
    url = f"http://127.0.0.1:{port}"
    with server(folder, port, workers):
        deadline = time.monotonic() + 60
        while httpx.get(f"{url}/v1/status").json()["depth"]:
            assert time.monotonic() < deadline, "the resolver did not catch up after restart"
            time.sleep(0.1)
    with open_store(folder / "idgraph.db", read_only=True) as store:
        rows = store.query("test_events", "MATCH (e:Event) RETURN e.id AS id")
    stored = Counter(str(row["id"]).removeprefix("http:") for row in rows)
    assert max(stored.values()) == 1
    missing = [m for m in acknowledged if stored[m] != 1]
    assert missing == [], f"{len(missing)} acknowledged calls not stored once: {missing[:5]}"


def children(pid: int) -> list[int]:
    """The HTTP worker processes of `pid` (not multiprocessing's resource tracker)."""
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    found = []
    for child in map(int, text.split()):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"resource_tracker" not in command:
            found.append(child)
    return found


@pytest.mark.parametrize("workers", [1, 2])
def test_kill_9_loses_no_acknowledged_call_and_applies_none_twice(
    tmp_path: Path, workers: int
) -> None:
    port = free_port()
    with server(tmp_path, port, workers) as process, Load(f"http://127.0.0.1:{port}") as load:
        load.until(150)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    assert len(load.acknowledged) >= 150
    stored_once(tmp_path, port, load.acknowledged, workers)


def test_a_killed_worker_is_started_again_and_loses_nothing(tmp_path: Path) -> None:
    port = free_port()
    with server(tmp_path, port, 2) as process, Load(f"http://127.0.0.1:{port}") as load:
        load.until(100)
        first = children(process.pid)
        assert len(first) == 2
        os.kill(first[0], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while len(set(children(process.pid)) - {first[0]}) < 2:
            assert time.monotonic() < deadline, "the worker was not started again"
            time.sleep(0.1)
        before = len(load.acknowledged)
        load.until(before + 100)
        deadline = time.monotonic() + 30
        while True:  # a worker still starting up (spawn, imports) has not opened its lane
            lanes = httpx.get(f"http://127.0.0.1:{port}/v1/status").json()["lanes"]
            if len(lanes) == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert [lane["lane"] for lane in lanes] == ["lane-00", "lane-01"]
    stored_once(tmp_path, port, load.acknowledged, 2)
