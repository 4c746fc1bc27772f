"""An HTTP worker process of `idgraph serve --workers N`.

Each worker answers HTTP on the socket the main process listens on, checks calls, appends
them to a call-log lane of its own (`lane-NN`, so workers never wait on each other's appends)
and answers once the append is durable. Everything that needs the store — reads, waiting for
resolution, the status and the totals — it asks the main process, which holds the store and
runs the one resolver (`idgraph.serve.owner`). Its own counts go there every half second.

A worker stops when asked (SIGTERM, from the main process) and also when the main process is
gone, after finishing the requests it has: an orphaned worker would hold its lane.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
from collections.abc import AsyncIterator
from concurrent.futures import Future
from contextlib import asynccontextmanager
from dataclasses import dataclass
from multiprocessing.connection import Client, Connection
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from idgraph.activate.status import DestinationStatus
from idgraph.errors import NotFoundError, StoreError
from idgraph.query import CustomerProfile, EvidencePath, SegmentPage
from idgraph.serve.errors import ApiError
from idgraph.serve.heap import settle_heap
from idgraph.serve.log import CallLog, lane_folder
from idgraph.serve.models import CallError, Counters, Health, Status
from idgraph.serve.rejects import RejectsLog
from idgraph.serve.service import Counting, Tally
from idgraph.serve.settings import ServeSettings

logger = logging.getLogger(__name__)

__all__ = ["Front", "FrontSpec", "run_front"]

#: How often a worker sends its counts to the main process (seconds).
PUSH_S = 0.5


@dataclass(frozen=True, slots=True)
class FrontSpec:
    """What a worker process is started with."""

    index: int
    settings: ServeSettings
    log_root: Path
    address: str
    authkey: bytes
    parent_pid: int
    log_level: str = "info"


def raise_error(kind: str, message: Any) -> None:
    """Raise what the main process's error was (`idgraph.serve.owner.error_of`)."""
    if kind == "api":
        raise ApiError(
            message["status"],
            message["message"],
            headers=message["headers"],
            errors=[CallError(**e) for e in message["errors"]],
            code=message["code"],
        )
    if kind == "not_found":
        raise NotFoundError(message)
    if kind == "store":
        raise StoreError(message)
    if kind == "value":
        raise ValueError(message)
    raise RuntimeError(f"the resolver process failed: {message}")


class OwnerCalls:
    """Requests to the main process, over a pool of connections (one per thread at a time)."""

    def __init__(self, address: str, authkey: bytes) -> None:
        self._address = address
        self._authkey = authkey
        self._idle: queue.LifoQueue[Connection] = queue.LifoQueue()

    def call(self, op: str, *args: Any, **kwargs: Any) -> Any:
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = self._connect()
        try:
            conn.send((op, args, kwargs))
            answer = conn.recv()
        except (EOFError, OSError):
            conn.close()
            raise StoreError("the resolver process is not answering; retry shortly") from None
        self._idle.put(conn)
        if answer[0] == "ok":
            return answer[1]
        raise_error(answer[1], answer[2])

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return

    def _connect(self) -> Connection:
        try:
            return Client(self._address, family="AF_UNIX", authkey=self._authkey)
        except OSError as exc:
            raise StoreError(f"cannot reach the resolver process: {exc}") from None


class RemoteGraph:
    """The graph reads of `IdentityGraph`, made by the main process."""

    def __init__(self, calls: OwnerCalls) -> None:
        self._calls = calls

    def lookup(self, identifier: str) -> list[str]:
        return list(self._calls.call("graph", "lookup", identifier))

    def why_not_found(self, identifier: str) -> str:
        return str(self._calls.call("graph", "why_not_found", identifier))

    def profile(self, customer_id: str, *, events: int = 20) -> CustomerProfile:
        answer: CustomerProfile = self._calls.call("graph", "profile", customer_id, events=events)
        return answer

    def segment_members(self, name: str, *, offset: int = 0, limit: int = 100) -> SegmentPage:
        answer: SegmentPage = self._calls.call(
            "graph", "segment_members", name, offset=offset, limit=limit
        )
        return answer

    def explain(self, record_a: str, record_b: str) -> EvidencePath:
        answer: EvidencePath = self._calls.call("graph", "explain", record_a, record_b)
        return answer


