"""Keep the garbage collector's full passes short in a long-running service process."""

from __future__ import annotations

import gc

__all__ = ["settle_heap"]


def settle_heap() -> None:
    """Move every object made so far (modules, the app, its models: some 130,000 in an HTTP
    worker) out of the collector's reach, just before a process starts serving.

    A full collection walks them all, which took 130-160 ms on a 2-core machine; every request
    in flight waited that long, and it was the service's p99 (140-180 ms against 40 ms with
    them moved, at 800 calls/s). Objects made later are collected as usual.
    """
    gc.collect()
    gc.freeze()
