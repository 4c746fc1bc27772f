"""The durable call log: calls are appended here and fsynced before the service answers 200.

Records are numbered from 1 (the *offset*) and written into segment files named after the
offset of their first record (`00000000000000000001.log`). Each record is a 4-byte length and a
4-byte CRC32 of the body, both little-endian, then the body (orjson bytes of the call). Appends
go through one writer thread that group-commits: it writes everything queued, runs one fsync and
only then resolves every waiting append, so the cost of an fsync is shared by all calls that
arrived while the previous one ran (or within `group_wait_ms`).

On open, every segment is scanned; a torn or corrupt record at the tail of the last segment (a
crash mid-write) is truncated away, and nothing before it is lost. A bad record anywhere else
means the files were damaged otherwise, and opening fails rather than skip acknowledged calls.
"""

from __future__ import annotations

import logging
import os
import queue
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from idgraph.errors import IdGraphError

logger = logging.getLogger(__name__)

_HEADER = struct.Struct("<II")
_SUFFIX = ".log"
#: Largest body one record may carry (a batch request is 500 KB by default).
MAX_RECORD_BYTES = 64 * 1024 * 1024


class LogError(IdGraphError):
    """The call log is damaged before its tail, or cannot be written."""


class LogClosed(LogError):
    """The log is closed; nothing more can be appended."""


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One record read back: its offset and its body."""

    offset: int
    body: bytes


@dataclass(slots=True)
class _Segment:
    first: int
    path: Path
    records: int
    size: int


@dataclass(slots=True)
class _Append:
    body: bytes
    future: Future[int]


class CallLog:
    """An append-only, segmented, checksummed log with group commit.

    Args:
        folder: directory holding the segment files (created if missing).
        segment_bytes: a segment past this size is closed and a new one started.
        group_wait_ms: after the first queued append, how long the writer waits for more
            before it writes and fsyncs (0: it takes what is queued at once).
        fsync: the function that makes a file descriptor durable (tests count calls).
        start_after: offset a log with no records continues after (the offset the store has
            applied, so a log folder removed by hand does not number calls from 1 again).

    Raises:
        LogError: the files are damaged before the tail, or end before `start_after`.

    Examples:
        >>> import tempfile
        >>> with CallLog(Path(tempfile.mkdtemp())) as log:
        ...     log.append(b'{"a":1}').result()
        ...     [r.body for r in log.read(after=0)]
        1
        [b'{"a":1}']
    """

    def __init__(
        self,
        folder: Path,
        *,
        segment_bytes: int = 64 * 1024 * 1024,
        group_wait_ms: float = 0.0,
        fsync: Callable[[int], None] = os.fsync,
        start_after: int = 0,
    ) -> None:
        self.folder = folder
        self._segment_bytes = segment_bytes
        self._wait = group_wait_ms / 1000
        self._fsync = fsync
        folder.mkdir(parents=True, exist_ok=True)
        self._segments = self._recover()
        tail = self._segments[-1] if self._segments else None
        self._next = tail.first + tail.records if tail else start_after + 1
        if self._next <= start_after:
            raise LogError(
                f"call log {folder} ends at offset {self._next - 1}, but the store has applied "
                f"up to {start_after}: it is not this store's log"
            )
        self._durable = self._next - 1
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Append | None] = queue.SimpleQueue()
        self._file = self._open_tail()
        self._closed = False
        self.fsyncs = 0
        self._thread = threading.Thread(target=self._run, name="idgraph-log", daemon=True)
        self._thread.start()

    def __enter__(self) -> CallLog:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def last_offset(self) -> int:
        """Offset of the last durable record (0: the log has never held one)."""
        return self._durable

    @property
    def first_offset(self) -> int:
        """Offset of the first record still on disk (`last_offset + 1` when none is)."""
        with self._lock:
            return self._segments[0].first if self._segments else self._next

    def append(self, body: bytes) -> Future[int]:
        """Queue `body`; the future gives its offset once it is written and fsynced.

        Raises:
            LogClosed: the log is closed.
            LogError: the body is larger than `MAX_RECORD_BYTES`.
        """
        if len(body) > MAX_RECORD_BYTES:
            raise LogError(f"a record of {len(body)} bytes is over {MAX_RECORD_BYTES}")
        if self._closed:
            raise LogClosed("the call log is closed")
        item = _Append(body, Future())
        self._queue.put(item)
        return item.future

    def read(self, *, after: int, limit: int | None = None) -> list[LogRecord]:
        """Durable records with offset > `after`, in order, at most `limit` of them."""
        out: list[LogRecord] = []
        for record in self._iter(after):
            if record.offset > self._durable or (limit is not None and len(out) >= limit):
                break
            out.append(record)
        return out

    def trim(self, upto: int) -> int:
        """Delete the segments whose records all have offset <= `upto`; returns how many.

        The segment being written to is never deleted.
        """
        removed = 0
        with self._lock:
            while len(self._segments) > 1 and self._segments[1].first <= upto + 1:
                self._segments.pop(0).path.unlink(missing_ok=True)
                removed += 1
        if removed:
            self._sync_dir()
        return removed

    def close(self) -> None:
        """Write and fsync what is queued, then stop the writer and close the file."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()
        self._file.close()

    # -- writer thread ------------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            group = [first]
            deadline = time.monotonic() + self._wait
            while True:
                remaining = deadline - time.monotonic()
                try:
                    item = (
                        self._queue.get(timeout=remaining)
                        if remaining > 0
                        else self._queue.get_nowait()
                    )
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                group.append(item)
            self._write(group)
        while True:  # appends that raced with close get an error, not a silent drop
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item.future.set_exception(LogClosed("the call log is closed"))

    def _write(self, group: list[_Append]) -> None:
        try:
            offsets: list[int] = []
            for item in group:
                self._roll_if_full()
                frame = _HEADER.pack(len(item.body), zlib.crc32(item.body)) + item.body
                self._file.write(frame)
                tail = self._segments[-1]
                tail.records += 1
                tail.size += len(frame)
                offsets.append(self._next)
                self._next += 1
            self._file.flush()
            self._fsync(self._file.fileno())
            self.fsyncs += 1
        except Exception as exc:  # the caller gets the error; nothing is acknowledged
            logger.error("call log write failed: %s", type(exc).__name__)
            for item in group:
                item.future.set_exception(LogError(f"the call log could not be written: {exc}"))
            return
        self._durable = offsets[-1]
        for item, offset in zip(group, offsets, strict=True):
            item.future.set_result(offset)

    def _roll_if_full(self) -> None:
        tail = self._segments[-1]
        if tail.size < self._segment_bytes or tail.records == 0:
            return
        self._file.flush()
        self._fsync(self._file.fileno())
        self._file.close()
        with self._lock:
            self._segments.append(_Segment(self._next, self._path(self._next), 0, 0))
        self._file = self._segments[-1].path.open("ab")
        self._sync_dir()

    # -- files --------------------------------------------------------------------------

    def _path(self, first: int) -> Path:
        return self.folder / f"{first:020d}{_SUFFIX}"

    def _open_tail(self) -> BinaryIO:
        if not self._segments:
            self._segments.append(_Segment(self._next, self._path(self._next), 0, 0))
            handle = self._segments[-1].path.open("ab")
            self._sync_dir()
            return handle
        return self._segments[-1].path.open("ab")

    def _sync_dir(self) -> None:
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            self._fsync(fd)
        finally:
            os.close(fd)

    def _recover(self) -> list[_Segment]:
        paths = sorted(p for p in self.folder.glob(f"*{_SUFFIX}") if p.stem.isdigit())
        segments: list[_Segment] = []
        for index, path in enumerate(paths):
            first = int(path.stem)
            if segments and first != segments[-1].first + segments[-1].records:
                raise LogError(
                    f"call log {path} starts at offset {first}, expected "
                    f"{segments[-1].first + segments[-1].records}: a segment is missing"
                )
            records, good, total = _scan(path)
            if good < total:
                if index != len(paths) - 1:
                    raise LogError(
                        f"call log {path} is damaged at byte {good} (not its tail): "
                        "restore it or move the log folder aside"
                    )
                logger.warning(
                    "call log %s: torn or corrupt tail truncated (%d bytes)", path, total - good
                )
                with path.open("r+b") as handle:
                    handle.truncate(good)
                    handle.flush()
                    self._fsync(handle.fileno())
            segments.append(_Segment(first, path, records, good))
        return segments

    def _iter(self, after: int) -> Iterator[LogRecord]:
        with self._lock:
            segments = list(self._segments)
        for position, segment in enumerate(segments):
            following = segments[position + 1].first if position + 1 < len(segments) else None
            if following is not None and following <= after + 1:
                continue
            offset = segment.first
            try:
                handle = segment.path.open("rb")
            except FileNotFoundError:  # trimmed meanwhile: all its records were applied
                continue
            with handle:
                for body in _frames(handle.read()):
                    if offset > after:
                        yield LogRecord(offset, body)
                    offset += 1


def _frames(data: bytes) -> Iterator[bytes]:
    """The valid records at the start of `data`; stops at the first torn or corrupt one."""
    pos = 0
    while pos + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, pos)
        end = pos + _HEADER.size + length
        if length > MAX_RECORD_BYTES or end > len(data):
            return
        body = data[pos + _HEADER.size : end]
        if zlib.crc32(body) != crc:
            return
        yield body
        pos = end


def _scan(path: Path) -> tuple[int, int, int]:
    """Records and the byte length of the valid prefix of a segment, and its full size."""
    data = path.read_bytes()
    records, good = 0, 0
    for body in _frames(data):
        records += 1
        good += _HEADER.size + len(body)
    return records, good, len(data)
