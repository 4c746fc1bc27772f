"""Rejected calls: collected per request for the answer, appended to one server-side file.

The file has the format of `idgraph ingest` rejects (file, line, field, reason, raw); `file` is
the request's label (`http:/v1/batch#<request id>`), `line` the call's 1-based position in it,
0 when the request as a whole was unusable. It is appended to, never truncated, so a restart
keeps what earlier runs refused.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import IO

from idgraph.ingest.rejects import Reject, RejectsWriter


class RequestRejects(RejectsWriter):
    """Keeps every reject of one request in memory (the base class keeps only a sample)."""

    def __init__(self) -> None:
        super().__init__(None)
        self.all: list[Reject] = []

    def write(self, reject: Reject) -> None:
        super().write(reject)
        self.all.append(reject)


class RejectsLog:
    """A thread-safe, append-only rejects file, flushed after every request's rejects."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._out: IO[bytes] | None = None

    def append(self, rejects: list[Reject]) -> None:
        """Append rejects as JSON lines; a no-op without a path."""
        if self.path is None or not rejects:
            return
        data = b"".join(reject.to_json() + b"\n" for reject in rejects)
        with self._lock:
            if self._out is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._out = self.path.open("ab")
            self._out.write(data)
            self._out.flush()

    def close(self) -> None:
        with self._lock:
            if self._out is not None:
                self._out.close()
                self._out = None
