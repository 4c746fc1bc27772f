"""The durable call log on real files: read back (a lane tail), group commit, torn tails,
trimming, one writer per lane."""

from __future__ import annotations

import os
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from idgraph.serve.log import CallLog, LogClosed, LogError, trim_lane
from idgraph.serve.tail import LaneTail


class CountingFsync:
    """Wraps `os.fsync`, counting calls; `gate` can hold the first one to let appends pile up."""

    def __init__(self) -> None:
        self.calls = 0
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, fd: int) -> None:
        self.gate.wait(10)
        self.calls += 1
        os.fsync(fd)


def read(folder: Path, *, after: int = 0) -> list[tuple[int, bytes]]:
    return [(r.offset, r.body) for r in LaneTail(folder, after).read()]


def offsets(folder: Path, *, after: int = 0) -> list[int]:
    return [offset for offset, _ in read(folder, after=after)]


def test_append_and_read_back(tmp_path: Path) -> None:
    with CallLog(tmp_path) as log:
        numbers = [log.append(f"call {i}".encode()).result(5) for i in range(5)]
        assert numbers == [1, 2, 3, 4, 5]
        assert [b for _, b in read(tmp_path)] == [f"call {i}".encode() for i in range(5)]
        assert offsets(tmp_path, after=3) == [4, 5]
        assert log.last_offset == 5
    with CallLog(tmp_path) as log:  # reopened: same records, numbering continues
        assert offsets(tmp_path) == [1, 2, 3, 4, 5]
        assert log.append(b"six").result(5) == 6


def test_concurrent_appends_share_fsyncs(tmp_path: Path) -> None:
    fsync = CountingFsync()
    with CallLog(tmp_path, fsync=fsync) as log:
        before = fsync.calls
        fsync.gate.clear()  # the first write waits in fsync, so the rest queue behind it
        futures = [log.append(f"c{i}".encode()) for i in range(1)]
        with ThreadPoolExecutor(8) as pool:
            futures += list(pool.map(lambda i: log.append(f"c{i}".encode()), range(1, 40)))
        fsync.gate.set()
        offsets = sorted(f.result(5) for f in futures)
        assert offsets == list(range(1, 41))
        assert fsync.calls - before <= 3  # 40 durable appends, at most a few fsyncs
        assert fsync.calls - before == log.fsyncs
    with CallLog(tmp_path) as log:
        assert len(read(tmp_path)) == 40


def test_group_wait_folds_appends_arriving_within_the_window(tmp_path: Path) -> None:
    fsync = CountingFsync()
    with CallLog(tmp_path, fsync=fsync, group_wait_ms=200) as log:
        before = fsync.calls
        with ThreadPoolExecutor(4) as pool:
            futures = list(pool.map(lambda i: log.append(b"x"), range(12)))
        assert sorted(f.result(5) for f in futures) == list(range(1, 13))
        assert fsync.calls - before == 1


def _segment(tmp_path: Path) -> Path:
    (path,) = sorted(tmp_path.glob("*.log"))
    return path


def test_torn_tail_is_truncated_and_nothing_before_is_lost(tmp_path: Path) -> None:
    with CallLog(tmp_path) as log:
        for i in range(3):
            log.append(f"call {i}".encode()).result(5)
    path = _segment(tmp_path)
    good = path.stat().st_size
    with path.open("ab") as handle:  # a crash mid-write: header and half a body
        handle.write((100).to_bytes(4, "little") + (0).to_bytes(4, "little") + b"half")
    with CallLog(tmp_path) as log:
        assert path.stat().st_size == good
        assert [b for _, b in read(tmp_path)] == [b"call 0", b"call 1", b"call 2"]
        assert log.append(b"next").result(5) == 4
    with CallLog(tmp_path) as log:
        assert offsets(tmp_path) == [1, 2, 3, 4]


def test_corrupt_crc_at_tail_is_dropped(tmp_path: Path) -> None:
    with CallLog(tmp_path) as log:
        for body in (b"first", b"second"):
            log.append(body).result(5)
    path = _segment(tmp_path)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # flip a bit in the last record's body
    path.write_bytes(bytes(data))
    with CallLog(tmp_path) as log:
        assert [b for _, b in read(tmp_path)] == [b"first"]
        assert log.last_offset == 1


def test_corruption_before_the_tail_refuses_to_open(tmp_path: Path) -> None:
    with CallLog(tmp_path, segment_bytes=1) as log:  # one record per segment
        for body in (b"a", b"b", b"c"):
            log.append(body).result(5)
    first = sorted(tmp_path.glob("*.log"))[0]
    data = bytearray(first.read_bytes())
    data[-1] ^= 0xFF
    first.write_bytes(bytes(data))
    with pytest.raises(LogError, match="damaged"):
        CallLog(tmp_path)


