"""Per-stage time, memory and counts of one run, and the progress calls made as it goes.

A progress callback is called with `(key, done, total)`. The key is a stage ("read", "fold",
"resolve", "write", ...), counted in the stage's unit (`STAGE_UNITS`), or a step of one,
`"<stage>: <what>"` ("resolve: candidate pairs", "read: people.csv"), counted in what it
names (a file's steps in bytes). For every key `done` never decreases and the last call has
`done == total`; a count known only when a step ends is announced as `(key, 0, 1)`.
Calls come at chunk and step granularity, never per row, so they cost nothing measurable.
"""

from __future__ import annotations

import gc
import resource
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from pydantic import BaseModel, ConfigDict

from idgraph.memory import resident_bytes

__all__ = [
    "STAGE_UNITS",
    "Progress",
    "StageCounter",
    "StageTimer",
    "StageTiming",
    "bytes_of",
    "deduplicated",
    "memory_mb",
    "no_gc",
    "split_key",
]

#: Called with (stage or "stage: step", done, total) as work advances; see the module docs.
Progress = Callable[[str, int, int], None]

#: What each stage's own key counts (its steps name their unit themselves).
STAGE_UNITS: dict[str, str] = {
    "read": "bytes",
    "fold": "records",
    "state": "records",
    "scope": "records",
    "resolve": "customers",
    "mirror": "",
    "write": "rows",
    "segments": "changes",
}


def bytes_of(progress: Progress, size: int) -> Callable[[int], None]:
    """A reader's bytes-so-far callback reporting `("bytes", done, size)` to `progress`.

    Only counts past the highest so far are reported: a reader may read a file twice (the
    CSV reader falls back to reading line by line), and the count must not go back.
    """
    highest = [0]

    def report(done: int) -> None:
        if done > highest[0]:
            highest[0] = done
            progress("bytes", done, size)

    return report


def deduplicated(progress: Progress | None) -> Progress:
    """`progress` without the calls that repeat a key's last (done, total); a no-op for None."""
    last: dict[str, tuple[int, int]] = {}

    def report(key: str, done: int, total: int) -> None:
        if progress is not None and last.get(key) != (done, total):
            last[key] = (done, total)
            progress(key, done, total)

    return report


def split_key(key: str) -> tuple[str, str | None]:
    """A progress key as (stage, step), step None for the stage's own key.

    Examples:
        >>> split_key("resolve: candidate pairs")
        ('resolve', 'candidate pairs')
        >>> split_key("write")
        ('write', None)
    """
    stage, sep, step = key.partition(": ")
    return stage, (step if sep else None)


class StageTiming(BaseModel):
    """One stage: wall seconds, resident memory when it ended, and the peak so far (MiB)."""

    model_config = ConfigDict(frozen=True)

    stage: str
    seconds: float
    rss_mb: float
    peak_mb: float
    #: What the stage went through (lines read, records folded, customers, rows written).
    count: int | None = None
    unit: str = ""


def memory_mb() -> tuple[float, float]:
    """(current, peak) resident set size of this process in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_mb = peak / 1024 if sys.platform != "darwin" else peak / (1024 * 1024)
    resident = resident_bytes()
    current = peak_mb if resident is None else resident / (1024 * 1024)
    return round(current, 1), round(peak_mb, 1)


class StageCounter:
    """The stage being timed: its `count`, and `step` to report progress on one of its steps.

    `step` is itself a `Progress` callback (`(what, done, total)`), to pass to a function
    that knows its steps but not the stage it runs in.
    """

    def __init__(self, stage: str, progress: Progress | None) -> None:
        self.stage = stage
        self.count: int | None = None
        self._progress = progress

    def step(self, what: str, done: int, total: int) -> None:
        if self._progress is not None:
            self._progress(f"{self.stage}: {what}", done, total)


class StageTimer:
    """Times named stages; a stage entered twice adds up. Reports progress as it goes:
    `(stage, 0, 1)` when a stage starts, `(stage, n, n)` when it ends with `count` n (or
    `(stage, 1, 1)` without a count), steps in between."""

    def __init__(self, progress: Progress | None = None) -> None:
        self._progress = progress
        self._rows: dict[str, StageTiming] = {}
        self._reported: dict[str, int] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[StageCounter]:
        earlier = self._rows.get(name)
        if self._progress is not None and earlier is None:
            self._progress(name, 0, 1)
        counter = StageCounter(name, self._progress)
        started = time.perf_counter()
        try:
            yield counter
        finally:
            elapsed = time.perf_counter() - started
            rss, peak = memory_mb()
            total = elapsed + (earlier.seconds if earlier else 0.0)
            count = counter.count if counter.count is not None or earlier is None else earlier.count
            self._rows[name] = StageTiming(
                stage=name,
                seconds=round(total, 3),
                rss_mb=rss,
                peak_mb=peak,
                count=count,
                unit=STAGE_UNITS.get(name, "") if count is not None else "",
            )
            if self._progress is not None:
                done = max(self._reported.get(name, 0), 1 if count is None else count)
                self._reported[name] = done
                self._progress(name, done, done)

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
