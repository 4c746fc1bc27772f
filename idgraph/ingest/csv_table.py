"""CSV exports (CRM, POS, loyalty) read through a per-source column mapping.

The csv module parses rows, but over a line feed this module controls: it reads bytes with a
size cap, decodes each line itself and knows which physical lines each row came from, so a bad
line or row becomes a reject naming its line instead of derailing the file.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import math
import re
from collections.abc import Iterator
from pathlib import Path

import orjson

from idgraph.errors import FieldError, InputError
from idgraph.ingest.collect import BatchBuilder, SourceBatch
from idgraph.ingest.lines import (
    DEFAULT_MAX_LINE_BYTES,
    RawLine,
    decode_line,
    file_mtime_ms,
    read_lines,
    utf8_problem,
)
from idgraph.ingest.mapping import IDENTIFIER_COLUMNS, SourceMapping, TypedColumn
from idgraph.ingest.rejects import RejectsWriter
from idgraph.ingest.when import parse_date_value, parse_when
from idgraph.models import Event, Record, SourceRecord
from idgraph.normalize.record import NormalizeOptions, to_record
from idgraph.types import IdentifierKind, TraitValue

_TRUE = frozenset({"true", "yes", "1", "y", "t"})
_FALSE = frozenset({"false", "no", "0", "n", "f"})


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


class _RowFeed:
    """Feeds decoded physical lines to `csv.reader`, remembering where each row starts.

    Lines that cannot be fed (too long, not UTF-8, blank outside a quoted cell) are rejected on
    the spot; blank lines are held back until a data line follows, so trailing ones vanish.
    """

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
        self.row_text: list[str] = []

    def __iter__(self) -> _RowFeed:
        return self

    def start_row(self) -> None:
        """Forget the lines of the row just handled."""
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
            try:
                text = decode_line(line)
            except UnicodeDecodeError as exc:
                self._builder.reject(line.number, utf8_problem(exc), raw=line.data)
                continue
            if not self.row_start:
                self.row_start = line.number
            self.row_text.append(text)
            if self.in_quotes or '"' in text:
                self.in_quotes = ends_in_quotes(text, self._delimiter, self.in_quotes)
            return text + "\n"


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


def _typed(raw: str, spec: TypedColumn, options: NormalizeOptions) -> TraitValue:
    if spec.type == "string":
        return raw
    if spec.type == "number":
        try:
            number = float(raw)
        except ValueError:
            raise FieldError(spec.column, "not a number") from None
        if not math.isfinite(number):
            raise FieldError(spec.column, "not a finite number")
        return number
    if spec.type == "boolean":
        lowered = raw.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise FieldError(spec.column, "not a boolean (expected true/false, yes/no or 1/0)")
    return parse_date_value(raw, spec.column, options)


class _Row:
    """One parsed data row with column access by name."""

    def __init__(self, cells: list[str], index: dict[str, int]) -> None:
        self._cells = cells
        self._index = index

    def get(self, column: str) -> str:
        return self._cells[self._index[column]].strip()


class _TableReader:
    def __init__(
        self,
        path: Path,
        mapping: SourceMapping,
        index: dict[str, int],
        options: NormalizeOptions,
        builder: BatchBuilder,
    ) -> None:
        self.path = path
        self.mapping = mapping
        self.index = index
        self.options = mapping.options(options)
        self.builder = builder
        self.source = builder.counts.source
        self.mtime = file_mtime_ms(path)

    def column_of(self, name: str) -> str:
        """The CSV column behind a golden field or identifier named in a FieldError."""
        columns: dict[str, str] = {k: v for k, v in self.mapping.columns.items()}
        if name in columns:
            return columns[name]
        if name in self.mapping.traits:
            return self.mapping.traits[name].column
        return name

    def row_to_outputs(self, row: _Row, line: int) -> tuple[Record, Event | None]:
        """Build the record (and event) of one row; FieldError names the CSV column."""
        assert self.mapping.id is not None
        source_id = row.get(self.mapping.id)
        if not source_id:
            raise FieldError(self.mapping.id, "missing id")
        columns: dict[str, str] = {k: v for k, v in self.mapping.columns.items()}
        fields: dict[str, str] = {}
        identifiers: list[tuple[IdentifierKind, str]] = []
        for name, column in columns.items():
            value = row.get(column)
            if not value or name == "updated_at":
                continue
            if name in IDENTIFIER_COLUMNS:
                identifiers.append((IDENTIFIER_COLUMNS[name], value))
            else:
                fields[name] = value
        traits: dict[str, TraitValue] = {}
        for name, spec in self.mapping.traits.items():
            value = row.get(spec.column)
            if value:
                traits[name] = _typed(value, spec, self.options)
        event_ts: int | None = None
        event_spec = self.mapping.event
        if event_spec is not None:
            raw_ts = row.get(event_spec.timestamp)
            if not raw_ts:
                raise FieldError(event_spec.timestamp, "missing event timestamp")
            event_ts = parse_when(raw_ts, event_spec.timestamp, self.options)
        ts = self.mtime if event_ts is None else event_ts
        updated = columns.get("updated_at")
        if updated is not None and row.get(updated):
            ts = parse_when(row.get(updated), updated, self.options)
        src = SourceRecord(
            path=str(self.path),
            line=line,
            source=self.source,
            source_id=source_id,
            kind="row",
            ts=ts,
            fields=fields,
            raw_identifiers=identifiers,
            traits=traits,
        )
        try:
            record = to_record(src, self.options)
        except FieldError as exc:
            column = self.column_of(exc.field)
            raise FieldError(column, f"column '{column}' ({exc.field}): {exc.reason}") from exc
        if event_spec is None or event_ts is None:
            return record, None
        if event_spec.id is not None:
            event_id = row.get(event_spec.id)
            if not event_id:
                raise FieldError(event_spec.id, "missing event id")
        else:
            event_id = hashlib.sha1(orjson.dumps(row._cells)).hexdigest()[:20]
        properties = {
            name: _typed(row.get(spec.column), spec, self.options)
            for name, spec in event_spec.properties.items()
            if row.get(spec.column)
        }
        event = Event(
            id=f"{self.source}:{event_id}",
            name=event_spec.name,
            ts=event_ts,
            source=self.source,
            record_key=record.key,
            properties=properties,
        )
        return record, event


def _explain(reason: str, column: str, reader: _TableReader) -> str:
    if reason.startswith("column '"):
        return reason
    what = reader.mapping.required_columns().get(column, column)
    return f"column '{column}' ({what}): {reason}"


def read_table(
    path: Path,
    *,
    mapping: SourceMapping,
    options: NormalizeOptions,
    rejects: RejectsWriter,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> SourceBatch:
    """Read a CSV export into records (and events, when the mapping says rows are events).

    Args:
        path: the CSV file; line 1 is the header.
        mapping: which column holds the id, the golden fields, identifiers and traits.
        options: the run's normalization options (the mapping may override region and dates).
        rejects: where rows that cannot be ingested go, with their line and column.
        max_line_bytes: longer lines are rejected unparsed.

    Returns:
        The file's batch; its counts reconcile.

    Raises:
        InputError: the file as a whole is unusable (see `check_table`).
    """
    header = check_table(path, mapping, max_line_bytes=max_line_bytes)
    header_width = len(header)
    index = {name: position for position, name in reversed(list(enumerate(header)))}
    builder = BatchBuilder(path, mapping.source_name(path), rejects)
    reader = _TableReader(path, mapping, index, options, builder)
    if csv.field_size_limit() < max_line_bytes:
        csv.field_size_limit(max_line_bytes)
    lines = read_lines(path, max_line_bytes=max_line_bytes)
    next(lines)
    feed = _RowFeed(lines, builder, max_line_bytes, mapping.delimiter)
    rows = csv.reader(feed, delimiter=mapping.delimiter)
    while True:
        feed.start_row()
        try:
            cells = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:
            builder.reject(feed.row_start, f"malformed CSV: {exc}", raw="\n".join(feed.row_text))
            continue
        line, raw = feed.row_start, "\n".join(feed.row_text)
        if feed.in_quotes:
            builder.reject(
                line, "unterminated quoted cell: the row runs to the end of the file", raw=raw
            )
            continue
        if len(cells) != header_width:
            builder.reject(line, f"expected {header_width} cells, found {len(cells)}", raw=raw)
            continue
        try:
            record, event = reader.row_to_outputs(_Row(cells, index), line)
        except FieldError as exc:
            builder.reject(line, _explain(exc.reason, exc.field, reader), field=exc.field, raw=raw)
            continue
        builder.accept([record], [event] if event is not None else [])
    return builder.build()
