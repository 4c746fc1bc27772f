"""Rejected calls: collected per request for the answer, appended to one server-side file.

The file has the format of `idgraph ingest` rejects (file, line, field, reason, raw); `file` is
the request's label (`http:/v1/batch#<request id>`), `line` the call's 1-based position in it,
0 when the request as a whole was unusable. It is appended to, never truncated, so a restart
keeps what earlier runs refused.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

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
    """An append-only rejects file that threads and worker processes share: each request's
    rejects go in one `write` to a file opened with `O_APPEND`, so they never interleave."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fd: int | None = None

    def append(self, rejects: list[Reject]) -> None:
        """Append rejects as JSON lines; a no-op without a path."""
        if self.path is None or not rejects:
            return
        data = b"".join(reject.to_json() + b"\n" for reject in rejects)
        with self._lock:
            if self._fd is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
