"""Rejected input lines and values, and the per-file counts that must reconcile.

Every data line of every input ends either ingested or here, so `read == ingested + rejected`
holds per file and a user can find, fix and replay what was refused. A reject is of one of
two kinds:

- `line`: the line is unusable (it does not parse, its record id, event time or event id is
  missing or invalid, it carries an erased identifier) and nothing of it is stored;
- `field`: one value of an ingested line is unusable (a future birth date, a phone that does
  not parse, a junk email) and was dropped; the rest of the line is stored. Field rejects do
  not enter `read == ingested + rejected`, which counts lines; `FileCounts.field_rejects`
  counts them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Literal, TypeAlias

import orjson

logger = logging.getLogger(__name__)

#: Raw text kept in a reject; past this the text is cut and marked, so one huge line
#: cannot make the rejects file huge.
MAX_RAW_CHARS = 2000

#: How many rejects a writer keeps in memory for a report (the file holds all of them).
SAMPLE_SIZE = 20

#: What a reject refused: the whole line, or one value of a line that was ingested.
RejectKind: TypeAlias = Literal["line", "field"]


def render_raw(raw: bytes | str, *, total_bytes: int | None = None) -> str:
    """Turn a line's raw bytes into the text kept in a reject.

    Args:
        raw: the line as read (bytes are decoded as UTF-8 with replacement characters), or
            only its head when the line was too long to keep.
        total_bytes: the full length of the line when `raw` is only its head.

    Returns:
        The text without its line ending, cut to `MAX_RAW_CHARS` characters with a
        `…[truncated, N bytes]` marker when longer.

    Examples:
        >>> render_raw(b"abc\\n")
        'abc'
        >>> render_raw(b"\\xff1")
        '\\ufffd1'
    """
    if isinstance(raw, bytes):
        size = len(raw) if total_bytes is None else total_bytes
        text = raw[: MAX_RAW_CHARS * 4 + 4].decode("utf-8", errors="replace")
    else:
        size = len(raw.encode("utf-8")) if total_bytes is None else total_bytes
        text = raw
    text = text.rstrip("\r\n")
    truncated = total_bytes is not None and total_bytes > len(raw)
    if len(text) > MAX_RAW_CHARS or truncated:
        return f"{text[:MAX_RAW_CHARS]}…[truncated, {size} bytes]"
    return text


@dataclass(frozen=True, slots=True)
class Reject:
    """One input line (or CSV row) that was not ingested, or one value dropped from a line
    that was, and why.

    `line` is the physical line number, 1-based; for a CSV row spanning several lines, its first.
    `field` names the input field at fault (a CSV column, a JSON key path) or is None when the
    whole line is unusable. `raw` is the line's text for a `line` reject and the value's for a
    `field` reject.
    """

    path: str
    line: int
    reason: str
    field: str | None
    raw: str
    kind: RejectKind = "line"

    def to_json(self) -> bytes:
        """The rejects-file line for this reject (without the newline)."""
        return orjson.dumps(
            {
                "file": self.path,
                "line": self.line,
                "kind": self.kind,
                "field": self.field,
                "reason": self.reason,
                "raw": self.raw,
            }
        )


@dataclass(slots=True)
class FileCounts:
    """How many data lines of one input file were read, ingested and rejected, and how many
    values of the ingested lines were dropped (`field_rejects`, one `field` reject each)."""

    path: str
    source: str
    read: int = 0
    ingested: int = 0
    rejected: int = 0
    field_rejects: int = 0
    #: Why the file had no line to read (empty, binary), None when it was read.
    note: str | None = None
    #: True when the file was refused whole (binary): the run goes on, but it failed.
    refused: bool = False

    @property
    def reconciles(self) -> bool:
        """True when every line read was either ingested or rejected."""
        return self.read == self.ingested + self.rejected


class RejectsWriter:
    """Writes rejects as JSON Lines, opening the file only at the first reject.

    With `path=None` nothing is written; rejects are still counted and sampled, which suits
    dry runs and tests.

    Examples:
        >>> with RejectsWriter(None) as rejects:
        ...     rejects.write(Reject("a.csv", 3, "blank line", None, ""))
        ...     rejects.write(Reject("a.csv", 4, "email: junk", "email", "x", kind="field"))
        >>> rejects.counts, rejects.field_counts, rejects.total
        ({'a.csv': 1}, {'a.csv': 1}, 2)
    """

    def __init__(self, path: Path | str | None) -> None:
        self.path = Path(path) if path is not None else None
        #: Line rejects per input file.
        self.counts: dict[str, int] = {}
        #: Field rejects (values dropped from ingested lines) per input file.
        self.field_counts: dict[str, int] = {}
        self.samples: list[Reject] = []
        self._out: IO[bytes] | None = None

    @property
    def total(self) -> int:
        """Rejects written so far, of both kinds, over all input files."""
        return sum(self.counts.values()) + sum(self.field_counts.values())

    def write(self, reject: Reject) -> None:
        """Record one reject."""
        tally = self.counts if reject.kind == "line" else self.field_counts
        tally[reject.path] = tally.get(reject.path, 0) + 1
        if len(self.samples) < SAMPLE_SIZE:
            self.samples.append(reject)
        logger.debug("%s reject %s:%d %s", reject.kind, reject.path, reject.line, reject.reason)
        if self.path is None:
            return
        if self._out is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._out = self.path.open("wb")
        self._out.write(reject.to_json() + b"\n")

    def close(self) -> None:
        """Flush and close the rejects file, if one was opened."""
        if self._out is not None:
            self._out.close()
            self._out = None

    def __enter__(self) -> RejectsWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
