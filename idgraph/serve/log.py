"""The durable call log: calls are appended here and fsynced before the service answers 200.

The log is a folder of *lanes* (`lane-00`, `lane-01`, ...): each HTTP worker process appends
to a lane of its own, so appends need no lock shared between processes, and the resolver
follows every lane (`idgraph.serve.tail.LaneTail`). A lane is held by one writer at a time
(an exclusive `flock` on its `writer.lock`).
Within a lane, records are numbered from 1 (the *offset*) and written into segment files named
after the offset of their first record (`00000000000000000001.log`). Each record is a 4-byte
length and a 4-byte CRC32 of the body, both little-endian, then the body (orjson bytes of the
call). Appends go through one writer thread that group-commits: it writes everything queued,
runs one fsync and only then resolves every waiting append, so the cost of an fsync is shared by
all calls that arrived while the previous one ran (or within `group_wait_ms`).

On open, every segment is scanned; a torn or corrupt record at the tail of the last segment (a
crash mid-write) is truncated away, and nothing before it is lost. A bad record anywhere else
means the files were damaged otherwise, and opening fails rather than skip acknowledged calls.
"""

from __future__ import annotations

import fcntl
import itertools
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

HEADER = struct.Struct("<II")
SUFFIX = ".log"
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
        durable: called from the writer thread with the last offset after every fsync (the
            resolver in the same process wakes at once instead of at its next poll).

    Raises:
        LogError: the files are damaged before the tail, end before `start_after`, or
            another process writes this lane.

    Examples:
        >>> import tempfile
        >>> with CallLog(Path(tempfile.mkdtemp())) as log:
        ...     log.append(b'{"a":1}').result()
        1
    """

    def __init__(
        self,
        folder: Path,
        *,
        segment_bytes: int = 64 * 1024 * 1024,
        group_wait_ms: float = 0.0,
        fsync: Callable[[int], None] = os.fsync,
        start_after: int = 0,
        durable: Callable[[int], None] | None = None,
    ) -> None:
        self.folder = folder
        self._segment_bytes = segment_bytes
        self._wait = group_wait_ms / 1000
        self._fsync = fsync
        self._notify = durable
        folder.mkdir(parents=True, exist_ok=True)
        self._holder = _hold(folder)
        try:
            self._segments = self._recover()
        except BaseException:
            self._holder.close()
            raise
        tail = self._segments[-1] if self._segments else None
        self._next = tail.first + tail.records if tail else start_after + 1
        if self._next <= start_after:
            self._holder.close()
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

    def close(self) -> None:
        """Write and fsync what is queued, then stop the writer and close the file."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()
        self._file.close()
        self._holder.close()

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
                frame = HEADER.pack(len(item.body), zlib.crc32(item.body)) + item.body
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
        if self._notify is not None:
            self._notify(offsets[-1])

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
        return segment_path(self.folder, first)

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
        paths = [segment_path(self.folder, first) for first in segment_firsts(self.folder)]
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


def lane_folder(root: Path, lane: int) -> Path:
    """The folder of lane `lane` in the call log at `root`."""
    return root / f"lane-{lane:02d}"


def lane_folders(root: Path) -> dict[str, Path]:
    """Every lane in the call log at `root`, by name."""
    if not root.is_dir():
        return {}
    return {p.name: p for p in sorted(root.glob("lane-*")) if p.is_dir()}


def _hold(folder: Path) -> BinaryIO:
    """Take the lane's writer lock (released when the returned file closes, or the process
    dies)."""
    handle = (folder / "writer.lock").open("ab")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise LogError(f"call log lane {folder} is written by another process") from None
    return handle


def segment_path(folder: Path, first: int) -> Path:
    """The file of the segment whose first record has offset `first`."""
    return folder / f"{first:020d}{SUFFIX}"


def segment_firsts(folder: Path) -> list[int]:
    """The first offsets of a lane's segments, in order."""
    return sorted(int(p.stem) for p in folder.glob(f"*{SUFFIX}") if p.stem.isdigit())


def trim_lane(folder: Path, upto: int) -> int:
    """Delete the segments of a lane whose records all have offset <= `upto`; returns how
    many. The newest segment (the one being written to) is never deleted."""
    firsts = segment_firsts(folder)
    removed = 0
    for first, following in itertools.pairwise(firsts):
        if following > upto + 1:
            break
        segment_path(folder, first).unlink(missing_ok=True)
        removed += 1
    if removed:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return removed


def frames(data: bytes) -> Iterator[bytes]:
    """The valid records at the start of `data`; stops at the first torn or corrupt one (or
    one still being written, for a reader following the lane)."""
    pos = 0
    while pos + HEADER.size <= len(data):
        length, crc = HEADER.unpack_from(data, pos)
        end = pos + HEADER.size + length
        if length > MAX_RECORD_BYTES or end > len(data):
            return
        body = data[pos + HEADER.size : end]
        if zlib.crc32(body) != crc:
            return
        yield body
        pos = end


def _scan(path: Path) -> tuple[int, int, int]:
    """Records and the byte length of the valid prefix of a segment, and its full size."""
    data = path.read_bytes()
    records, good = 0, 0
    for body in frames(data):
        records += 1
        good += HEADER.size + len(body)
    return records, good, len(data)
