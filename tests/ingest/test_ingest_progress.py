"""The readers report bytes a block at a time, then the rows they normalize; never per row."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import yaml

from idgraph.ingest import RejectsWriter, SourceMapping, csv_rows, csv_table, lines
from idgraph.ingest.jsonl_events import read_events
from idgraph.normalize.record import NormalizeOptions
from tests.ingest.conftest import CRM_HEADER, CRM_MAPPING

ROW = "{n},u{n}@shop.com,+39 06 1234 {n:04d},Ann,Rossi,04/05/1980,IT,1,gold,yes,2024-01-01\n"
Calls = list[tuple[str, int, int]]


def _check(calls: Calls, size: int, rows: int) -> None:
    done = [d for what, d, _ in calls if what == "bytes"]
    assert done == sorted(done) and done[-1] == size
    assert all(t == size for what, _, t in calls if what == "bytes")
    assert len(done) > 3, "a big file is reported while it is read"
    assert [c for c in calls if c[0] == "rows normalized"] == [
        ("rows normalized", 0, rows),
        ("rows normalized", rows, rows),
    ]


def _read_csv(path: Path, tmp_path: Path, calls: Calls | None) -> tuple[int, int]:
    mapping = SourceMapping.model_validate(yaml.safe_load(CRM_MAPPING))
    with RejectsWriter(tmp_path / "rejects.jsonl") as rejects:
        batch = csv_table.read_table(
            path,
            mapping=mapping,
            options=NormalizeOptions(),
            rejects=rejects,
            progress=None if calls is None else lambda *c: calls.append(c),
        )
    return batch.counts.ingested, batch.counts.rejected


@pytest.mark.parametrize("latin1", [False, True], ids=["fast path", "line by line"])
def test_csv_reports_blocks_then_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, latin1: bool
) -> None:
    monkeypatch.setattr(csv_rows, "READ_BLOCK", 512)
    monkeypatch.setattr(lines, "_CHUNK", 512)
    body = "".join(ROW.format(n=n) for n in range(1, 41))
    data = (CRM_HEADER + "\n" + body).encode()
    if latin1:  # not UTF-8: the line-by-line reader, one reject
        data += b"41,caf\xe9@shop.com,,Ann,Rossi,,IT,1,gold,yes,2024-01-01\n"
    path = tmp_path / "crm.csv"
    path.write_bytes(data)
    calls: Calls = []
    counts = _read_csv(path, tmp_path, calls)
    assert counts == (40, int(latin1))
    assert counts == _read_csv(path, tmp_path, None)
    _check(calls, len(data), 40)


def test_jsonl_reports_blocks_then_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lines, "_CHUNK", 512)
    calls_text = [
        orjson.dumps(
            {
                "type": "identify",
                "messageId": f"m{n}",
                "userId": f"u{n}",
                "traits": {"email": f"u{n}@shop.com"},
                "timestamp": "2025-01-14T10:19:27.597Z",
            }
        )
        for n in range(30)
    ]
    path = tmp_path / "web.jsonl"
    path.write_bytes(b"\n".join(calls_text) + b"\n")
    calls: Calls = []
    with RejectsWriter(tmp_path / "rejects.jsonl") as rejects:
        batch = read_events(
            path,
            source="web",
            options=NormalizeOptions(),
            rejects=rejects,
            progress=lambda *c: calls.append(c),
        )
    assert batch.counts.ingested == 30
    _check(calls, path.stat().st_size, 30)
