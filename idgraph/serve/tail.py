"""Follow a call-log lane that another thread or process appends to.

Each HTTP worker appends to a lane of its own (`idgraph.serve.log.CallLog`); the resolver
follows every lane with a `LaneTail`. A tail reads from where it stopped and hands out the
complete, checksummed records that follow. It never moves past a record it cannot read in
full: that is an append still being written or, after a crash, a torn tail which the lane's
next writer truncates and writes over from the same byte. A segment is left for the next one
only once the next one exists, which the writer creates after syncing this one's last record.
"""

from __future__ import annotations

import os
from pathlib import Path

from idgraph.serve.log import (
    HEADER,
    MAX_RECORD_BYTES,
    LogRecord,
    frames,
    segment_firsts,
    segment_path,
)

__all__ = ["LaneTail"]

#: Bytes read from a segment at a time (a longer record is read whole).
_CHUNK = 4 * 1024 * 1024


class LaneTail:
    """Reads the records of one lane with offsets after `after`, as they become whole.

    Args:
        folder: the lane's folder.
        after: the last offset already applied; reading starts after it.
    """

    def __init__(self, folder: Path, after: int) -> None:
        self.folder = folder
        #: Offset of the next record this tail will hand out.
        self.next = after + 1
        self._path: Path | None = None
        self._position = 0  # byte in `_path` where the record `_at` starts
        self._at = 0

    def read(self, limit_bytes: int = _CHUNK) -> list[LogRecord]:
        """The whole records written since the last call (about `limit_bytes` at most)."""
        out: list[LogRecord] = []
        size = 0
        while size < limit_bytes:
            if self._path is None and not self._find_segment():
                break
            taken = self._read_segment(out, limit_bytes - size)
            if taken < 0:  # the segment was trimmed away: look again
                self._path = None
                continue
            size += taken
            if taken:
                continue
            following = segment_path(self.folder, self._at)
            if self._path != following and following.exists():
                # The writer rolled over after syncing this segment: finish it, then move on.
                size += max(self._read_segment(out, limit_bytes), 0)
                self._path = None
                continue
            break
        return out

    def _find_segment(self) -> bool:
        """Open the segment that holds offset `next` (the newest starting at or before it)."""
        firsts = [f for f in segment_firsts(self.folder) if f <= self.next]
        if not firsts:
            return False
        self._path = segment_path(self.folder, firsts[-1])
        self._position = 0
        self._at = firsts[-1]
        return True

    def _read_segment(self, out: list[LogRecord], limit: int) -> int:
        """Hand out whole records from the current position; bytes taken, -1 when gone."""
        assert self._path is not None
        try:
            fd = os.open(self._path, os.O_RDONLY)
        except FileNotFoundError:
            return -1
        try:
            data = os.pread(fd, max(limit, HEADER.size), self._position)
            if len(data) >= HEADER.size:
                length = HEADER.unpack_from(data, 0)[0]
                if HEADER.size + length > len(data) and length <= MAX_RECORD_BYTES:
                    data = os.pread(fd, HEADER.size + length, self._position)
        finally:
            os.close(fd)
        pos = 0
        for body in frames(data):
            if self._at >= self.next:
                out.append(LogRecord(self._at, body))
                self.next = self._at + 1
            self._at += 1
            pos += HEADER.size + len(body)
        self._position += pos
        return pos
