"""A CSV file as rows of raw cells, each with the physical lines it came from.

Rows are split by the csv module, over lines this module controls: a file that decodes as
UTF-8 with no line over the size cap is split in memory at once (the fast path); any other
file is read line by line with the cap, so a bad line or row becomes a reject naming its line
instead of derailing the file. `idgraph.ingest.csv_table` types and checks the cells.
"""

from __future__ import annotations

import csv
import functools
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from idgraph.ingest.collect import BatchBuilder
from idgraph.ingest.lines import RawLine, decode_line, nul_problem, read_lines, utf8_problem

__all__ = [
    "READ_BLOCK",
    "Cells",
    "ends_in_quotes",
    "file_lines",
    "split_fast",
    "split_rows",
    "split_slow",
]

#: Bytes read at a time when the read is reported as it goes.
READ_BLOCK = 8 << 20
#: Marks a row that ran to the end of the file inside a quoted cell.
_UNTERMINATED = "\x00unterminated"


@functools.cache
def _specials(delimiter: str) -> re.Pattern[str]:
    return re.compile(f'["{re.escape(delimiter)}]')


def ends_in_quotes(text: str, delimiter: str, in_quotes: bool = False) -> bool:
    """Whether a physical line ends inside a quoted cell, read as the csv module reads it.

    A quote opens a quoted cell only at the start of a cell; elsewhere it is a plain character.
    Only quotes and delimiters are visited, so lines without quotes cost almost nothing.

    Examples:
        >>> ends_in_quotes('1,"two', ","), ends_in_quotes('1,"tw""o",3', ",")
        (True, False)
        >>> ends_in_quotes('1,42" screen', ","), ends_in_quotes('end",4', ",", in_quotes=True)
        (False, False)
    """
    quoted, closing = in_quotes, False
    field_start = 0
    last_quote = -2
    for match in _specials(delimiter).finditer(text):
        char, at = match.group(), match.start()
        if quoted:
            if char == '"':
                quoted, closing, last_quote = False, True, at
            continue
        if closing:
            closing = False
            if char == '"' and at == last_quote + 1:
                quoted = True
                continue
        if char == delimiter:
            field_start = at + 1
        elif at == field_start:
            quoted = True
    return quoted


@dataclass(slots=True)
class _Rows:
    """Rows split by the csv module, with the physical lines each spans and its text."""

    cells: list[list[str]] = field(default_factory=list)
    first: list[int] = field(default_factory=list)
    last: list[int] = field(default_factory=list)
    texts: dict[int, str] = field(default_factory=dict)
    #: Why a row (by its first line) cannot be read: a csv error, or `_UNTERMINATED`.
    markers: dict[int, str] = field(default_factory=dict)


@dataclass(slots=True)
class Cells:
    """The rows with the header's number of cells, as raw (untrimmed) columns in line order."""

    first: pl.Series
    columns: list[pl.Series]
    #: The text of a row from its first line, for a reject found while checking values.
    text: Callable[[int], str]

    @property
    def height(self) -> int:
        return self.first.len()


def _reject_row(builder: BatchBuilder, first: int, marker: str | None, text: str) -> None:
    if marker == _UNTERMINATED:
        marker = "unterminated quoted cell: the row runs to the end of the file"
    builder.reject(first, marker or "malformed CSV", raw=text)


def _good_of_rows(rows: _Rows, width: int, builder: BatchBuilder) -> Cells:
    """Reject the unreadable rows and those with the wrong number of cells; keep the rest."""
    kept: list[int] = []
    for position, cells in enumerate(rows.cells):
        first = rows.first[position]
        marker = rows.markers.get(first)
        if marker is not None:
            _reject_row(builder, first, marker, rows.texts[first])
        elif len(cells) != width:
            builder.reject(
                first, f"expected {width} cells, found {len(cells)}", raw=rows.texts[first]
            )
        else:
            kept.append(position)
    builder.read_lines(len(kept))
    good = [rows.cells[p] for p in kept]
    return Cells(
        first=pl.Series("line", [rows.first[p] for p in kept], dtype=pl.Int64),
        columns=[pl.Series([r[i] for r in good], dtype=pl.Utf8) for i in range(width)],
        text=rows.texts.__getitem__,
    )


