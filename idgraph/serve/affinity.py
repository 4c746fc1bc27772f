"""Keep the resolver thread and Polars' thread pool on one CPU while a micro-batch runs.

A micro-batch makes ~1,500 small Polars operations, and each frame-level one (a filter, a
join, a sort) hands its work to the pool's threads and waits for them. On a virtual machine,
waking a thread on another CPU costs tens of microseconds each way: on the 2-core machines
of docs/serve.md a filter of 100 rows took ~120 µs with the pool free to run anywhere and
~40 µs with the caller and the pool on one CPU, and an 800-call micro-batch 0.69 s against
0.55 s. The micro-batches are small enough that one CPU is all their operations use.

`"auto"` pins them, for the length of each micro-batch, to the CPU the resolver woke up on,
and lets the resolver go between micro-batches: the scheduler then wakes it where the HTTP
workers leave room. A fixed CPU (a number) pins them there for good. Only these threads are
pinned: the store engine's own threads, the checkpoints behind the micro-batches and the
HTTP workers run on any CPU.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal

from idgraph.errors import ConfigError

logger = logging.getLogger(__name__)

__all__ = [
    "CpuChoice",
    "CpuPin",
    "allowed_cpus",
    "check_cpu",
    "own_threads",
    "parse_cpu",
    "polars_threads",
    "unpin",
]

#: `"auto"` (each micro-batch on the CPU the resolver woke up on, on Linux with two or more
#: CPUs), a CPU number, or None (no pinning).
CpuChoice = int | Literal["auto"] | None

_POOL_PREFIX = "polars-"


def allowed_cpus() -> set[int]:
    """The CPUs this process's main thread may run on (every CPU without affinity support)."""
    if not hasattr(os, "sched_getaffinity"):
        return set(range(os.cpu_count() or 1))
    return set(os.sched_getaffinity(os.getpid()))


def parse_cpu(text: str) -> CpuChoice:
    """The `--resolver-cpu` value: `auto`, `off`, or a CPU number.

    Examples:
        >>> parse_cpu("auto"), parse_cpu("off"), parse_cpu(" 1 ")
        ('auto', None, 1)

    Raises:
        ConfigError: anything else.
    """
    value = text.strip().lower()
    if value == "auto":
        return "auto"
    if value in {"off", "none", ""}:
        return None
    if value.isdigit():
        return int(value)
    raise ConfigError(f"--resolver-cpu {text!r}: use auto, off, or a CPU number")


def check_cpu(choice: CpuChoice, allowed: set[int] | None = None) -> CpuChoice:
    """`choice` where it can take effect here, else None (`"auto"` with one CPU, or off Linux).

    Examples:
        >>> check_cpu("auto", {0, 1}), check_cpu("auto", {0}), check_cpu(1, {0, 1})
        ('auto', None, 1)

    Raises:
        ConfigError: a CPU number this process may not run on.
    """
    cpus = allowed_cpus() if allowed is None else allowed
    if choice is None or not sys.platform.startswith("linux"):
        return None
    if choice == "auto":
        return "auto" if len(cpus) >= 2 else None
    if choice not in cpus:
        listed = ", ".join(str(cpu) for cpu in sorted(cpus))
        raise ConfigError(f"--resolver-cpu {choice}: this process may run on CPUs {listed}")
    return choice


def unpin() -> None:
    """Let the calling thread run on every CPU the process's main thread may: a thread
    inherits the mask of the one that started it, and the checkpoints and reopens behind the
    micro-batches (and the engine threads a reopen starts) must not share the resolver's."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, allowed_cpus())


class CpuPin:
    """Pins the resolver thread and Polars' pool to one CPU (`hold`), per `CpuChoice`."""

    def __init__(self, choice: CpuChoice) -> None:
        self.choice = choice
        self._current: Callable[[], int] | None = None
        self._pool: list[int] = []

    @contextmanager
    def hold(self) -> Iterator[int | None]:
        """Pin for the length of the block (`"auto"`: to the CPU the caller is on, freed
        after); yields the CPU, or None when not pinned."""
        cpu = self._cpu()
        if cpu is None:
            yield None
            return
        me = threading.get_native_id()
        for tid in [me, *self._pool_threads()]:
            try:
                os.sched_setaffinity(tid, {cpu})
            except OSError as exc:  # a CPU taken away from the process meanwhile
                logger.debug("could not pin thread %d to CPU %d: %s", tid, cpu, exc)
        try:
            yield cpu
        finally:
            if self.choice == "auto":
                unpin()

    def _cpu(self) -> int | None:
        if self.choice is None:
            return None
        if isinstance(self.choice, int):
            return self.choice
        if self._current is None:
            self._current = ctypes.CDLL(None).sched_getcpu
        return int(self._current())

    def _pool_threads(self) -> list[int]:
        """Polars' pool threads, found once (the pool lives as long as the process)."""
        if not self._pool:
            self._pool = polars_threads()
        return self._pool


def own_threads() -> list[int]:
    """The native ids of this process's threads (Linux; none where /proc is not there)."""
    try:
        return [int(name) for name in os.listdir("/proc/self/task")]
    except OSError:
        return []


def polars_threads() -> list[int]:
    """The threads of Polars' pool (`polars-0`, `polars-1`, …), started first if need be."""
    import polars as pl

    pl.thread_pool_size()
    found = []
    for tid in own_threads():
        try:
            with open(f"/proc/self/task/{tid}/comm") as comm:
                name = comm.read().strip()
        except OSError:  # the thread ended meanwhile
            continue
        if name.startswith(_POOL_PREFIX) and name[len(_POOL_PREFIX) :].isdigit():
            found.append(tid)
    return found
