"""`idgraph serve` in a subprocess over the fixtures, with read and admin keys, for the web
page's tests through real HTTP (worker processes, a browser)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.serve.test_ui import ADMIN_KEY, READ_KEY, fixture_store


@dataclass(frozen=True)
class Running:
    url: str
    store: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def ui_server(folder: Path, *, workers: int = 1, store: Path | None = None) -> Iterator[Running]:
    """`store` (default: the fixtures' store, built in `folder`) served on a free port until
    the block ends (then SIGTERM)."""
    store = store or fixture_store(folder)
    port = free_port()
    env = {
        **os.environ,
        "IDGRAPH_API_KEYS": f"{READ_KEY},{ADMIN_KEY}",
        "IDGRAPH_ADMIN_KEYS": ADMIN_KEY,
    }
    command = [
        sys.executable,
        "-m",
        "idgraph",
        "serve",
        "--port",
        str(port),
        "--store",
        str(store),
        "--rejects",
        str(folder / "rejects.jsonl"),
        "--log-level",
        "warning",
        "--workers",
        str(workers),
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else b""
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "idgraph serve did not start"
            time.sleep(0.1)
        yield Running(url=url, store=store)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
        if process.stderr:
            process.stderr.close()
