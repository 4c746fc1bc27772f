"""What one input file yields, and the bookkeeping every reader shares.

Readers report each data line exactly once, as accepted or rejected, through a `BatchBuilder`;
that single path is what keeps `read == ingested + rejected` true.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from idgraph.ingest.rejects import FileCounts, Reject, RejectsWriter, render_raw
from idgraph.models import Event, Link, Record
from idgraph.normalize.erased import ERASED_REASON


@dataclass(slots=True)
class SourceBatch:
    """Everything one input file contributed.

    `records` maps a record key to the record with all its sightings in this file folded in
    (newer values win); `events` holds each event id once; `links` each explicit link once.
    """

    counts: FileCounts
    records: dict[str, Record] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)

    @property
    def source(self) -> str:
        """The source name the file's records and events carry."""
        return self.counts.source


class BatchBuilder:
    """Collects one file's accepted and rejected lines into a `SourceBatch`."""

    def __init__(self, path: Path, source: str, rejects: RejectsWriter) -> None:
        self.path = str(path)
        self.counts = FileCounts(path=self.path, source=source)
        self.records: dict[str, Record] = {}
        self._events: dict[str, Event] = {}
        self._links: dict[tuple[str, str, str], Link] = {}
        self._rejects = rejects

    def reject(
        self,
        line: int,
        reason: str,
        *,
        raw: bytes | str,
        field: str | None = None,
        total_bytes: int | None = None,
    ) -> None:
        """Count one data line as read and rejected, and write its reject."""
        self.counts.read += 1
        self.counts.rejected += 1
        text = render_raw(raw, total_bytes=total_bytes)
        if reason.endswith(ERASED_REASON):
            text = "(withheld: the line carries an erased identifier)"
        self._rejects.write(Reject(self.path, line, reason, field, text))

    def accept(
        self,
        records: Iterable[Record] = (),
        events: Iterable[Event] = (),
        links: Iterable[Link] = (),
    ) -> None:
        """Count one data line as read and ingested, and fold in what it produced."""
        self.counts.read += 1
        self.counts.ingested += 1
        for record in records:
            self.add_record(record)
        for event in events:
            self._events.setdefault(event.id, event)
        for link in links:
            self.add_link(link)

    def add_record(self, record: Record) -> None:
        """Fold a record in without counting a line (for records settled at the end)."""
        seen = self.records.get(record.key)
        if seen is None:
            self.records[record.key] = record
        else:
            seen.merge_newer(record)

    def add_link(self, link: Link) -> None:
        """Keep a link once, whichever way round it was stated."""
        a, b = sorted((link.a, link.b))
        if a != b:
            self._links.setdefault((a, b, link.rule), link)

    def build(self) -> SourceBatch:
        """The finished batch."""
        return SourceBatch(
            counts=self.counts,
            records=self.records,
            events=list(self._events.values()),
            links=list(self._links.values()),
        )
