"""Problems every reader shares: unusable files, oversized, non-UTF-8 and blank lines."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from idgraph.errors import InputError
from idgraph.ingest import RejectsWriter, iter_inputs
from idgraph.normalize.record import NormalizeOptions

Write = Callable[[str, str | bytes], Path]
Reader = Callable[..., Any]

KINDS = ["csv", "jsonl"]


def good(kind: str, n: int) -> bytes:
    if kind == "csv":
        return f"{n},p{n}@shop.it".encode()
    return (
        b'{"type":"identify","timestamp":"2024-05-04T10:00:00Z","userId":"%d",'
        b'"traits":{"email":"p%d@shop.it"}}' % (n, n)
    )


def make(write: Write, kind: str, body: bytes) -> tuple[Path, int]:
    """Write an input of `kind` whose data lines are `body`; return it and its first data line."""
    if kind == "csv":
        write("in.mapping.yaml", "id: id\ncolumns: {email: email}\n")
        return write("in.csv", b"id,email\n" + body), 2
    return write("in.jsonl", body), 1


def keys(kind: str, numbers: list[int]) -> set[str]:
    return {f"in:{n}" if kind == "csv" else f"in:user:{n}" for n in numbers}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("content", "note", "refused"),
    [
        (b"", "empty file (0 bytes)", False),
        (b"  \n\n\t \r\n", "empty file (only whitespace)", False),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file (a PNG image)", True),
        (b"PK\x03\x04" + b"\x00" * 20, "binary file (a zip archive", True),
        (b"\x1f\x8b\x08\x00" + bytes(range(40)), "binary file (gzip data)", True),
        (bytes(range(32)) * 8, "binary file (81% of its first 256 bytes are control", True),
    ],
)
def test_empty_or_binary_file_is_read_as_no_lines_and_says_why(
    write: Write, read: Reader, kind: str, content: bytes, note: str, refused: bool
) -> None:
    if kind == "csv":
        write("in.mapping.yaml", "id: id\n")
    path = write(f"in.{kind}", content)
    (batch,) = read(path).batches
    counts = batch.counts
    assert (counts.read, counts.ingested, counts.rejected) == (0, 0, 0)
    assert counts.note is not None and counts.note.startswith(note)
    assert counts.refused is refused
    assert batch.sightings.height == 0


@pytest.mark.parametrize("kind", KINDS)
def test_binary_line_in_a_text_file_is_one_reject(write: Write, read: Reader, kind: str) -> None:
    lines = [good(kind, n) for n in range(1, 20)]
    lines.insert(4, b"\x00\x01\x02 junk \x00")
    path, first = make(write, kind, b"\n".join(lines) + b"\n")
    run = read(path)
    counts = run.batch.counts
    assert (counts.read, counts.ingested, counts.rejected) == (20, 19, 1)
    reject = run.reject_at(first + 4)
    assert reject["reason"] == "binary data: NUL byte at byte 1"
    assert reject["raw"] == "\x00\x01\x02 junk \x00"
    assert set(run.batch.records) == keys(kind, list(range(1, 20)))


def test_missing_file_directory_and_unknown_suffix(tmp_path: Path, read: Reader) -> None:
    with pytest.raises(InputError, match="file not found") as info:
        read(tmp_path / "nope.jsonl")
    assert info.value.path == str(tmp_path / "nope.jsonl")
    folder = tmp_path / "dir.jsonl"
    folder.mkdir()
    with pytest.raises(InputError, match="not a regular file"):
        read(folder)
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    with pytest.raises(InputError, match=r"'\.txt'; accepted: \.jsonl, \.ndjson, \.json, \.csv"):
        read(text)


def test_whole_file_problems_stop_the_run_before_any_file_is_read(
    write: Write, tmp_path: Path
) -> None:
    first = write("a.jsonl", "[1]\n")
    second = write("b.csv", "id\n1\n")  # no mapping
    rejects_path = tmp_path / "rejects.jsonl"
    with RejectsWriter(rejects_path) as rejects, pytest.raises(InputError) as info:
        iter_inputs([first, second], options=NormalizeOptions(), rejects=rejects)
    assert info.value.path == str(second)
    assert not rejects_path.exists()


@pytest.mark.parametrize("kind", KINDS)
def test_ten_megabyte_line_is_rejected_and_the_rest_ingested(
    write: Write, read: Reader, kind: str
) -> None:
    huge = b"x" * (10 * 1024 * 1024)
    path, first = make(write, kind, b"\n".join([good(kind, 1), huge, good(kind, 2)]) + b"\n")
    run = read(path)
    counts = run.batch.counts
    assert (counts.read, counts.ingested, counts.rejected) == (3, 2, 1)
    reject = run.reject_at(first + 1)
    assert reject["reason"] == f"line too long: {len(huge)} bytes, limit {1024 * 1024}"
    assert reject["field"] is None
    assert reject["raw"] == "x" * 2000 + f"…[truncated, {len(huge)} bytes]"
    assert set(run.batch.records) == keys(kind, [1, 2])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("ending", [b"\n", b"\r\n"])
def test_line_limit_is_an_option(write: Write, read: Reader, kind: str, ending: bytes) -> None:
    lines = [good(kind, 1), good(kind, 22222222), good(kind, 3)]
    limit = len(good(kind, 1))
    path, first = make(write, kind, ending.join(lines) + ending)
    run = read(path, max_line_bytes=limit)
    assert run.batch.counts.rejected == 1
    long = len(good(kind, 22222222))
    assert run.reject_at(first + 1)["reason"] == f"line too long: {long} bytes, limit {limit}"
    assert set(run.batch.records) == keys(kind, [1, 3])


@pytest.mark.parametrize("kind", KINDS)
def test_invalid_utf8_line_is_rejected(write: Write, read: Reader, kind: str) -> None:
    bad = good(kind, 2).replace(b"@", b"\xff@")
    path, first = make(write, kind, b"\n".join([good(kind, 1), bad, good(kind, 3)]) + b"\n")
    run = read(path)
    reject = run.reject_at(first + 1)
    assert reject["reason"].startswith("invalid UTF-8 at byte")
    assert "\ufffd@shop.it" in reject["raw"]
    assert set(run.batch.records) == keys(kind, [1, 3])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("blank", [b"", b"   ", b"\t\r"])
def test_blank_line_in_the_middle_is_rejected(
    write: Write, read: Reader, kind: str, blank: bytes
) -> None:
    path, first = make(write, kind, b"\n".join([good(kind, 1), blank, good(kind, 3)]) + b"\n")
    run = read(path)
    counts = run.batch.counts
    assert (counts.read, counts.ingested, counts.rejected) == (3, 2, 1)
    reject = run.reject_at(first + 1)
    assert (reject["reason"], reject["field"]) == ("blank line", None)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("tail", [b"", b"\n", b"\n\n", b"\r\n  \n"])
def test_trailing_newlines_are_not_lines(
    write: Write, read: Reader, kind: str, tail: bytes
) -> None:
    path, _ = make(write, kind, good(kind, 1) + b"\n" + good(kind, 2) + tail)
    run = read(path)
    assert (run.batch.counts.read, run.batch.counts.ingested) == (2, 2)
    assert run.rejects == []


@pytest.mark.parametrize("kind", KINDS)
def test_byte_order_mark_is_ignored(write: Write, read: Reader, kind: str) -> None:
    path, _ = make(write, kind, b"")
    content = path.read_bytes() + good(kind, 1) + b"\n"
    path.write_bytes(b"\xef\xbb\xbf" + content)
    assert set(read(path).batch.records) == keys(kind, [1])
