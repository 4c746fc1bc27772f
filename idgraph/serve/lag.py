"""How long each resolved call waited between its acknowledgement and its micro-batch's commit.

`GET /v1/status`'s `lag_s` is the age of the oldest call still waiting: one number for the
queue as it is now, and under steady load mostly the worst call's. What a caller that reads
its own writes lives with is each call's own wait, so the resolver also counts every resolved
call's wait here, since the service started: a histogram of fixed, geometrically growing
buckets (5% wide, 1 ms to about 2.6 hours), so memory stays flat however long it runs and a
quantile is off by at most one bucket's width.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_left
from typing import Final

from pydantic import BaseModel, Field

#: Upper edges of the buckets, in seconds; a wait past the last one counts in the last.
_EDGES: Final[tuple[float, ...]] = tuple(0.001 * 1.05**step for step in range(330))


class LagSummary(BaseModel):
    """Resolved calls since the service started, and how long they waited."""

    calls: int = Field(default=0, description="Calls resolved since start (stored or refused).")
    p50_s: float = Field(
        default=0.0, description="Median wait in seconds from acknowledgement to store."
    )
    p95_s: float = Field(default=0.0, description="95th percentile of that wait, in seconds.")
    p99_s: float = Field(default=0.0, description="99th percentile of that wait, in seconds.")
    max_s: float = Field(default=0.0, description="The longest wait, in seconds.")


class LagHistogram:
    """Per-call waits, counted by one writer (the resolver) and read by status calls."""

    def __init__(self) -> None:
        self._counts = [0] * len(_EDGES)
        self._calls = 0
        self._max = 0.0
        self._lock = threading.Lock()

    def add(self, seconds: float, calls: int = 1) -> None:
        """Count `calls` calls that each waited `seconds` (a log record's calls share one)."""
        if calls <= 0:
            return
        seconds = max(seconds, 0.0)
        bucket = min(bisect_left(_EDGES, seconds), len(_EDGES) - 1)
        with self._lock:
            self._counts[bucket] += calls
            self._calls += calls
            self._max = max(self._max, seconds)

    def quantile(self, q: float) -> float:
        """The wait below which a share `q` of the calls fall (0 with no calls): the upper
        edge of its bucket, never more than the longest wait seen (which the last bucket,
        open-ended, gives)."""
        with self._lock:
            if not self._calls:
                return 0.0
            rank = max(math.ceil(q * self._calls), 1)
            seen = 0
            for bucket, count in enumerate(self._counts):
                seen += count
                if seen >= rank:
                    overflow = bucket == len(_EDGES) - 1
                    return self._max if overflow else min(_EDGES[bucket], self._max)
            return self._max

    def summary(self) -> LagSummary:
        with self._lock:
            calls, longest = self._calls, self._max
        return LagSummary(
            calls=calls,
            p50_s=round(self.quantile(0.50), 3),
            p95_s=round(self.quantile(0.95), 3),
            p99_s=round(self.quantile(0.99), 3),
            max_s=round(longest, 3),
        )
