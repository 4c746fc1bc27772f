"""Give freed heap memory back to the operating system between the big steps of a run.

A million-record ingest frees gigabytes at a time (the input once folded, the resolution
state once mirrored, each Arrow table once the store has copied it), but glibc keeps freed
pages in its arenas and reuses them only for C allocations, so the store's bulk load would
grow on top of them. `malloc_trim` hands them back: 0.36 GB at 1M records before the load.
Polars' own allocator (jemalloc) returns its pages by itself, after a delay.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Callable
from functools import cache

__all__ = ["ALLOCATOR_SETTINGS", "WORTH_TRIMMING", "give_back", "resident_bytes"]

WORTH_TRIMMING = 100_000
"""Rows freed below which `give_back` does nothing."""

ALLOCATOR_SETTINGS = ("_RJEM_MALLOC_CONF", "dirty_decay_ms:1000,muzzy_decay_ms:0")
"""Polars' allocator (jemalloc) keeps freed pages for 10 s by default; a big ingest frees
gigabytes at a time, and pages kept that long pile up to the peak of resolving. One second
showed no cost in time at 1M records. The `idgraph` command sets it before Polars loads (a
value the user exported wins); a program importing idgraph sets its own."""


@cache
def _trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
        return trim
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return None


def give_back(rows: int) -> None:
    """Return glibc's free heap pages to the system after `rows` rows were let go.

    Small steps skip it: trimming walks the heap, which costs more than it returns when little
    was freed (a service commit, a test's fixture ingest).
    """
    if rows < WORTH_TRIMMING:
        return
    trim = _trim()
    if trim is not None:
        trim(0)


def resident_bytes() -> int | None:
    """This process's resident memory now (Linux; None where `/proc` is missing)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")
