"""Segment moves of a previewed change, worked out in the background while the page answers.

Who would enter and leave each saved segment is only known once the change has been resolved
for the customers concerned and written in a transaction that is rolled back
(`overrides.preview_change`): most of a second on a store of 100k customers, where the rest of
a preview page (the records, parts, guards, the customers side by side) takes a few tens of
milliseconds. So a preview starts its rehearsal here and answers at once with a ticket; the
page's script asks for the moves by that ticket (`/ui/moves/{ticket}`) and the confirm button
waits for them. The ticket is kept where the store is (the main process with `--workers N`),
like every page operation.

One rehearsal runs at a time (each holds the resolver off, as a change does); tickets are
random, kept for a few minutes and at most `_KEPT` of them.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

logger = logging.getLogger(__name__)

__all__ = ["Rehearsals", "Waited"]

#: Tickets kept at most (the oldest are dropped first), and for how long.
_KEPT = 64
_KEEP_S = 600.0

#: Segment -> {"entered": [...], "exited": [...]}, None when the store cannot rehearse.
MovesMap = dict[str, dict[str, list[str]]] | None


@dataclass(frozen=True, slots=True)
class Waited:
    """What a ticket holds after waiting: done with moves, refused with a message, or not
    done yet (`ready` False), or unknown (expired, or never issued)."""

    known: bool
    ready: bool = False
    moves: MovesMap = None
    problem: str = ""


class Rehearsals:
    """Rehearsals started by preview pages, by ticket."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tickets: OrderedDict[str, tuple[float, Future[tuple[MovesMap, str]]]] = OrderedDict()
        self._pool: ThreadPoolExecutor | None = None

    def start(self, rehearse: Callable[[], tuple[MovesMap, str]]) -> str:
        """Start `rehearse` (which returns the moves and a problem, "" when none) and return
        its ticket."""
        ticket = secrets.token_hex(16)
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ui-rehearsal")
            future = self._pool.submit(self._guarded, rehearse)
            self._tickets[ticket] = (time.monotonic(), future)
            self._trim()
        return ticket

    def wait(self, ticket: str, timeout_s: float) -> Waited:
        """The ticket's moves, waiting up to `timeout_s` for them."""
        with self._lock:
            self._trim()
            held = self._tickets.get(ticket)
        if held is None:
            return Waited(known=False)
        try:
            moves, problem = held[1].result(timeout=timeout_s)
        except FutureTimeout:
            return Waited(known=True)
        return Waited(known=True, ready=True, moves=moves, problem=problem)

    def _trim(self) -> None:
        cutoff = time.monotonic() - _KEEP_S
        while self._tickets and (
            len(self._tickets) > _KEPT or next(iter(self._tickets.values()))[0] < cutoff
        ):
            self._tickets.popitem(last=False)

    @staticmethod
    def _guarded(rehearse: Callable[[], tuple[MovesMap, str]]) -> tuple[MovesMap, str]:
        try:
            return rehearse()
        except Exception as exc:  # a failed rehearsal is a message on the page, never a trace
            logger.error("ui rehearsal failed: %s", type(exc).__name__)
            logger.debug("ui rehearsal failure", exc_info=exc)
            return None, "the segment moves could not be worked out; the result page lists them"
