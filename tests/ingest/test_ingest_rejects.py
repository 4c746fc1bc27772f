"""The rejects file and the per-file counts."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from idgraph.ingest import FileCounts, Reject, RejectsWriter
from idgraph.ingest.rejects import MAX_RAW_CHARS, SAMPLE_SIZE, render_raw


@pytest.mark.parametrize(
    ("raw", "total", "expected"),
    [
        (b"abc\n", None, "abc"),
        (b"abc\r\n", None, "abc"),
        ("caf\u00e9", None, "caf\u00e9"),
        (b"caf\xc3\xa9 \xff", None, "caf\u00e9 \ufffd"),
        (b"a" * MAX_RAW_CHARS, None, "a" * MAX_RAW_CHARS),
        (b"a" * (MAX_RAW_CHARS + 1), None, "a" * MAX_RAW_CHARS + "…[truncated, 2001 bytes]"),
        ("é" * (MAX_RAW_CHARS + 5), None, "é" * MAX_RAW_CHARS + "…[truncated, 4010 bytes]"),
        (b"head", 5_000_000, "head…[truncated, 5000000 bytes]"),
    ],
)
def test_render_raw(raw: bytes | str, total: int | None, expected: str) -> None:
    assert render_raw(raw, total_bytes=total) == expected


def test_writer_is_lazy_counts_per_file_and_writes_jsonl(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "rejects.jsonl"
    with RejectsWriter(out) as writer:
        assert not out.exists()
        writer.write(Reject("a.csv", 2, "column 'dob' (birth_date): not a date", "dob", "1,x"))
        writer.write(Reject("a.csv", 5, "blank line", None, ""))
        writer.write(Reject("b.jsonl", 1, "not a JSON object", None, "[1]"))
        writer.write(
            Reject("b.jsonl", 2, "traits.email: not an email", "traits.email", "x", "field")
        )
    assert writer.counts == {"a.csv": 2, "b.jsonl": 1}
    assert writer.field_counts == {"b.jsonl": 1}
    assert writer.total == 4
    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert rows[0] == {
        "file": "a.csv",
        "line": 2,
        "kind": "line",
        "field": "dob",
        "reason": "column 'dob' (birth_date): not a date",
        "raw": "1,x",
    }
    assert rows[3] == {
        "file": "b.jsonl",
        "line": 2,
        "kind": "field",
        "field": "traits.email",
        "reason": "traits.email: not an email",
        "raw": "x",
    }
    assert [r["line"] for r in rows] == [2, 5, 1, 2]


def test_writer_without_rejects_creates_no_file(tmp_path: Path) -> None:
    out = tmp_path / "rejects.jsonl"
    with RejectsWriter(out) as writer:
        pass
    assert writer.total == 0
    assert not out.exists()


def test_writer_keeps_a_bounded_sample() -> None:
    with RejectsWriter(None) as writer:
        for line in range(SAMPLE_SIZE + 10):
            writer.write(Reject("a.csv", line, "blank line", None, ""))
    assert writer.total == SAMPLE_SIZE + 10
    assert len(writer.samples) == SAMPLE_SIZE


@pytest.mark.parametrize(
    ("read", "ingested", "rejected", "ok"),
    [(0, 0, 0, True), (5, 3, 2, True), (5, 3, 1, False), (5, 5, 1, False)],
)
def test_counts_reconcile(read: int, ingested: int, rejected: int, ok: bool) -> None:
    # Field rejects are values dropped from ingested lines: they do not enter the line count.
    counts = FileCounts(
        "a.csv", "a", read=read, ingested=ingested, rejected=rejected, field_rejects=7
    )
    assert counts.reconciles is ok