class _SlowFeed:
    """Feeds decoded lines to `csv.reader`, remembering where each row starts (any file)."""

    def __init__(
        self, lines: Iterator[RawLine], builder: BatchBuilder, limit: int, delimiter: str
    ) -> None:
        self._lines = lines
        self._limit = limit
        self._delimiter = delimiter
        self._builder = builder
        self._blank: list[RawLine] = []
        self.in_quotes = False
        self.row_start = 0
        self.row_end = 0
        self.row_text: list[str] = []

    def __iter__(self) -> _SlowFeed:
        return self

    def start_row(self) -> None:
        self.row_start = 0
        self.row_text = []

    def __next__(self) -> str:
        while True:
            line = next(self._lines)
            if line.blank and not self.in_quotes:
                self._blank.append(line)
                continue
            for blank in self._blank:
                self._builder.reject(blank.number, "blank line", raw=blank.data)
            self._blank.clear()
            if line.too_long:
                self._builder.reject(
                    line.number,
                    f"line too long: {line.size} bytes, limit {self._limit}",
                    raw=line.data,
                    total_bytes=line.size,
                )
                continue
            binary = nul_problem(line.data)
            if binary:
                self._builder.reject(line.number, binary, raw=line.data)
                continue
            try:
                text = decode_line(line)
            except UnicodeDecodeError as exc:
                self._builder.reject(line.number, utf8_problem(exc), raw=line.data)
                continue
            if not self.row_start:
                self.row_start = line.number
            self.row_end = line.number
            self.row_text.append(text)
            if self.in_quotes or '"' in text:
                self.in_quotes = ends_in_quotes(text, self._delimiter, self.in_quotes)
            return text + "\n"


def split_slow(
    path: Path,
    delimiter: str,
    builder: BatchBuilder,
    limit: int,
    width: int,
    on_bytes: Callable[[int], None] | None = None,
) -> Cells:
    rows = _Rows()
    lines = read_lines(path, max_line_bytes=limit, on_bytes=on_bytes)
    next(lines)
    feed = _SlowFeed(lines, builder, limit, delimiter)
    reader = csv.reader(feed, delimiter=delimiter)
    while True:
        feed.start_row()
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            rows.cells.append([])
            rows.first.append(feed.row_start)
            rows.last.append(feed.row_end)
            rows.markers[feed.row_start] = f"malformed CSV: {exc}"
            rows.texts[feed.row_start] = "\n".join(feed.row_text)
            continue
        rows.cells.append(cells)
        rows.first.append(feed.row_start)
        rows.last.append(feed.row_end)
        rows.texts[feed.row_start] = "\n".join(feed.row_text)
        if feed.in_quotes:
            rows.markers[feed.row_start] = _UNTERMINATED
    return _good_of_rows(rows, width, builder)


def file_lines(
    path: Path, max_line_bytes: int, on_bytes: Callable[[int], None] | None = None
) -> pl.Series | None:
    """Every physical line, decoded, when the whole file is UTF-8 and no line is too long.

    Line endings are `\\n` or `\\r\\n`, as `read_lines` reads them; a final newline does not
    start another line.
    """
    data = path.read_bytes() if on_bytes is None else _read_reporting(path, on_bytes)
    try:
        text = str(data, "utf-8-sig")
    except UnicodeDecodeError:
        return None
    del data
    lines = pl.Series("text", [text]).str.split("\n").explode()
    del text
    if lines.len() > 1 and lines[-1] == "":
        lines = lines.slice(0, lines.len() - 1)
    lines = lines.str.strip_suffix("\r")
    if lines.str.len_bytes().max() > max_line_bytes:  # type: ignore[operator]
        return None
    return lines


def _read_reporting(path: Path, on_bytes: Callable[[int], None]) -> bytes | memoryview:
    """The whole file, read in blocks with the bytes so far reported after each.

    The blocks land in one uninitialised buffer: as fast as `read_bytes`, no second copy.
    """
    with path.open("rb") as f:
        buffer = np.empty(os.fstat(f.fileno()).st_size, dtype=np.uint8)
        view = buffer.data
        done = 0
        while done < len(buffer):
            got = f.readinto(view[done : done + READ_BLOCK])
            if not got:
                break
            done += got
            on_bytes(done)
        rest = f.read()  # the file grew since it was measured
    return bytes(view[:done]) + rest if rest else view[:done]


def _quoted_cell(delimiter: str) -> str:
    d = re.escape(delimiter)
    return f'(?:[^"{d}\\r\\x00]*|"(?:[^"]|"")*")'


