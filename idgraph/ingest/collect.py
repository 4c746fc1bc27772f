"""What one input file yields, and the bookkeeping every reader shares.

Readers hand every data line to a `BatchBuilder` exactly once: rejected on the spot (a line
that is not JSON, a CSV row with the wrong number of cells), or kept as columns of raw values.
The reader then normalizes the kept values column by column: it rejects the lines that turn
out unusable after all (no record id, no event time, an erased identifier), so
`read == ingested + rejected` holds per file whatever stage refused a line, and hands the
values it dropped from the lines it kept to `drop_values`, as `field` rejects. Rejects are
written in line order once the file is done.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from idgraph.frames import EVENT_PROPERTIES, EVENTS, GROUPS, LINKS, SIGHTINGS, TRAITS, empty
from idgraph.ingest.rejects import FileCounts, Reject, RejectsWriter, render_raw
from idgraph.normalize.erased import ERASED_REASON

__all__ = ["DROPPED_VALUES", "BatchBuilder", "RawText", "SourceBatch", "keep_lines"]

#: Fetches the raw bytes of some data lines by number (for rejects found after reading).
RawText = Callable[[Sequence[int]], dict[int, bytes]]
#: Values dropped from ingested lines, as readers hand them to `BatchBuilder.drop_values`.
DROPPED_VALUES = {"line": pl.Int64, "field": pl.Utf8, "reason": pl.Utf8, "raw": pl.Utf8}


@dataclass(slots=True)
class SourceBatch:
    """Everything one input file contributed, as frames (schemas in `idgraph.frames`).

    `sightings` holds canonical values, one row per record mention; folding them into
    records happens when all the run's files are read (`idgraph.normalize.fold`). `groups`
    holds account memberships (event streams' `group` calls), written beside the resolution.
    """

    counts: FileCounts
    sightings: pl.DataFrame
    traits: pl.DataFrame
    events: pl.DataFrame
    event_properties: pl.DataFrame
    links: pl.DataFrame
    groups: pl.DataFrame = dataclasses.field(default_factory=lambda: empty(GROUPS))

    @property
    def source(self) -> str:
        """The source name the file's records and events carry."""
        return self.counts.source

    def release(self) -> None:
        """Drop the frames, keep the counts: for a caller done with the rows."""
        blank = SourceBatch.empty(self.counts)
        self.sightings, self.traits, self.events = blank.sightings, blank.traits, blank.events
        self.event_properties, self.links = blank.event_properties, blank.links
        self.groups = blank.groups

    @classmethod
    def empty(cls, counts: FileCounts) -> SourceBatch:
        return cls(
            counts,
            empty(SIGHTINGS),
            empty(TRAITS),
            empty(EVENTS),
            empty(EVENT_PROPERTIES),
            empty(LINKS),
        )


def keep_lines(frame: pl.DataFrame, dropped: Iterable[int]) -> pl.DataFrame:
    """`frame` without the rows of the dropped lines."""
    gone = list(dropped)
    if not gone or frame.height == 0:
        return frame
    return frame.filter(~pl.col("line").is_in(gone))


class BatchBuilder:
    """Counts one file's lines and collects its rejects, written in line order at `finish`."""

    def __init__(self, path: Path | str, source: str, rejects: RejectsWriter) -> None:
        self.path = str(path)
        self.counts = FileCounts(path=self.path, source=source)
        self._rejects = rejects
        self._pending: list[Reject] = []

    def reject(
        self,
        line: int,
        reason: str,
        *,
        raw: bytes | str,
        field: str | None = None,
        total_bytes: int | None = None,
    ) -> None:
        """Count one data line as read and rejected."""
        self.counts.read += 1
        self.counts.rejected += 1
        text = render_raw(raw, total_bytes=total_bytes)
        if reason.endswith(ERASED_REASON):
            text = "(withheld: the line carries an erased identifier)"
        self._pending.append(Reject(self.path, line, reason, field, text))

    def read_lines(self, count: int = 1) -> None:
        """Count data lines as read and kept (they may still be rejected for their values)."""
        self.counts.read += count
        self.counts.ingested += count

    def reject_kept(
        self, problems: pl.DataFrame, raw_text: RawText, *, withheld: Sequence[bool] = ()
    ) -> None:
        """Reject kept lines after all: `problems` has columns line, field, reason."""
        if problems.height == 0:
            return
        lines = problems["line"].to_list()
        texts = raw_text(lines)
        for position, (line, field, reason) in enumerate(
            zip(lines, problems["field"].to_list(), problems["reason"].to_list(), strict=True)
        ):
            self.counts.ingested -= 1
            self.counts.rejected += 1
            hidden = bool(withheld[position]) if withheld else reason.endswith(ERASED_REASON)
            text = (
                "(withheld: the line carries an erased identifier)"
                if hidden
                else render_raw(texts.get(line, b""))
            )
            self._pending.append(Reject(self.path, line, reason, field, text))

    def drop_values(self, dropped: pl.DataFrame) -> None:
        """Record values dropped from lines that were ingested (`DROPPED_VALUES` columns), as
        `field` rejects; the lines' counts do not change."""
        if dropped.height == 0:
            return
        self.counts.field_rejects += dropped.height
        self._pending.extend(
            Reject(self.path, line, reason, field, render_raw(raw or ""), "field")
            for line, field, reason, raw in dropped.select(list(DROPPED_VALUES)).iter_rows()
        )

    def finish(self) -> None:
        """Write the file's rejects, in line order (a line's own reject before its values')."""
        for reject in sorted(self._pending, key=lambda r: (r.line, r.kind == "field")):
            self._rejects.write(reject)
        self._pending.clear()


def file_lines(path: Path, offsets: dict[int, tuple[int, int]]) -> RawText:
    """A `RawText` reading lines back from `path` by their (offset, length)."""

    def fetch(lines: Sequence[int]) -> dict[int, bytes]:
        found: dict[int, bytes] = {}
        with path.open("rb") as f:
            for line in sorted(set(lines)):
                if line in offsets:
                    start, length = offsets[line]
                    f.seek(start)
                    found[line] = f.read(length)
        return found

    return fetch
