"""Event streams in the Segment / RudderStack tracking spec, one JSON call per line, into columns.

Each identity a stream mentions becomes one record: a logged-in `userId`, or an `anonymousId`
seen without one. Calls that carry both put the anonymous id on the user's record as an
identifier, which is how a visitor's anonymous history is stitched to the person once they log in.

A call is checked as it is parsed (JSON, type, ids, timestamp, nested objects); what it says is
appended to columns of raw values, normalized for the whole file at once when it is read. A
call whose values turn out unusable is rejected then, unless a check that comes earlier in the
call already refused it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from idgraph.errors import FieldError
from idgraph.frames import (
    EVENTS,
    FIELDS,
    LINKS,
    RAW_ID_KINDS,
    SIGHTINGS,
    TRAITS,
)
from idgraph.ingest.cells import ISO_TIMESTAMP, parse_timestamps
from idgraph.ingest.collect import BatchBuilder, RawText, SourceBatch
from idgraph.ingest.lines import (
    CONTROL_CHARACTERS,
    CONTROL_IN_ID,
    DEFAULT_MAX_LINE_BYTES,
    RawLine,
    decode_line,
    nul_problem,
    read_lines,
    utf8_problem,
)
from idgraph.ingest.mapping import PROPERTY_NAME_PATTERN
from idgraph.ingest.properties import kind_of, long_properties
from idgraph.ingest.rejects import RejectsWriter
from idgraph.models import record_key
from idgraph.normalize.fields import parse_timestamp
from idgraph.normalize.record import NormalizeOptions
from idgraph.normalize.sightings import PROBLEM_FIELD, PROBLEM_REASON, normalize_sightings
from idgraph.stages import Progress, bytes_of

__all__ = ["CALL_TYPES", "read_event_calls", "read_events", "snake_case"]

#: Call types read, and the event name page-like calls become.
CALL_TYPES = ("identify", "track", "page", "screen", "alias")
_VIEW_EVENTS = {"page": "Page Viewed", "screen": "Screen Viewed"}
_TIMESTAMP_KEYS = ("timestamp", "originalTimestamp", "sentAt", "receivedAt")

#: Trait keys that feed golden fields, and which field each feeds.
_FIELD_TRAITS: dict[str, str] = {
    "email": "email",
    "phone": "phone",
    "firstName": "first_name",
    "first_name": "first_name",
    "lastName": "last_name",
    "last_name": "last_name",
    "birthday": "birth_date",
    "birth_date": "birth_date",
    "dateOfBirth": "birth_date",
}
_ADDRESS_PARTS: dict[str, str] = {
    "street": "street",
    "city": "city",
    "postalCode": "postcode",
    "postal_code": "postcode",
    "country": "country",
}
_PAGE_CONTEXT_KEYS = ("url", "path", "title", "referrer")
#: Timestamps of this shape are parsed for the whole file at once (`parse_timestamps`).
_ISO_SHAPE = re.compile(ISO_TIMESTAMP)
_PROPERTY_NAME = re.compile(PROPERTY_NAME_PATTERN)


class _Bad(Exception):
    """A line that cannot be ingested; `field` is the JSON key path at fault, if one is."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


def snake_case(name: str) -> str:
    """A trait key as a graph property name: `lifetimeValue` -> `lifetime_value`.

    Examples:
        >>> snake_case("lifetimeValue"), snake_case("HTTPStatus"), snake_case("Plan Name")
        ('lifetime_value', 'http_status', 'plan_name')
    """
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


_CONTROL = re.compile(CONTROL_CHARACTERS)


def _id(value: Any, name: str) -> str | None:
    """An id (user, anonymous, device, message): `_scalar_id`, refusing control characters,
    which would reach record keys and every export."""
    text = _scalar_id(value, name)
    if text is not None and _CONTROL.search(text):
        raise _Bad(f"{name} {CONTROL_IN_ID}", name)
    return text