def split_fast(
    lines: pl.Series, delimiter: str, width: int
) -> tuple[Cells, list[tuple[int, str, str]]] | None:
    """Rows of an in-memory file, or None when some row needs the line-by-line reader.

    Lines without quotes are cut at the delimiter as whole columns (the csv module would cut
    them the same way); lines whose every cell is plain or wholly quoted go through one csv
    reader; any other quote starts a row that `ends_in_quotes` follows across lines, parsed on
    its own. A row that does not parse as exactly one csv row sends the file to the slow path,
    which handles every case the same way it would for a file that is not UTF-8.

    Returns the kept rows and the rejected ones as (line, reason, text).
    """
    rejected: list[tuple[int, str, str]] = []
    body = lines.slice(1)
    if body.str.contains("\x00", literal=True).any():
        return None  # binary lines: rejected one by one on the line-by-line path
    total = body.len()
    blank = body.str.contains(r"^[ \t\x0b\x0c\r]*$").to_numpy()
    tricky = body.str.contains('["\\r\\x00]', literal=False).to_numpy() & ~blank
    cell = _quoted_cell(delimiter)
    regular = body.str.contains(f"^{cell}(?:{re.escape(delimiter)}{cell})*$").to_numpy()
    spans: list[tuple[int, int]] = []  # rows of the tricky lines: first and last index
    in_rows = np.zeros(total, dtype=bool)
    end = -1
    for start in np.flatnonzero(tricky).tolist():
        if start <= end:
            continue
        if regular[start]:
            spans.append((start, start))
            end = start
            continue
        state = ends_in_quotes(body[start], delimiter)
        stop = start
        while state:
            stop += 1
            if stop == total:
                return None
            state = ends_in_quotes(body[stop], delimiter, state)
        spans.append((start, stop))
        in_rows[start : stop + 1] = True
        end = stop
    blank &= ~in_rows & ~tricky
    non_blank = np.flatnonzero(~blank)
    last_data = int(non_blank[-1]) if non_blank.size else -1
    for index in np.flatnonzero(blank[: max(last_data, 0)]).tolist():
        rejected.append((index + 2, "blank line", body[index]))

    parsed_first: list[int] = []
    parsed_cells: list[list[str]] = []
    singles = [s for s, e in spans if s == e]
    if singles:
        texts = body.gather(singles).to_list()
        try:
            rows = list(csv.reader(texts, delimiter=delimiter))
        except csv.Error:
            return None
        if len(rows) != len(singles):
            return None
        parsed_first.extend(s + 2 for s in singles)
        parsed_cells.extend(rows)
    for start, stop in spans:
        if start == stop:
            continue
        span = [t + "\n" for t in body.slice(start, stop - start + 1).to_list()]
        reader = csv.reader(span, delimiter=delimiter)
        try:
            rows = list(reader)
        except csv.Error:
            return None
        if len(rows) != 1 or reader.line_num != len(span):
            return None
        parsed_first.append(start + 2)
        parsed_cells.append(rows[0])

    simple = ~(tricky | in_rows | blank)
    plain = pl.DataFrame({"line": pl.int_range(2, total + 2, eager=True), "text": body}).filter(
        pl.Series(simple)
    )
    counts = plain["text"].str.count_matches(delimiter, literal=True) + 1
    wrong = counts != width
    for line, count, raw in (
        plain.filter(wrong)
        .with_columns(count=counts.filter(wrong))
        .select("line", "count", "text")
        .iter_rows()
    ):
        rejected.append((line, f"expected {width} cells, found {count}", raw))
    plain = plain.filter(~wrong)
    names = [f"c{i}" for i in range(width)]
    cut = plain.select(
        "line",
        pl.col("text").str.splitn(delimiter, width).struct.rename_fields(names).alias("cells"),
    ).unnest("cells")
    spans_by_first = {start + 2: stop + 2 for start, stop in spans}

    def text(first: int) -> str:
        stop = spans_by_first.get(first, first)
        return "\n".join(body.slice(first - 2, stop - first + 1).to_list())

    kept = [i for i, cells in enumerate(parsed_cells) if len(cells) == width]
    for i, cells in enumerate(parsed_cells):
        if len(cells) != width:
            first = parsed_first[i]
            rejected.append((first, f"expected {width} cells, found {len(cells)}", text(first)))
    if kept:
        quoted = pl.DataFrame(
            [[parsed_first[i] for i in kept]]
            + [[parsed_cells[i][c] for i in kept] for c in range(width)],
            schema={"line": pl.Int64, **{n: pl.Utf8 for n in names}},
        )
        cut = pl.concat([cut.cast({"line": pl.Int64}), quoted]).sort("line")
    good = Cells(first=cut["line"].cast(pl.Int64), columns=[cut[n] for n in names], text=text)
    return good, rejected


def split_rows(
    path: Path,
    delimiter: str,
    builder: BatchBuilder,
    limit: int,
    width: int,
    on_bytes: Callable[[int], None] | None = None,
) -> Cells:
    """The rows of `width` cells after the header, in memory when the file allows it, else
    line by line; every other line or row goes to `builder` as a reject naming its line.

    Args:
        path: the CSV file.
        delimiter: its cell delimiter.
        builder: takes the rejects and counts the lines read.
        limit: the longest line, in bytes, a row may have.
        width: the header's number of cells.
        on_bytes: told the bytes read so far as the file is read.
    """
    if csv.field_size_limit() < limit:
        csv.field_size_limit(limit)
    lines = file_lines(path, limit, on_bytes)
    fast = None if lines is None else split_fast(lines, delimiter, width)
    if fast is None:
        return split_slow(path, delimiter, builder, limit, width, on_bytes)
    good, rejected = fast
    for line, reason, text in rejected:
        builder.reject(line, reason, raw=text)
    builder.read_lines(good.height)
    return good
