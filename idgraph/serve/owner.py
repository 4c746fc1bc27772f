"""The resolver's process answers its HTTP workers: reads, waits for resolution, totals.

With `idgraph serve --workers N`, the process that holds the store runs the resolver and no
HTTP; N worker processes (`idgraph.serve.front`) answer HTTP, append calls to lanes of their
own, and ask this process for everything that needs the store. They ask over a Unix socket
with `multiprocessing.connection` (pickled tuples, authenticated with a key made for the run):
`(op, args, kwargs)` in, `("ok", value)` or `("err", kind, message)` out, where the kind
(`ERROR_KINDS`) tells the worker which error to raise so it answers as the single-process
service would (404, 400, 503). Only the operations in `_OPS` are answered; graph reads are
limited to `GRAPH_READS`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection, Listener
from typing import Any, Final

from idgraph.errors import NotFoundError, StoreError
from idgraph.serve.errors import ApiError
from idgraph.serve.resolver import applied_offset
from idgraph.serve.service import Service

logger = logging.getLogger(__name__)

__all__ = ["ERROR_KINDS", "GRAPH_READS", "OwnerServer", "error_of"]

#: Errors a worker raises again by kind; others become "internal" (a 500 without detail).
ERROR_KINDS: Final[dict[str, type[Exception] | tuple[type[Exception], ...]]] = {
    "not_found": NotFoundError,
    "store": StoreError,
    "value": ValueError,
}

#: The `IdentityGraph` reads a worker may ask for.
GRAPH_READS: Final = frozenset({"lookup", "why_not_found", "profile", "segment_members", "explain"})


def _graph(service: Service, name: str, *args: Any, **kwargs: Any) -> Any:
    if name not in GRAPH_READS:
        raise ValueError(f"not a read a worker may ask for: {name!r}")
    return getattr(service.graph, name)(*args, **kwargs)


_OPS: Final[dict[str, Callable[..., Any]]] = {
    "graph": _graph,
    "customers_of": lambda service, keys: service.customers_of(keys),
    "wait_for": lambda service, lane, offset, timeout: service.resolver.wait_for(
        lane, offset, timeout
    ),
    "applied": lambda service, lane: applied_offset(service.store, lane),
    "add_counters": lambda service, delta: service.tally.add(delta),
    "counters": lambda service: service.counters(),
    "status": lambda service: service.status(),
    "health": lambda service: service.health(),
    "destinations": lambda service: service.destinations(),
    "admin": lambda service, op, body: service.admin(op, body),
    "ui": lambda service, op, body: service.ui(op, body),
}


class OwnerServer:
    """Answers workers' requests on `address` (a Unix socket path), a thread per connection.

    Args:
        service: the process state over the store.
        address: the socket path (created; removed at `close`).
        authkey: the key workers must present (`multiprocessing.connection` challenge).
    """

    def __init__(self, service: Service, address: str, authkey: bytes) -> None:
        self.service = service
        self.address = address
        self._listener = Listener(address, family="AF_UNIX", authkey=authkey)
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="idgraph-owner", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn = self._listener.accept()
            except OSError:  # closed, or a client that failed the key challenge
                if self._closed:
                    return
                logger.warning("a worker connection was refused")
                continue
            threading.Thread(
                target=self._serve, args=(conn,), name="idgraph-owner-conn", daemon=True
            ).start()

    def _serve(self, conn: Connection) -> None:
        with conn:
            while True:
                try:
                    op, args, kwargs = conn.recv()
                except (EOFError, OSError):
                    return
                try:
                    handler = _OPS.get(op)
                    if handler is None:
                        raise ValueError(f"unknown operation {op!r}")
                    answer: tuple[Any, ...] = ("ok", handler(self.service, *args, **kwargs))
                except Exception as exc:  # handed to the worker, which raises its like
                    answer = ("err", *error_of(exc))
                try:
                    conn.send(answer)
                except (EOFError, OSError):
                    return
                except Exception as exc:  # an answer that does not pickle
                    conn.send(("err", "internal", f"{type(exc).__name__} in the resolver"))


def error_of(exc: Exception) -> tuple[str, Any]:
    """The kind and detail a worker raises again (`idgraph.serve.front.raise_error`)."""
    if isinstance(exc, ApiError):  # an answer made here (admin calls): passed on whole
        detail = {
            "status": exc.status,
            "message": exc.message,
            "headers": exc.headers,
            "errors": [e.model_dump() for e in exc.errors],
            "code": exc.code,
        }
        return "api", detail
    for kind, types in ERROR_KINDS.items():
        if isinstance(exc, types):
            return kind, str(exc)
    logger.error("a worker's request failed: %s", type(exc).__name__)
    logger.debug("worker request failure", exc_info=exc)
    return "internal", type(exc).__name__
