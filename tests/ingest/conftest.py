"""Helpers for ingest tests: write real files in tmp_path, read them, load the rejects back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from idgraph.frames import FIELDS
from idgraph.ingest import FileCounts, RejectsWriter, SourceBatch, read_inputs
from idgraph.normalize.fold import fold
from idgraph.normalize.record import NormalizeOptions

CRM_MAPPING = """\
source: crm
id: customer_number
columns:
  email: email_address
  phone: phone
  first_name: first_name
  last_name: last_name
  birth_date: dob
  country: country
  customer_id: customer_number
  updated_at: last_modified
traits:
  lifetime_value: {column: ltv, type: number}
  loyalty_tier: {column: tier}
  vip: {column: vip, type: boolean}
default_region: IT
"""

CRM_HEADER = (
    "customer_number,email_address,phone,first_name,last_name,dob,country,ltv,tier,vip,"
    "last_modified"
)


@dataclass(frozen=True)
class RecordView:
    """One folded record, as the assertions read it."""

    key: str
    kind: str
    source: str
    source_id: str
    updated_ts: int
    fields: dict[str, str]
    identifiers: set[tuple[str, str]]
    traits: dict[str, Any]


@dataclass(frozen=True)
class EventView:
    id: str
    name: str
    ts: int
    source: str
    record_key: str
    properties: dict[str, Any]


@dataclass(frozen=True)
class LinkView:
    a: str
    b: str
    rule: str


@dataclass
class BatchView:
    """A batch as records, events and links: its frames folded as a run folds them."""

    batch: SourceBatch

    @property
    def counts(self) -> FileCounts:
        return self.batch.counts

    @property
    def source(self) -> str:
        return self.batch.source

    @property
    def records(self) -> dict[str, RecordView]:
        folded = fold([self.batch])
        ids: dict[str, set[tuple[str, str]]] = {}
        for record, kind, value in folded.identifiers.iter_rows():
            ids.setdefault(record, set()).add((kind, value))
        return {
            row["key"]: RecordView(
                row["key"],
                row["kind"],
                row["source"],
                row["source_id"],
                row["updated_ts"],
                {name: row[name] for name in FIELDS if row[name] is not None},
                ids.get(row["key"], set()),
                orjson.loads(row["traits"]),
            )
            for row in folded.records.iter_rows(named=True)
        }

    @property
    def events(self) -> list[EventView]:
        folded = fold([self.batch])
        return [
            EventView(
                row["id"],
                row["name"],
                row["ts"],
                row["source"],
                row["record_key"],
                orjson.loads(row["properties"]),
            )
            for row in folded.events.iter_rows(named=True)
        ]

    @property
    def links(self) -> list[LinkView]:
        return [LinkView(a, b, rule) for a, b, rule in fold([self.batch]).links.iter_rows()]


@dataclass
class Run:
    """The outcome of one read: the batches and the rejects file's lines."""

    batches: list[SourceBatch]
    rejects: list[dict[str, Any]]
    rejects_path: Path

    @property
    def batch(self) -> BatchView:
        assert len(self.batches) == 1
        return BatchView(self.batches[0])

    def reject_at(self, line: int) -> dict[str, Any]:
        found = [r for r in self.rejects if r["line"] == line]
        assert len(found) == 1, self.rejects
        return found[0]

    def field_rejects(self) -> list[tuple[int, str, str]]:
        """(line, field, raw) of every `field` reject, in file order."""
        return [(r["line"], r["field"], r["raw"]) for r in self.rejects if r["kind"] == "field"]


Reader = Callable[..., Run]


@pytest.fixture
def read(tmp_path: Path) -> Reader:
    """Read the given files (or names in tmp_path) and check every batch reconciles."""

    def _read(*paths: Path, max_line_bytes: int | None = None, **kwargs: Any) -> Run:
        rejects_path = tmp_path / "out" / "rejects.jsonl"
        extra: dict[str, Any] = dict(kwargs)
        if max_line_bytes is not None:
            extra["max_line_bytes"] = max_line_bytes
        extra.setdefault("options", NormalizeOptions())
        with RejectsWriter(rejects_path) as writer:
            batches = read_inputs(list(paths), rejects=writer, **extra)
        lines = rejects_path.read_bytes().splitlines() if rejects_path.exists() else []
        rejects = [orjson.loads(line) for line in lines]
        for batch in batches:
            assert batch.counts.reconciles, batch.counts
            assert batch.counts.read == batch.counts.ingested + batch.counts.rejected
            mine = [r["kind"] for r in rejects if r["file"] == batch.counts.path]
            assert batch.counts.rejected == mine.count("line")
            assert batch.counts.field_rejects == mine.count("field")
        return Run(batches, rejects, rejects_path)

    return _read


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str | bytes], Path]:
    """Write a file in tmp_path and return its path."""

    def _write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        return path

    return _write


@pytest.fixture
def crm(write: Callable[[str, str | bytes], Path]) -> Callable[[str], Path]:
    """Write crm.csv (header + the given rows) and its sidecar mapping."""

    def _crm(rows: str) -> Path:
        write("crm.mapping.yaml", CRM_MAPPING)
        return write("crm.csv", f"{CRM_HEADER}\n{rows}")

    return _crm
