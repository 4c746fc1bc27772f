"""CSV exports (CRM, POS, loyalty) read through a per-source column mapping, into columns.

Rows are split by the csv module, over lines this module controls: a file that decodes as
UTF-8 with no line over the size cap is split in memory at once (the fast path); any other
file is read line by line with the cap, so a bad line or row becomes a reject naming its line
instead of derailing the file. Either way each row keeps the physical lines it came from, and
the cells then go through typed parsing and normalization as whole columns.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson
import polars as pl

from idgraph.errors import InputError
from idgraph.frames import EVENT_PROPERTIES, FIELDS, RAW_ID_KINDS, SIGHTINGS, TRAITS, empty
from idgraph.ingest.cells import parse_typed, parse_whens
from idgraph.ingest.collect import DROPPED_VALUES, BatchBuilder, SourceBatch
from idgraph.ingest.lines import (
    CONTROL_CHARACTERS,
    CONTROL_IN_ID,
    DEFAULT_MAX_LINE_BYTES,
    RawLine,
    decode_line,
    file_mtime_ms,
    nul_problem,
    read_lines,
    utf8_problem,
)
from idgraph.ingest.mapping import SourceMapping, TypedColumn
from idgraph.ingest.rejects import RejectsWriter
from idgraph.normalize.record import NormalizeOptions
from idgraph.normalize.sightings import PROBLEM_FIELD, PROBLEM_REASON, normalize_sightings
from idgraph.stages import Progress, bytes_of
from idgraph.types import TraitType

__all__ = ["check_table", "ends_in_quotes", "read_table"]

#: Characters `str.strip()` removes: trimming a cell must agree with Python exactly.
_PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_BLANK = re.compile(rb"^[ \t\r\n\f\v]*$")
#: Bytes read at a time when the read is reported as it goes.
_READ_BLOCK = 8 << 20
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


def _read_header(path: Path, mapping: SourceMapping, max_line_bytes: int) -> list[str]:
    lines = read_lines(path, max_line_bytes=max_line_bytes)
    first = next(lines, None)
    if first is None or first.blank:
        raise InputError("line 1 is blank; expected the header row", path=path, line=1)
    if first.too_long:
        raise InputError(
            f"header line too long: {first.size} bytes, limit {max_line_bytes}", path=path, line=1
        )
    try:
        text = decode_line(first)
    except UnicodeDecodeError as exc:
        raise InputError(utf8_problem(exc), path=path, line=1) from exc
    return [cell.strip() for cell in next(csv.reader([text], delimiter=mapping.delimiter))]


def check_table(
    path: Path, mapping: SourceMapping, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
) -> list[str]:
    """Check a CSV header against its mapping and return the header's column names.

    Raises:
        InputError: the header is unreadable, or a mapped column is missing or repeated
            (`line=1`, `field` = the column).
    """
    if mapping.id is None:
        raise InputError(
            "the mapping has no `id` (the column holding the source id), required for CSV",
            path=path,
        )
    header = _read_header(path, mapping, max_line_bytes)
    index: dict[str, int] = {}
    for position, name in enumerate(header):
        index.setdefault(name, position)
    needed = mapping.required_columns()
    missing = [column for column in needed if column not in index]
    if missing:
        described = ", ".join(f"'{c}' ({needed[c]})" for c in missing)
        raise InputError(
            f"mapped column{'s' * (len(missing) > 1)} missing from the header: {described}; "
            f"the header has: {', '.join(header)}",
            path=path,
            line=1,
            field=missing[0],
        )
    for column in needed:
        if header.count(column) > 1:
            raise InputError(
                f"column '{column}' appears {header.count(column)} times in the header",
                path=path,
                line=1,
                field=column,
            )
    return header


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
class _Good:
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


def _good_of_rows(rows: _Rows, width: int, builder: BatchBuilder) -> _Good:
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
    return _Good(
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


def _split_slow(
    path: Path,
    delimiter: str,
    builder: BatchBuilder,
    limit: int,
    width: int,
    on_bytes: Callable[[int], None] | None = None,
) -> _Good:
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


def _file_lines(
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
            got = f.readinto(view[done : done + _READ_BLOCK])
            if not got:
                break
            done += got
            on_bytes(done)
        rest = f.read()  # the file grew since it was measured
    return bytes(view[:done]) + rest if rest else view[:done]


def _quoted_cell(delimiter: str) -> str:
    d = re.escape(delimiter)
    return f'(?:[^"{d}\\r\\x00]*|"(?:[^"]|"")*")'


def _split_fast(
    lines: pl.Series, delimiter: str, width: int
) -> tuple[_Good, list[tuple[int, str, str]]] | None:
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
    good = _Good(first=cut["line"].cast(pl.Int64), columns=[cut[n] for n in names], text=text)
    return good, rejected


def _split(
    path: Path,
    mapping: SourceMapping,
    builder: BatchBuilder,
    limit: int,
    width: int,
    on_bytes: Callable[[int], None] | None = None,
) -> _Good:
    if csv.field_size_limit() < limit:
        csv.field_size_limit(limit)
    lines = _file_lines(path, limit, on_bytes)
    fast = None if lines is None else _split_fast(lines, mapping.delimiter, width)
    if fast is None:
        return _split_slow(path, mapping.delimiter, builder, limit, width, on_bytes)
    good, rejected = fast
    for line, reason, text in rejected:
        builder.reject(line, reason, raw=text)
    builder.read_lines(good.height)
    return good


def _trimmed(cells: pl.Series) -> pl.Series:
    """Cells trimmed as `str.strip()` trims, blank cells as null."""
    values = cells.str.strip_chars(_PY_WHITESPACE)
    return values.set(values == "", None)


class _Problems:
    """Per row, the first problem that refuses the whole row, in the order the checks rank
    (first wins)."""

    def __init__(self, height: int) -> None:
        self.field = pl.Series("field", [None] * height, dtype=pl.Utf8)
        self.reason = pl.Series("reason", [None] * height, dtype=pl.Utf8)

    def add(self, fields: pl.Series | str, reasons: pl.Series) -> None:
        fresh = self.reason.is_null() & reasons.is_not_null()
        if not fresh.any():
            return
        if isinstance(fields, str):
            fields = pl.Series([fields] * len(reasons), dtype=pl.Utf8)
        self.field = fields.zip_with(fresh, self.field)
        self.reason = reasons.zip_with(fresh, self.reason)


def _explained(column: str, what: str, reasons: pl.Series) -> pl.Series:
    """`column 'dob' (birth_date): <reason>` where there is a reason."""
    return pl.select(pl.lit(f"column '{column}' ({what}): ") + pl.lit(reasons)).to_series()


def _missing(column: str, what: str, values: pl.Series, reason: str) -> pl.Series:
    text = f"column '{column}' ({what}): {reason}"
    return pl.select(pl.when(pl.lit(values).is_null()).then(pl.lit(text))).to_series()


def _control_characters(column: str, what: str, values: pl.Series) -> pl.Series:
    """A reason where an id holds a control character: it would end up in record keys and
    in every export (a NUL in a CSV, a line break in a key)."""
    text = f"column '{column}' ({what}): {CONTROL_IN_ID}"
    return pl.select(
        pl.when(pl.lit(values).str.contains(CONTROL_CHARACTERS)).then(pl.lit(text))
    ).to_series()


def _json_texts(values: pl.Series) -> pl.Series:
    """Typed values as the JSON text of each scalar (what `TRAITS.value` holds), null where
    the value is; Polars' encoder writes what orjson writes for strings, finite floats and
    booleans, without a Python string per value.

    Examples:
        >>> _json_texts(pl.Series(["Roma", None])).to_list()
        ['"Roma"', None]
        >>> _json_texts(pl.Series([12.0, 0.1])).to_list()
        ['12.0', '0.1']
    """
    encoded = pl.select(
        pl.when(pl.lit(values).is_not_null()).then(
            pl.struct(pl.lit(values).alias("v"))
            .struct.json_encode()
            .str.strip_prefix('{"v":')
            .str.strip_suffix("}")
        )
    ).to_series()
    return encoded.alias(values.name)


def read_table(
    path: Path,
    *,
    mapping: SourceMapping,
    options: NormalizeOptions,
    rejects: RejectsWriter,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    progress: Progress | None = None,
) -> SourceBatch:
    """Read a CSV export into sightings (and events, when the mapping says rows are events).

    Args:
        path: the CSV file; line 1 is the header.
        mapping: which column holds the id, the golden fields, identifiers and traits.
        options: the run's normalization options (the mapping may override region and dates).
        rejects: where rows that cannot be ingested go, with their line and column.
        max_line_bytes: longer lines are rejected unparsed.
        progress: called with ("bytes", read, file size) after each block read, then
            ("rows normalized", done, rows) around checking and normalizing the rows.

    Returns:
        The file's batch; its counts reconcile.

    Raises:
        InputError: the file as a whole is unusable (see `check_table`).
    """
    header = check_table(path, mapping, max_line_bytes=max_line_bytes)
    width = len(header)
    index = {name: position for position, name in reversed(list(enumerate(header)))}
    builder = BatchBuilder(path, mapping.source_name(path), rejects)
    size = path.stat().st_size if progress is not None else 0
    on_bytes = None if progress is None else bytes_of(progress, size)
    good = _split(path, mapping, builder, max_line_bytes, width, on_bytes)
    if progress is not None:
        progress("bytes", size, size)
        progress("rows normalized", 0, good.height)
    batch = _Table(path, mapping, options, builder, good, index).batch()
    builder.finish()
    if progress is not None:
        progress("rows normalized", good.height, good.height)
    return batch


class _Table:
    """The kept rows of one CSV file as columns.

    What makes a row unusable rejects it whole, the first such problem in this order: id,
    event timestamp, erased identifiers, event id. A value that is unusable in a cell the
    row can do without (a trait or event property of the wrong type, an `updated_at` that is
    no time, a golden field that does not normalize) is dropped and listed, to become a
    `field` reject when the row is kept.
    """

    def __init__(
        self,
        path: Path,
        mapping: SourceMapping,
        options: NormalizeOptions,
        builder: BatchBuilder,
        good: _Good,
        index: dict[str, int],
    ) -> None:
        self.path = path
        self.mapping = mapping
        self.options = mapping.options(options)
        self.builder = builder
        self.good = good
        self.index = index
        self.height = good.height
        self.source = builder.counts.source
        self.lines = good.first
        self.problems = _Problems(self.height)
        self.required = mapping.required_columns()
        self._cells: dict[str, pl.Series] = {}
        #: Values dropped from the rows (`DROPPED_VALUES` plus the column's position).
        self._dropped: list[pl.DataFrame] = []

    def cell(self, column: str) -> pl.Series:
        if column not in self._cells:
            self._cells[column] = _trimmed(self.good.columns[self.index[column]])
        return self._cells[column]

    def typed(self, spec: TypedColumn) -> pl.Series:
        values, reasons = parse_typed(self.cell(spec.column), spec.type, self.options)
        self.drop(spec.column, reasons)
        return values

    def drop(self, column: str, reasons: pl.Series) -> None:
        """List the values of `column` refused for `reasons` (null: kept) as dropped."""
        rows = reasons.is_not_null().arg_true()
        if len(rows):
            self._dropped.append(
                pl.DataFrame(
                    {
                        "line": self.lines.gather(rows),
                        "field": pl.repeat(column, len(rows), dtype=pl.Utf8, eager=True),
                        "reason": _explained(column, self.required[column], reasons.gather(rows)),
                        "raw": self.cell(column).gather(rows),
                    }
                )
            )

    def dropped(self, keep: pl.Series) -> pl.DataFrame:
        """The values dropped from the kept rows, by line and then column position."""
        kept = self.lines.filter(keep)
        parts = [part.filter(pl.col("line").is_in(kept.implode())) for part in self._dropped]
        if not parts:
            return pl.DataFrame(schema=DROPPED_VALUES)
        position = pl.col("field").replace_strict(self.index, return_dtype=pl.Int64)
        return pl.concat(parts).sort("line", position, maintain_order=True)

    def batch(self) -> SourceBatch:
        if not self.height:
            return SourceBatch.empty(self.builder.counts)
        mapping = self.mapping
        assert mapping.id is not None
        source_id = self.cell(mapping.id)
        self.problems.add(mapping.id, _missing(mapping.id, "id", source_id, "missing id"))
        self.problems.add(mapping.id, _control_characters(mapping.id, "id", source_id))
        traits = {name: (self.typed(spec), spec.type) for name, spec in mapping.traits.items()}
        event_ts = self.event_time()
        ts = (
            event_ts
            if event_ts is not None
            else pl.repeat(file_mtime_ms(self.path), self.height, dtype=pl.Int64, eager=True)
        )
        updated = mapping.columns.get("updated_at")
        if updated is not None:
            when, reasons = parse_whens(self.cell(updated), self.options)
            self.drop(updated, reasons)
            ts = when.fill_null(ts)
        sightings = self.sightings(source_id, ts)
        event_ids, props = self.event_columns()
        bad = self.problems.reason.is_not_null()
        self.builder.reject_kept(
            pl.DataFrame(
                {"line": self.lines, "field": self.problems.field, "reason": self.problems.reason}
            ).filter(bad),
            lambda wanted: {line: self.good.text(line).encode("utf-8") for line in wanted},
        )
        keep = ~bad
        self.builder.drop_values(self.dropped(keep))
        batch = SourceBatch.empty(self.builder.counts)
        batch.sightings = sightings.filter(keep)
        batch.traits = self.traits_frame(traits, keep)
        if mapping.event is not None and event_ids is not None and event_ts is not None:
            batch.events, batch.event_properties = self.events_frame(
                event_ids, event_ts, batch.sightings["key"], props, keep
            )
        return batch

    def event_time(self) -> pl.Series | None:
        event = self.mapping.event
        if event is None:
            return None
        column = event.timestamp
        raw = self.cell(column)
        what = self.required[column]
        self.problems.add(column, _missing(column, what, raw, "missing event timestamp"))
        values, reasons = parse_whens(raw, self.options)
        self.problems.add(column, _explained(column, what, reasons))
        return values

    def sightings(self, source_id: pl.Series, ts: pl.Series) -> pl.DataFrame:
        mapping = self.mapping
        empty_column = pl.Series([None] * self.height, dtype=pl.Utf8)
        values = {}
        for name in (*FIELDS, *RAW_ID_KINDS):
            column = mapping.columns.get(name)  # type: ignore[call-overload]
            values[name] = self.cell(column) if column is not None else empty_column
        frame = pl.DataFrame(
            {
                "line": self.lines,
                "sub": pl.repeat(0, self.height, dtype=pl.Int8, eager=True),
                "key": pl.select(pl.lit(f"{self.source}:") + pl.lit(source_id)).to_series(),
                "source": pl.repeat(self.source, self.height, dtype=pl.Utf8, eager=True),
                "source_id": source_id,
                "kind": pl.repeat("row", self.height, dtype=pl.Utf8, eager=True),
                "ts": ts.cast(pl.Int64),
                **values,
            }
        ).select(list(SIGHTINGS))
        order = [name for name in mapping.columns if name in FIELDS]
        normalized = normalize_sightings(frame, self.options, order=order)
        frame = normalized.frame
        column_of = dict(mapping.columns)
        for field_name, part in normalized.dropped.group_by("field", maintain_order=True):
            name = str(field_name[0])
            column = column_of[name]  # type: ignore[index]
            self._dropped.append(
                pl.DataFrame(
                    {
                        "line": self.lines.gather(part["row"]),
                        "field": pl.repeat(column, part.height, dtype=pl.Utf8, eager=True),
                        "reason": _explained(column, name, part["reason"]),
                        "raw": part["raw"],
                    }
                )
            )
        kinds = frame[PROBLEM_FIELD]
        columns = kinds.replace_strict(
            {kind: column_of.get(kind, kind) for kind in kinds.drop_nulls().unique().to_list()},
            default=None,
            return_dtype=pl.Utf8,
        )
        message = pl.select(
            pl.lit("column '")
            + pl.lit(columns)
            + pl.lit("' (")
            + pl.lit(kinds)
            + pl.lit("): ")
            + pl.lit(frame[PROBLEM_REASON])
        ).to_series()
        self.problems.add(columns, message)
        return frame.drop(PROBLEM_FIELD, PROBLEM_REASON)

    def event_columns(self) -> tuple[pl.Series | None, dict[str, tuple[pl.Series, TraitType]]]:
        event = self.mapping.event
        if event is None:
            return None, {}
        if event.id is not None:
            ids = self.cell(event.id)
            what = self.required[event.id]
            self.problems.add(event.id, _missing(event.id, what, ids, "missing event id"))
            self.problems.add(event.id, _control_characters(event.id, what, ids))
        else:
            ids = pl.Series(
                [
                    hashlib.sha1(orjson.dumps(row)).hexdigest()[:20]
                    for row in zip(*(c.to_list() for c in self.good.columns), strict=True)
                ],
                dtype=pl.Utf8,
            )
        props = {name: (self.typed(spec), spec.type) for name, spec in event.properties.items()}
        return ids, props

    def traits_frame(
        self, traits: dict[str, tuple[pl.Series, TraitType]], keep: pl.Series
    ) -> pl.DataFrame:
        parts = [
            pl.DataFrame(
                {
                    "line": self.lines,
                    "sub": pl.repeat(0, self.height, dtype=pl.Int8, eager=True),
                    "name": pl.repeat(name, self.height, dtype=pl.Utf8, eager=True),
                    "value": _json_texts(values),
                }
            ).filter(keep & values.is_not_null())
            for name, (values, _kind) in traits.items()
        ]
        if not parts:
            return empty(TRAITS)
        return pl.concat(parts).sort("line", maintain_order=True)

    def events_frame(
        self,
        ids: pl.Series,
        ts: pl.Series,
        keys: pl.Series,
        props: dict[str, tuple[pl.Series, TraitType]],
        keep: pl.Series,
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Events of the kept rows, their properties as one JSON object and as long scalars."""
        event = self.mapping.event
        assert event is not None
        event_ids = pl.select(pl.lit(f"{self.source}:") + pl.lit(ids.filter(keep))).to_series()
        height = event_ids.len()
        objects: list[dict[str, object]] = [{} for _ in range(height)]
        long_parts = []
        for prop, (values, kind) in props.items():
            kept = values.filter(keep)
            for position, value in enumerate(kept.to_list()):
                if value is not None:
                    objects[position][prop] = value
            long_parts.append(
                pl.DataFrame(
                    {
                        "id": event_ids,
                        "name": pl.repeat(prop, height, dtype=pl.Utf8, eager=True),
                        "kind": pl.repeat(
                            _KINDS.get(kind, "string"), height, dtype=pl.Utf8, eager=True
                        ),
                        "value": kept.cast(pl.Utf8)
                        if kind in ("string", "date")
                        else _json_texts(kept),
                    }
                ).filter(kept.is_not_null())
            )
        events = pl.DataFrame(
            {
                "line": self.lines.filter(keep),
                "id": event_ids,
                "name": pl.repeat(event.name, height, dtype=pl.Utf8, eager=True),
                "ts": ts.filter(keep),
                "source": pl.repeat(self.source, height, dtype=pl.Utf8, eager=True),
                "record_key": keys,
                "properties": pl.Series(
                    [orjson.dumps(o, option=orjson.OPT_SORT_KEYS).decode() for o in objects],
                    dtype=pl.Utf8,
                ),
            }
        )
        long = pl.concat(long_parts) if long_parts else empty(EVENT_PROPERTIES)
        return events, long


#: Trait and property types as the long property frame names their kinds.
_KINDS = {"number": "number", "boolean": "boolean"}
