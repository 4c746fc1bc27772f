"""CSV exports (CRM, POS, loyalty) read through a per-source column mapping, into columns.

The header is checked against the mapping; the rows come split into raw cells, each row with
the physical lines it came from (`idgraph.ingest.csv_rows`); the cells then go through typed
parsing and normalization as whole columns, and a row refused names its line and field.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import orjson
import polars as pl

from idgraph.errors import InputError
from idgraph.frames import EVENT_PROPERTIES, FIELDS, RAW_ID_KINDS, SIGHTINGS, TRAITS, empty
from idgraph.ingest.cells import parse_typed, parse_whens
from idgraph.ingest.collect import DROPPED_VALUES, BatchBuilder, SourceBatch
from idgraph.ingest.csv_rows import Cells, split_rows
from idgraph.ingest.full_name import split_full_names
from idgraph.ingest.lines import (
    CONTROL_CHARACTERS,
    CONTROL_IN_ID,
    DEFAULT_MAX_LINE_BYTES,
    decode_line,
    file_mtime_ms,
    read_lines,
    utf8_problem,
)
from idgraph.ingest.mapping import SourceMapping, TypedColumn
from idgraph.ingest.rejects import RejectsWriter
from idgraph.normalize.record import NormalizeOptions
from idgraph.normalize.sightings import PROBLEM_FIELD, PROBLEM_REASON, normalize_sightings
from idgraph.stages import Progress, bytes_of
from idgraph.types import TraitType

__all__ = ["check_table", "read_table"]

_PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


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
    good = split_rows(path, mapping.delimiter, builder, max_line_bytes, width, on_bytes)
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
        good: Cells,
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
        whole = mapping.columns.get("full_name")
        if whole is not None:
            first, last = split_full_names(self.cell(whole))
            values["first_name"] = values["first_name"].fill_null(first)
            values["last_name"] = values["last_name"].fill_null(last)
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
        column_of: dict[str, str] = {str(k): v for k, v in mapping.columns.items()}
        if whole is not None:
            # A name split from the whole-name column is reported under that column.
            column_of.setdefault("first_name", whole)
            column_of.setdefault("last_name", whole)
        order = [
            part
            for name in mapping.columns
            for part in (("first_name", "last_name") if name == "full_name" else (name,))
            if part in FIELDS
        ]
        normalized = normalize_sightings(frame, self.options, order=list(dict.fromkeys(order)))
        frame = normalized.frame
        for field_name, part in normalized.dropped.group_by("field", maintain_order=True):
            name = str(field_name[0])
            column = column_of[name]
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
