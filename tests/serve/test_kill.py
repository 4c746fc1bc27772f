"""kill -9 under load: every call answered 200 is in the store exactly once after a restart.

`idgraph serve` runs as a real process on a loopback port; client threads send single
`track` calls with their own messageIds and note each one answered 200; the server is killed
with SIGKILL mid-load, started again, and once `/v1/status` shows depth 0 the store is read.
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

from idgraph.settings import open_store
from tests.serve.conftest import TS

THREADS = 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(folder: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
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
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
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


def test_kill_9_loses_no_acknowledged_call_and_applies_none_twice(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(n: int) -> None:
        with httpx.Client(base_url=url, timeout=5) as http:
            i = 0
            while not stop.is_set():
                message_id = f"k{n}-{i}"
                body = {"userId": f"u{n}-{i % 7}", "event": "Viewed", "timestamp": TS}
                try:
                    response = http.post("/v1/track", json={**body, "messageId": message_id})
                except httpx.TransportError:
                    return  # the server is gone: this call was not acknowledged
                if response.status_code == 200:
                    with lock:
                        acknowledged.append(message_id)
                i += 1

    with server(tmp_path, port) as process:
        threads = [threading.Thread(target=client, args=(n,)) for n in range(THREADS)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while len(acknowledged) < 150 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        stop.set()
        for thread in threads:
            thread.join(10)
    assert len(acknowledged) >= 50, "too few calls acknowledged before the kill"

    with server(tmp_path, port):
        deadline = time.monotonic() + 60
        while httpx.get(f"{url}/v1/status").json()["depth"]:
            assert time.monotonic() < deadline, "the resolver did not catch up after restart"
            time.sleep(0.1)

    with open_store(tmp_path / "idgraph.db", read_only=True) as store:
        rows = store.query("test_events", "MATCH (e:Event) RETURN e.id AS id")
    stored = Counter(str(row["id"]).removeprefix("http:") for row in rows)
    missing = [m for m in acknowledged if stored[m] != 1]
    assert missing == [], f"{len(missing)} acknowledged calls not stored once: {missing[:5]}"
