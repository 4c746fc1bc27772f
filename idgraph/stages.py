"""Per-stage time and memory of one run, for `idgraph ingest --timings` and the benchmarks."""

from __future__ import annotations

import gc
import resource
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from pydantic import BaseModel, ConfigDict

__all__ = ["StageTimer", "StageTiming", "memory_mb", "no_gc"]


class StageTiming(BaseModel):
    """One stage: wall seconds, resident memory when it ended, and the peak so far (MiB)."""

    model_config = ConfigDict(frozen=True)

    stage: str
    seconds: float
    rss_mb: float
    peak_mb: float


def memory_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_mb = peak / 1024 if sys.platform != "darwin" else peak / (1024 * 1024)
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            pages = int(f.read().split()[1])
        current = pages * resource.getpagesize() / (1024 * 1024)
    except OSError:
        current = peak_mb
    return round(current, 1), round(peak_mb, 1)


class StageTimer:
    """Times named stages; a stage entered twice adds up. Reports progress as it goes."""

    def __init__(self, progress: Callable[[str, int, int], None] | None = None) -> None:
        self._progress = progress
        self._rows: dict[str, StageTiming] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if self._progress is not None:
            self._progress(name, 0, 1)
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            rss, peak = memory_mb()
            earlier = self._rows.get(name)
            total = elapsed + (earlier.seconds if earlier else 0.0)
            self._rows[name] = StageTiming(
                stage=name, seconds=round(total, 3), rss_mb=rss, peak_mb=peak
            )
            if self._progress is not None:
                self._progress(name, 1, 1)

    def add(self, timing: StageTiming) -> None:
        self._rows[timing.stage] = timing

    @property
    def rows(self) -> list[StageTiming]:
        return list(self._rows.values())


@contextmanager
def no_gc() -> Iterator[None]:
    """Run a block without Python's cyclic garbage collector.

    Reading and resolving create millions of short-lived containers (cells, rows, tuples)
    and no reference cycles; the collector would walk them all again and again, a tenth of
    a run's time. Reference counting still frees them.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