class Front(Counting):
    """A worker's state: its lane, its counts, and the main process it asks (a `Backend`)."""

    def __init__(self, spec: FrontSpec) -> None:
        self.settings = spec.settings
        self._calls = OwnerCalls(spec.address, spec.authkey)
        self.graph = RemoteGraph(self._calls)
        folder = lane_folder(spec.log_root, spec.index)
        self.lane = folder.name
        self.log = CallLog(
            folder,
            group_wait_ms=spec.settings.log_group_wait_ms,
            start_after=int(self._calls.call("applied", self.lane)),
        )
        self.rejects = RejectsLog(spec.settings.rejects_path)
        self.tally = Tally()
        self._sent = Counters()
        self._push_lock = threading.Lock()
        self._stop = threading.Event()
        self._pusher = threading.Thread(target=self._push_loop, name="idgraph-push", daemon=True)
        self._pusher.start()

    def append(self, body: bytes) -> Future[int]:
        return self.log.append(body)

    def wait_for(self, offset: int, timeout: float) -> bool:
        return bool(self._calls.call("wait_for", self.lane, offset, timeout))

    def destinations(self) -> list[DestinationStatus]:
        answer: list[DestinationStatus] = self._calls.call("destinations")
        return answer

    def counters(self) -> Counters:
        self.push()
        answer: Counters = self._calls.call("counters")
        return answer

    def customers_of(self, record_keys: list[str]) -> list[str]:
        return list(self._calls.call("customers_of", record_keys))

    def health(self) -> Health:
        answer: Health = self._calls.call("health")
        return answer

    def status(self) -> Status:
        answer: Status = self._calls.call("status")
        return answer

    def admin(self, op: str, body: BaseModel) -> BaseModel:
        answer: BaseModel = self._calls.call("admin", op, body)
        return answer

    def ui(self, op: str, body: BaseModel) -> BaseModel:
        answer: BaseModel = self._calls.call("ui", op, body)
        return answer

    def push(self) -> None:
        """Send the counts made since the last push to the main process."""
        with self._push_lock:
            now = self.tally.snapshot()
            delta = {
                name: getattr(now, name) - getattr(self._sent, name)
                for name in ("requests", "received", "accepted", "rejected", "failed", "pending")
            }
            if not any(delta.values()):
                return
            self._calls.call("add_counters", delta)
            self._sent = now

    def close(self) -> None:
        """Make what is queued durable, send the last counts, and let go of the lane."""
        self._stop.set()
        self.log.close()
        self.rejects.close()
        try:
            self.push()
        except StoreError:
            logger.warning("could not send the last counts to the resolver process")
        self._calls.close()

    def _push_loop(self) -> None:
        while not self._stop.wait(PUSH_S):
            try:
                self.push()
            except StoreError:
                continue


def run_front(spec: FrontSpec, sock: socket.socket) -> None:
    """A worker process's main: serve HTTP on `sock` until told to stop or orphaned."""
    import uvicorn

    from idgraph.serve.app import build_app

    front = Front(spec)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            front.close()

    app = build_app(front, lifespan)
    config = uvicorn.Config(app, log_level=spec.log_level, access_log=False)
    server = uvicorn.Server(config)
    settle_heap()

    def watch_parent() -> None:
        while not server.should_exit:
            if os.getppid() != spec.parent_pid:
                logger.warning("worker %d: the main process is gone; stopping", spec.index)
                server.should_exit = True
                return
            threading.Event().wait(0.5)

    threading.Thread(target=watch_parent, name="idgraph-orphan-watch", daemon=True).start()
    server.run(sockets=[sock])