def test_record_format_is_length_crc_body(tmp_path: Path) -> None:
    with CallLog(tmp_path) as log:
        log.append(b'{"x":1}').result(5)
    data = _segment(tmp_path).read_bytes()
    assert int.from_bytes(data[:4], "little") == 7
    assert int.from_bytes(data[4:8], "little") == zlib.crc32(b'{"x":1}')
    assert data[8:] == b'{"x":1}'


def test_trim_deletes_segments_fully_behind_the_offset(tmp_path: Path) -> None:
    with CallLog(tmp_path, segment_bytes=20) as log:  # two 8+6 byte records per segment
        for i in range(7):
            log.append(f"call{i:02d}".encode()).result(5)
        names = sorted(p.name for p in tmp_path.glob("*.log"))
        assert len(names) == 4  # offsets 1-2, 3-4, 5-6, 7
        assert trim_lane(tmp_path, 3) == 1  # segment 1-2 is behind 3; 3-4 still holds 4
        assert offsets(tmp_path, after=2) == [3, 4, 5, 6, 7]
        assert trim_lane(tmp_path, 7) == 2  # the tail segment (7) is kept even when applied
        assert offsets(tmp_path, after=6) == [7]
    with CallLog(tmp_path) as log:
        assert offsets(tmp_path, after=6) == [7]
        assert log.append(b"eight").result(5) == 8


def test_a_missing_segment_in_the_middle_is_an_error(tmp_path: Path) -> None:
    with CallLog(tmp_path, segment_bytes=1) as log:
        for body in (b"a", b"b", b"c"):
            log.append(body).result(5)
    sorted(tmp_path.glob("*.log"))[1].unlink()
    with pytest.raises(LogError, match="missing"):
        CallLog(tmp_path)


def test_append_after_close_fails(tmp_path: Path) -> None:
    log = CallLog(tmp_path)
    log.close()
    with pytest.raises(LogClosed):
        log.append(b"late")


def test_an_empty_log_continues_after_start_after(tmp_path: Path) -> None:
    with CallLog(tmp_path, start_after=41) as log:
        assert log.append(b"x").result(5) == 42
    with pytest.raises(LogError, match="not this store's log"):
        CallLog(tmp_path, start_after=50)


def test_a_lane_has_one_writer(tmp_path: Path) -> None:
    with CallLog(tmp_path), pytest.raises(LogError, match="another process"):
        CallLog(tmp_path)
    with CallLog(tmp_path) as log:  # released at close
        assert log.append(b"x").result(5) == 1


def test_a_tail_follows_a_lane_as_it_grows_and_rolls_over(tmp_path: Path) -> None:
    tail = LaneTail(tmp_path, 0)
    assert tail.read() == []  # no segment yet
    with CallLog(tmp_path, segment_bytes=30) as log:  # two records per segment
        log.append(b"one").result(5)
        assert [(r.offset, r.body) for r in tail.read()] == [(1, b"one")]
        assert tail.read() == []
        for body in (b"two", b"three", b"four", b"five"):
            log.append(body).result(5)
        assert [(r.offset, r.body) for r in tail.read()] == [
            (2, b"two"), (3, b"three"), (4, b"four"), (5, b"five")
        ]  # fmt: skip
        trim_lane(tmp_path, 4)
        log.append(b"six").result(5)
        assert [r.offset for r in tail.read()] == [6]
    assert LaneTail(tmp_path, 5).read()[0].body == b"six"


def test_a_tail_waits_at_a_record_being_written(tmp_path: Path) -> None:
    with CallLog(tmp_path) as log:
        log.append(b"whole").result(5)
    path = _segment(tmp_path)
    body = b"written in two goes"
    frame = len(body).to_bytes(4, "little") + zlib.crc32(body).to_bytes(4, "little") + body
    tail = LaneTail(tmp_path, 0)
    with path.open("ab") as handle:
        handle.write(frame[:10])
        handle.flush()
        assert [r.body for r in tail.read()] == [b"whole"]
        assert tail.read() == []  # half a record: not handed out, not skipped
        handle.write(frame[10:])
        handle.flush()
        assert [(r.offset, r.body) for r in tail.read()] == [(2, body)]


def test_a_torn_tail_rewritten_by_the_next_writer_is_read_as_rewritten(tmp_path: Path) -> None:
    with CallLog(tmp_path) as log:
        log.append(b"kept").result(5)
    path = _segment(tmp_path)
    with path.open("ab") as handle:  # a writer killed mid-record
        handle.write((50).to_bytes(4, "little") + (7).to_bytes(4, "little") + b"torn")
    tail = LaneTail(tmp_path, 0)
    assert [r.body for r in tail.read()] == [b"kept"]
    with CallLog(tmp_path) as log:  # the next writer truncates the torn record, appends
        log.append(b"after").result(5)
    assert [(r.offset, r.body) for r in tail.read()] == [(2, b"after")]
