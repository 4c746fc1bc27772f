"""Continuous delivery for `idgraph serve`: a background thread that drains the outbox.

It runs in the process that owns the store (beside the resolver); its writes (marking rows,
totals) take the resolver's writer lock, so the two never write at once. A drain interrupted
by shutdown leaves what it had not marked in the outbox, for the next start.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager

from idgraph.activate.config import DestinationsConfig
from idgraph.activate.deliver import Deliverer
from idgraph.errors import IdGraphError
from idgraph.store.base import GraphStore

__all__ = ["DeliveryLoop"]

logger = logging.getLogger(__name__)


class DeliveryLoop:
    """Drains every `interval_s` seconds (and at once when `wake` is called)."""

    def __init__(
        self,
        store: GraphStore,
        config: DestinationsConfig,
        *,
        interval_s: float = 1.0,
        writing: Callable[[], AbstractContextManager[None]] | None = None,
    ) -> None:
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.interval_s = interval_s
        self.deliverer = Deliverer(store, config, stop=self._stop, writing=writing)
        self._thread: threading.Thread | None = None
        self.drains = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="idgraph-deliver", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.deliverer.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliverer.drain()
            except IdGraphError as exc:  # the store is busy or gone: try again next time
                logger.warning("delivery failed: %s", exc)
            self.drains += 1
            self._wake.wait(self.interval_s)
            self._wake.clear()
