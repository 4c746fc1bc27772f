"""Many threads use a store at once; reopening it must wait until none is inside."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["UseGate"]


class UseGate:
    """Shared use by any number of threads, or closed for one thread that needs none inside.

    A thread already inside may enter again while the gate waits to close (a read inside a
    write), so nesting never deadlocks; new entries from other threads wait until it opens.
    Writes can be held back alone (`writes_held`) while reads go on.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._inside = 0
        self._closed = False
        self._holding = False
        self._depth = threading.local()

    @contextmanager
    def use(self, *, writes: bool = False) -> Iterator[None]:
        depth = getattr(self._depth, "n", 0)
        with self._cond:
            if depth == 0:
                self._cond.wait_for(lambda: not self._closed and not (writes and self._holding))
            self._inside += 1
        self._depth.n = depth + 1
        try:
            yield
        finally:
            self._depth.n = depth
            with self._cond:
                self._inside -= 1
                self._cond.notify_all()

    @contextmanager
    def closed(self) -> Iterator[None]:
        """Wait until no thread is inside, then keep every other thread out until the end."""
        if getattr(self._depth, "n", 0):
            raise RuntimeError("the store cannot be reopened from inside one of its operations")
        with self._cond:
            self._cond.wait_for(lambda: not self._closed)
            self._closed = True
            self._cond.wait_for(lambda: self._inside == 0)
        try:
            yield
        finally:
            with self._cond:
                self._closed = False
                self._cond.notify_all()

    @contextmanager
    def writes_held(self) -> Iterator[None]:
        """Keep new writes out until the end; reads, and writes already inside, go on."""
        with self._cond:
            self._cond.wait_for(lambda: not self._holding)
            self._holding = True
        try:
            yield
        finally:
            with self._cond:
                self._holding = False
                self._cond.notify_all()