def _scalar_id(value: Any, name: str) -> str | None:
    """An id given as a string or a number, as text; None when absent or blank."""
    if type(value) is str:
        return value.strip() or None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _Bad(f"{name} must be a string or a number", name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _object(parent: dict[str, Any], key: str, name: str) -> dict[str, Any]:
    """A nested object, or {} when absent; anything else is an error naming `name`."""
    value = parent.get(key)
    if type(value) is dict:
        return value
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Bad(f"{name} must be an object", name)
    return value


class _Profile:
    """Golden fields and traits read from a call's traits, with where each field came from."""

    __slots__ = ("fields", "full_name", "origin", "traits")

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.traits: dict[str, str] = {}
        self.origin: dict[str, str] = {}
        self.full_name: tuple[str, str, str] | None = None

    def set_field(self, name: str, value: Any, origin: str) -> None:
        text = _scalar_id(value, origin)
        if text is not None:
            self.fields[name] = text
            self.origin[name] = origin

    def read(self, traits: dict[str, Any], prefix: str) -> None:
        for key, value in traits.items():
            if key in _FIELD_TRAITS:
                self.set_field(_FIELD_TRAITS[key], value, f"{prefix}.{key}")
            elif key == "address" and isinstance(value, dict):
                for part, name in _ADDRESS_PARTS.items():
                    self.set_field(name, value.get(part), f"{prefix}.{key}.{part}")
            elif key == "name" and isinstance(value, str) and value.strip():
                first, _, last = value.strip().partition(" ")
                self.full_name = (first, last.strip(), f"{prefix}.{key}")
            elif isinstance(value, bool | int | float | str):
                name = snake_case(key)
                if not _PROPERTY_NAME.match(name) or value == "":
                    continue
                scalar = value if isinstance(value, bool | str) else float(value)
                self.traits[name] = orjson.dumps(scalar).decode()

    def finish(self) -> None:
        """Fill first and last name from `name` where they were not given on their own."""
        if self.full_name is None:
            return
        first, last, origin = self.full_name
        if "first_name" not in self.fields:
            self.set_field("first_name", first, origin)
        if last and "last_name" not in self.fields:
            self.set_field("last_name", last, origin)


#: A sighting row as `_Columns` keeps it: line, sub, key, kind, source_id, ts, deferred ISO
#: timestamp text, then the raw golden fields, their origins (JSON paths) and the raw ids.
_ROW_HEAD = ("line", "sub", "key", "kind", "source_id", "ts")


def _columns(rows: list[tuple[Any, ...]], schema: dict[str, Any]) -> pl.DataFrame:
    """Row tuples as a frame, built column by column (much faster than row by row)."""
    if not rows:
        return pl.DataFrame(schema=schema)
    return pl.DataFrame(
        [
            pl.Series(name, [row[position] for row in rows], dtype=dtype)
            for position, (name, dtype) in enumerate(schema.items())
        ]
    )


class _Columns:
    """What the kept calls of one input say, a tuple per row, turned into frames at the end."""

    def __init__(self, source: str) -> None:
        self.source = source
        #: Sighting rows without golden fields (most calls), and with them.
        self.plain: list[tuple[Any, ...]] = []
        self.rows: list[tuple[Any, ...]] = []
        self.traits: list[tuple[int, int, str, str]] = []
        self.events: list[tuple[int, str, str, int, str, str]] = []
        #: Per event property name, the kinds of value seen (`kind_of`).
        self.kinds: dict[str, set[str]] = {}
        self.links: list[tuple[int, str, str, str]] = []
        #: Per kept line, the reason a check after the record's normalization refused it.
        self.late: dict[int, tuple[str, str | None]] = {}
        #: (line, text, key) of timestamps parsed with the whole file (`times`).
        self.stamps: list[tuple[int, str, str]] = []
        self._times: pl.DataFrame | None = None

    def record(
        self,
        line: int,
        sub: int,
        kind: str,
        source_id: str,
        ts: int,
        ids: dict[str, str],
        profile: _Profile | None,
    ) -> str:
        key = record_key(self.source, source_id, kind)  # type: ignore[arg-type]
        head = (line, sub, key, kind, source_id, ts)
        get = ids.get
        id_values = (get("customer_id"), get("user_id"), get("anonymous_id"), get("device_id"))
        if profile is None or not profile.fields:
            self.plain.append(head + id_values)
        else:
            fields, origin = profile.fields.get, profile.origin.get
            values = tuple(fields(name) for name in FIELDS)
            origins = tuple(origin(name) for name in FIELDS)
            self.rows.append(head + values + origins + id_values)
        if profile is not None and profile.traits:
            self.traits.extend((line, sub, name, value) for name, value in profile.traits.items())
        return key

    def event(
        self, line: int, event_id: str, name: str, ts: int, key: str, properties: dict[str, Any]
    ) -> None:
        text = orjson.dumps(properties, option=orjson.OPT_SORT_KEYS).decode()
        self.events.append((line, event_id, name, ts, key, text))
        kinds = self.kinds
        for prop, value in properties.items():
            seen = kinds.get(prop)
            if seen is None:
                kinds[prop] = {kind_of(value)}
            elif len(seen) == 1 and type(value) is str and "string" in seen:
                continue
            else:
                seen.add(kind_of(value))

    def link(self, line: int, a: str, b: str, rule: str) -> None:
        first, second = sorted((a, b))
        if first != second:
            self.links.append((line, first, second, rule))

    def times(self) -> pl.DataFrame:
        """The timestamps left for the whole file, parsed once: line, ts, reason, key."""
        if self._times is None:
            frame = pl.DataFrame(
                self.stamps, schema={"line": pl.Int64, "raw": pl.Utf8, "key": pl.Utf8}, orient="row"
            )
            parsed, reasons = parse_timestamps(frame["raw"])
            self._times = frame.select("line", parsed.alias("_ts"), reasons.alias("reason"), "key")
        return self._times

    def _timed(self, frame: pl.DataFrame) -> pl.DataFrame:
        if not self.stamps or frame.height == 0:
            return frame
        times = self.times().select("line", "_ts")
        return (
            frame.join(times, on="line", how="left", maintain_order="left")
            .with_columns(pl.coalesce("_ts", "ts").alias("ts"))
            .drop("_ts")
        )

    def sightings(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The sightings (raw values, ts parsed) and the origin of each field."""
        names = [*_ROW_HEAD, *FIELDS, *(f"_from_{f}" for f in FIELDS), *RAW_ID_KINDS]
        schema = {**{name: SIGHTINGS.get(name, pl.Utf8) for name in names}, "sub": pl.Int8}
        plain = [*_ROW_HEAD, *RAW_ID_KINDS]
        frame = pl.concat(
            [
                _columns(self.plain, {name: schema[name] for name in plain}),
                _columns(self.rows, schema),
            ],
            how="diagonal",
        ).sort("line", "sub")
        frame = self._timed(frame).with_columns(pl.lit(self.source).alias("source"))
        for name in [*FIELDS, *(f"_from_{f}" for f in FIELDS)]:
            if name not in frame.columns:
                frame = frame.with_columns(pl.lit(None, dtype=pl.Utf8).alias(name))
        origins = frame.select([pl.col(f"_from_{f}").alias(f) for f in FIELDS])
        return frame.select(list(SIGHTINGS)), origins

    def events_frame(self) -> pl.DataFrame:
        schema = {
            "line": pl.Int64,
            "id": pl.Utf8,
            "name": pl.Utf8,
            "ts": pl.Int64,
            "record_key": pl.Utf8,
            "properties": pl.Utf8,
        }
        frame = self._timed(_columns(self.events, schema))
        return frame.with_columns(pl.lit(self.source).alias("source")).select(list(EVENTS))


class _EventReader:
    """Checks calls and appends what they say to `_Columns`."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.columns = _Columns(source)

    def parse(self, text: str | bytes, line: int) -> None:
        try:
            call = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise _Bad(f"invalid JSON: {exc}") from None
        self.parse_call(call, line)

    def parse_call(self, call: Any, line: int) -> None:
        if not isinstance(call, dict):
            raise _Bad("not a JSON object")
        call_type = call.get("type")
        if not isinstance(call_type, str) or not call_type.strip():
            raise _Bad("missing type (a string: one of " + ", ".join(CALL_TYPES) + ")", "type")
        kind = call_type.strip().lower()
        if kind == "group":
            raise _Bad("unsupported type group", "type")
        if kind not in CALL_TYPES:
            raise _Bad(
                f"unknown type {call_type!r}; expected one of {', '.join(CALL_TYPES)}", "type"
            )
        user_id = _id(call.get("userId"), "userId")
        anonymous_id = _id(call.get("anonymousId"), "anonymousId")
        ts = self.timestamp(call, line)
        if kind == "alias":
            self.alias(call, user_id, ts, line)
            return
        if user_id is None and anonymous_id is None:
            raise _Bad("missing userId and anonymousId (one of them is required)", "userId")

        context = _object(call, "context", "context")
        shared = _object(context, "traits", "context.traits")
        own = _object(call, "traits", "traits") if kind == "identify" else None
        profile = None
        if shared or own:
            profile = _Profile()
            profile.read(shared, "context.traits")
            if own:
                profile.read(own, "traits")
            profile.finish()
        ids: dict[str, str] = {}
        if anonymous_id is not None:
            ids["anonymous_id"] = anonymous_id
        device_id = _id(_object(context, "device", "context.device").get("id"), "context.device.id")
        if device_id is not None:
            ids["device_id"] = device_id
        columns = self.columns
        if user_id is not None:
            ids["user_id"] = user_id
            key = columns.record(line, 0, "user", user_id, ts, ids, profile)
        else:
            assert anonymous_id is not None
            key = columns.record(line, 0, "anonymous", anonymous_id, ts, ids, profile)
        if kind == "identify":
            return
        try:
            event_id, name, properties = self.event(call, kind, context)
        except _Bad as exc:
            columns.late[line] = (exc.reason, exc.field)
            return
        columns.event(line, event_id, name, ts, key, properties)

    def timestamp(self, call: dict[str, Any], line: int) -> int:
        """Epoch ms of the call; 0 stands in for a plain ISO value parsed with the file."""
        for key in _TIMESTAMP_KEYS:
            value = call.get(key)
            if value is None or value == "":
                continue
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise _Bad("must be an ISO 8601 string or an epoch number", key)
            if isinstance(value, str) and _ISO_SHAPE.match(value):
                self.columns.stamps.append((line, value, key))
                return 0
            try:
                return parse_timestamp(value)
            except FieldError as exc:
                raise _Bad(exc.reason, key) from None
        raise _Bad(
            "missing timestamp (also looked for originalTimestamp, sentAt, receivedAt)",
            "timestamp",
        )

    def event(
        self, call: dict[str, Any], kind: str, context: dict[str, Any]
    ) -> tuple[str, str, dict[str, Any]]:
        properties = dict(_object(call, "properties", "properties"))
        if kind == "track":
            name = call.get("event")
            if not isinstance(name, str) or not name.strip():
                raise _Bad("track call without an event name", "event")
            name = name.strip()
        else:
            name = _VIEW_EVENTS[kind]
            for extra in ("name", "category"):
                if isinstance(call.get(extra), str):
                    properties.setdefault(extra, call[extra])
            page = context.get("page")
            if isinstance(page, dict):
                for extra in _PAGE_CONTEXT_KEYS:
                    if page.get(extra) is not None:
                        properties.setdefault(extra, page[extra])
        message_id = _id(call.get("messageId"), "messageId")
        if message_id is None:
            canonical = orjson.dumps(call, option=orjson.OPT_SORT_KEYS)
            message_id = hashlib.sha1(canonical).hexdigest()[:20]
        return f"{self.source}:{message_id}", name, properties

    def alias(self, call: dict[str, Any], user_id: str | None, ts: int, line: int) -> None:
        """`previousId` becomes a record of its own, linked to the user by the alias.

        Whether `previousId` was an anonymous visitor or an earlier login cannot be told from
        one call, and guessing from the rest of the file would make the grouping depend on how
        the stream is cut. So the previous id's record carries it both as a user id and as an
        anonymous id: it joins the visitor's records through the anonymous id, or the earlier
        login's through the user id, whichever arrives, in any order.
        """
        previous_id = _id(call.get("previousId"), "previousId")
        if previous_id is None:
            raise _Bad("alias call without previousId", "previousId")
        if user_id is None:
            raise _Bad("alias call without userId", "userId")
        columns = self.columns
        user = columns.record(line, 0, "user", user_id, ts, {"user_id": user_id}, None)
        previous = columns.record(
            line,
            1,
            "user",
            previous_id,
            ts,
            {"user_id": previous_id, "anonymous_id": previous_id},
            None,
        )
        columns.link(line, previous, user, "alias")

    def deferred_timestamps(self) -> dict[int, tuple[str, str | None]]:
        """Lines whose timestamp, left for the whole file, does not parse: the reason,
        as `timestamp` would have refused them."""
        if not self.columns.stamps:
            return {}
        bad = self.columns.times().filter(pl.col("reason").is_not_null())
        return {
            line: (reason, key)
            for line, reason, key in bad.select("line", "reason", "key").iter_rows()
        }

    def batch(
        self, builder: BatchBuilder, options: NormalizeOptions, raw_text: RawText
    ) -> SourceBatch:
        """Normalize what the kept calls said, reject calls whose values are unusable, and
        return the file's frames."""
        columns = self.columns
        early = self.deferred_timestamps()
        sightings, origins = columns.sightings()
        normalized = normalize_sightings(sightings, options)
        where = normalized.select(
            pl.col("line"),
            pl.col(PROBLEM_REASON).alias("why"),
            pl.coalesce(
                [pl.when(pl.col(PROBLEM_FIELD) == name).then(origins[name]) for name in FIELDS]
                + [pl.col(PROBLEM_FIELD)]
            ).alias("field"),
        ).filter(pl.col("why").is_not_null())
        first = where.group_by("line", maintain_order=True).first()
        problems: dict[int, tuple[str, str | None]] = {
            line: (f"{field}: {why}", field)
            for line, why, field in first.select("line", "why", "field").iter_rows()
        }
        problems = {**problems, **early}
        for line, late in columns.late.items():
            problems.setdefault(line, late)
        bad = sorted(problems)
        builder.reject_kept(
            pl.DataFrame(
                {
                    "line": bad,
                    "field": [problems[line][1] for line in bad],
                    "reason": [problems[line][0] for line in bad],
                },
                schema={"line": pl.Int64, "field": pl.Utf8, "reason": pl.Utf8},
            ),
            raw_text,
        )
        keep = ~pl.col("line").is_in(bad)
        batch = SourceBatch.empty(builder.counts)
        batch.sightings = normalized.drop(PROBLEM_FIELD, PROBLEM_REASON).filter(keep)
        batch.traits = (
            _columns(columns.traits, dict(TRAITS))
            .filter(keep)
            .unique(subset=["line", "sub", "name"], keep="last", maintain_order=True)
        )
        events = columns.events_frame().filter(keep)
        batch.events = events.unique(subset=["id"], keep="first", maintain_order=True)
        batch.event_properties = long_properties(
            batch.events.select("id", "properties"), columns.kinds
        )
        batch.links = (
            _columns(columns.links, dict(LINKS))
            .filter(keep)
            .unique(subset=["a", "b", "rule"], keep="first", maintain_order=True)
        )
        return batch


def read_events(
    path: Path,
    *,
    source: str,
    options: NormalizeOptions,
    rejects: RejectsWriter,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    progress: Progress | None = None,
) -> SourceBatch:
    """Read a JSON Lines event stream into sightings, events and alias links.

    Args:
        path: the `.jsonl` / `.ndjson` / `.json` file, one call per line.
        source: the source name its records and events carry.
        options: normalization options for the fields found in traits.
        rejects: where lines that cannot be ingested go, with their line and JSON field.
        max_line_bytes: longer lines are rejected unparsed.
        progress: called with ("bytes", read, file size) after each block read, then
            ("rows normalized", done, rows) around normalizing the parsed lines.

    Returns:
        The file's batch; its counts reconcile.

    Raises:
        InputError: the file cannot be read.
    """
    builder = BatchBuilder(path, source, rejects)
    size = path.stat().st_size if progress is not None else 0
    reader = _EventReader(source)
    blank: list[RawLine] = []
    spans: dict[int, tuple[int, int]] = {}
    on_bytes = None if progress is None else bytes_of(progress, size)
    for line in read_lines(path, max_line_bytes=max_line_bytes, on_bytes=on_bytes):
        if line.blank:
            blank.append(line)
            continue
        for held in blank:
            builder.reject(held.number, "blank line", raw=held.data)
        blank.clear()
        if line.too_long:
            builder.reject(
                line.number,
                f"line too long: {line.size} bytes, limit {max_line_bytes}",
                raw=line.data,
                total_bytes=line.size,
            )
            continue
        binary = nul_problem(line.data)
        if binary:
            builder.reject(line.number, binary, raw=line.data)
            continue
        try:
            reader.parse(decode_line(line), line.number)
        except UnicodeDecodeError as exc:
            builder.reject(line.number, utf8_problem(exc), raw=line.data)
            continue
        except _Bad as exc:
            builder.reject(line.number, exc.reason, field=exc.field, raw=line.data)
            continue
        spans[line.number] = (line.offset, line.size)
        builder.read_lines()
    if progress is not None:
        progress("bytes", size, size)
        progress("rows normalized", 0, len(spans))
    batch = reader.batch(builder, options, _file_text(path, spans))
    builder.finish()
    if progress is not None:
        progress("rows normalized", len(spans), len(spans))
    return batch


def _file_text(path: Path, spans: dict[int, tuple[int, int]]) -> RawText:
    def fetch(lines: Sequence[int]) -> dict[int, bytes]:
        found: dict[int, bytes] = {}
        with path.open("rb") as f:
            for line in sorted(set(lines)):
                start, size = spans[line]
                f.seek(start)
                found[line] = f.read(size)
        return found

    return fetch


def read_event_calls(
    calls: Sequence[object],
    *,
    label: str,
    source: str,
    options: NormalizeOptions,
    rejects: RejectsWriter,
    max_call_bytes: int | None = None,
    sizes: Sequence[int] | None = None,
) -> SourceBatch:
    """Read calls held in memory (an HTTP request's) as `read_events` reads a file's lines.

    A `bytes` item is one call's JSON text, parsed here (so a syntax error becomes a reject
    naming it); any other item is an already-parsed JSON value, which must be an object.

    Args:
        calls: the calls, in order; the n-th is "line" n in rejects and counts.
        label: stands in for the file path in rejects and counts, e.g. `http:/v1/batch#id`.
        source: the source name its records and events carry.
        options: normalization options for the fields found in traits.
        rejects: where calls that cannot be ingested go, with their number and JSON field.
        max_call_bytes: calls whose JSON is longer are rejected unparsed.
        sizes: each call's size as received, when the items were changed since (e.g. the
            service stamps `receivedAt`); default the length of each item's JSON.

    Returns:
        The calls' batch; its counts reconcile (read = ingested + rejected = len(calls)).
    """
    builder = BatchBuilder(Path(label), source, rejects)
    reader = _EventReader(source)
    raws: dict[int, bytes] = {}
    for number, item in enumerate(calls, start=1):
        raw = item if isinstance(item, bytes) else orjson.dumps(item)
        size = len(raw) if sizes is None else sizes[number - 1]
        if max_call_bytes is not None and size > max_call_bytes:
            builder.reject(
                number,
                f"call too large: {size} bytes, limit {max_call_bytes}",
                raw=raw,
                total_bytes=len(raw),
            )
            continue
        try:
            if isinstance(item, bytes):
                reader.parse(item.decode("utf-8-sig"), number)
            else:
                reader.parse_call(item, number)
        except UnicodeDecodeError as exc:
            builder.reject(number, utf8_problem(exc), raw=raw)
            continue
        except _Bad as exc:
            builder.reject(number, exc.reason, field=exc.field, raw=raw)
            continue
        raws[number] = raw
        builder.read_lines()
    batch = reader.batch(builder, options, lambda lines: {n: raws[n] for n in lines})
    builder.finish()
    return batch
