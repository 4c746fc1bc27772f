"""`idgraph serve --workers N`: N HTTP worker processes in front of the one resolver.

One Python process answers HTTP and resolves on two cores no faster than one of them allows,
and every micro-batch the resolver runs holds the interpreter from the requests waiting to be
acknowledged. So with several workers, this (main) process holds the store, runs the resolver
and answers the workers' questions (`idgraph.serve.owner`), and never answers HTTP; it opens
the listening socket and hands it to N worker processes (`idgraph.serve.front`), which accept
on it, append calls to lanes of their own and ask here for reads.

The HTTP workers come first for the CPU: every thread of this process but its main one (the
resolver, its Polars pool, the answers to workers) runs at a lower priority (`resolver_nice`,
Linux). Under more load than the resolver keeps up with, calls are still acknowledged within
milliseconds and the resolution lag grows (`/v1/status` shows it) rather than the reverse;
below that, the resolver has all the CPU the workers leave. The main thread keeps the normal
priority, so the workers it starts again have it too.

A worker that dies is started again on its lane (the lane's torn tail, if any, is cut on
open); one that dies within seconds of starting, three times in a row, stops the service.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType

from idgraph.errors import ConfigError
from idgraph.serve.affinity import own_threads
from idgraph.serve.app import owner_service
from idgraph.serve.front import FrontSpec, run_front
from idgraph.serve.heap import settle_heap
from idgraph.serve.owner import OwnerServer
from idgraph.serve.settings import ServeSettings
from idgraph.store.base import GraphStore

logger = logging.getLogger(__name__)

__all__ = ["serve_with_workers"]

#: A worker that exits sooner than this after its start has failed to start.
_EARLY_S = 5.0
_EARLY_LIMIT = 3


def _listen(host: str, port: int, patience_s: float = 10.0) -> socket.socket:
    """Listen on `host:port`, waiting a little while the port is held: the workers of a run
    that was killed stop within a second of noticing it, and let go of it then."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            return socket.create_server((host, port), backlog=2048)
        except OSError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


def _lower_priority(nice: int) -> None:
    """Lower every thread of this process but the calling (main) one to `nice` (Linux; new
    threads are caught at the next call)."""
    if nice <= 0 or not sys.platform.startswith("linux"):
        return
    me = threading.get_native_id()
    for tid in own_threads():
        if tid == me:
            continue
        try:
            if os.getpriority(os.PRIO_PROCESS, tid) < nice:
                os.setpriority(os.PRIO_PROCESS, tid, nice)
        except OSError:  # the thread ended meanwhile
            continue


def serve_with_workers(
    store: GraphStore,
    settings: ServeSettings,
    *,
    host: str,
    port: int,
    workers: int,
    log_level: str = "info",
    resolver_nice: int = 10,
) -> None:
    """Serve until SIGINT or SIGTERM, then stop cleanly:
    the workers finish their requests and make their appends durable, the resolver applies
    what the lanes hold, and the store is checkpointed.

    Raises:
        ConfigError: the port cannot be bound, or a worker keeps failing to start.
    """
    service = owner_service(store, settings, lane=None)
    folder = Path(tempfile.mkdtemp(prefix="idgraph-serve-"))
    authkey = os.urandom(32)
    server = OwnerServer(service, str(folder / "resolver.sock"), authkey)
    try:
        sock = _listen(host, port)
    except OSError as exc:
        server.close()
        shutil.rmtree(folder, ignore_errors=True)
        raise ConfigError(f"cannot listen on {host}:{port}: {exc}") from None
    front_settings = settings.model_copy(update={"match_config": None, "traits": None})
    context = multiprocessing.get_context("spawn")
    stop = threading.Event()
    processes: dict[int, tuple[BaseProcess, float]] = {}
    early = dict.fromkeys(range(workers), 0)

    def start(index: int) -> None:
        spec = FrontSpec(
            index, front_settings, service.log_root, server.address, authkey, os.getpid(), log_level
        )
        process = context.Process(
            target=run_front, args=(spec, sock), name=f"idgraph-worker-{index}", daemon=False
        )
        process.start()
        processes[index] = (process, time.monotonic())

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    failure: str | None = None
    try:
        settle_heap()
        server.start()
        service.start()
        for index in range(workers):
            start(index)
        while not stop.wait(0.5):
            _lower_priority(resolver_nice)
            for index, (process, started) in list(processes.items()):
                if process.exitcode is None:
                    continue
                early[index] = early[index] + 1 if time.monotonic() - started < _EARLY_S else 0
                if early[index] >= _EARLY_LIMIT:
                    failure = f"worker {index} keeps exiting (code {process.exitcode}) at start"
                    stop.set()
                    break
                code = process.exitcode
                logger.warning("worker %d exited with %s; starting it again", index, code)
                start(index)
    finally:
        for process, _ in processes.values():
            if process.exitcode is None:
                process.terminate()  # SIGTERM: uvicorn finishes the requests it has
        for process, _ in processes.values():
            process.join(30)
            if process.exitcode is None:
                process.kill()
                process.join(5)
        sock.close()
        service.close()
        server.close()
        shutil.rmtree(folder, ignore_errors=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if failure:
        raise ConfigError(failure)
