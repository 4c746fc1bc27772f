"""Event streams in the Segment / RudderStack tracking spec, one JSON call per line, into columns.

Each identity a stream mentions becomes one record: a logged-in `userId`, or an `anonymousId`
seen without one. Calls that carry both put the anonymous id on the user's record as an
identifier, which is how a visitor's anonymous history is stitched to the person once they log in.

Lines are parsed a run at a time and their calls read a chunk at a time: the plain ones into
columns at once (`jsonl_columns`), the others through the call-by-call checker here, which
rejects a call at the first rule it breaks (type, ids, timestamp, nested objects, in that
order; `jsonl_calls` holds the rules). What the kept calls say is normalized for the whole file
at once when it is read: a value that turns out unusable (a trait email that is not one, a
future birth date, a device id of the wrong type) is dropped from its call and becomes a
`field` reject, the rest of the call is kept; a call carrying an erased identifier is
rejected whole then.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from idgraph.errors import FieldError
from idgraph.frames import EVENTS, FIELDS, GROUPS, LINKS, SIGHTINGS, TRAITS
from idgraph.ingest.collect import DROPPED_VALUES, BatchBuilder, RawText, SourceBatch
from idgraph.ingest.jsonl_calls import (
    CALL_TYPES,
    EVENT_ROW,
    TIMESTAMP_KEYS,
    VIEW_EVENTS,
    BadCall,
    Profile,
    account_traits,
    add_view_properties,
    checked_id,
    json_text,
    nested_object,
    snake_case,
)
from idgraph.ingest.jsonl_columns import plain_calls, sighting_schema
from idgraph.ingest.lines import (
    DEFAULT_MAX_LINE_BYTES,
    RawLine,
    nul_problem,
    read_line_runs,
    read_lines,
    utf8_problem,
)
from idgraph.ingest.properties import kind_of, long_properties
from idgraph.ingest.rejects import RejectsWriter
from idgraph.models import record_key
from idgraph.normalize.fields import parse_timestamp
from idgraph.normalize.record import NormalizeOptions
from idgraph.normalize.sightings import (
    PROBLEM_FIELD,
    PROBLEM_REASON,
    NormalizedSightings,
    normalize_sightings,
)
from idgraph.stages import Progress, bytes_of, no_gc

__all__ = ["CALL_TYPES", "read_event_calls", "read_events", "snake_case"]

#: Calls parsed before a chunk is read into columns.
CHUNK_CALLS = 1 << 15


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
    """What the kept calls of one input say: frames of the plain calls' chunks, and a tuple
    per row for the calls the call-by-call checker kept."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sighting_parts: list[pl.DataFrame] = []
        self.trait_parts: list[pl.DataFrame] = []
        self.event_parts: list[pl.DataFrame] = []
        self.rows: list[tuple[Any, ...]] = []
        self.traits: list[tuple[int, int, str, str]] = []
        self.events: list[tuple[int, str, str, int, str, str]] = []
        #: Per event property name, the kinds of value seen (`kind_of`).
        self.kinds: dict[str, set[str]] = {}
        self.links: list[tuple[int, str, str, str]] = []
        self.groups: list[tuple[int, str, str, int, str]] = []
        #: Per kept line, the reason a check after the record's normalization refused it.
        self.late: dict[int, tuple[str, str | None]] = {}
        #: Values left out of the kept calls: (line, JSON key path, reason, value as JSON).
        self.dropped: list[tuple[int, str, str, str]] = []

    def record(
        self,
        line: int,
        sub: int,
        kind: str,
        source_id: str,
        ts: int,
        ids: dict[str, str],
        profile: Profile | None,
        dropped: Sequence[tuple[str, str, str]] = (),
    ) -> str:
        key = record_key(self.source, source_id, kind)  # type: ignore[arg-type]
        self.dropped.extend((line, *value) for value in dropped)
        if profile is not None:
            self.dropped.extend((line, *value) for value in profile.dropped)
        get = ids.get
        id_values = (get("customer_id"), get("user_id"), get("anonymous_id"), get("device_id"))
        fields: tuple[str | None, ...] = (None,) * (2 * len(FIELDS))
        if profile is not None and profile.fields:
            value, origin = profile.fields.get, profile.origin.get
            fields = tuple(value(name) for name in FIELDS) + tuple(origin(name) for name in FIELDS)
        self.rows.append((line, sub, key, kind, source_id, ts, *fields, *id_values))
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
            kinds.setdefault(prop, set()).add(kind_of(value))

    def link(self, line: int, a: str, b: str, rule: str) -> None:
        first, second = sorted((a, b))
        if first != second:
            self.links.append((line, first, second, rule))

    def sightings(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The sightings (raw values) and the origin of each field."""
        frame = pl.concat(
            [*self.sighting_parts, _columns(self.rows, sighting_schema())], how="vertical"
        )
        frame = frame.sort("line", "sub").with_columns(pl.lit(self.source).alias("source"))
        origins = frame.select([pl.col(f"_from_{f}").alias(f) for f in FIELDS])
        return frame.select(list(SIGHTINGS)), origins

    def traits_frame(self) -> pl.DataFrame:
        parts = [*self.trait_parts, _columns(self.traits, dict(TRAITS))]
        return pl.concat(parts).sort("line", maintain_order=True)

    def events_frame(self) -> pl.DataFrame:
        frame = pl.concat([*self.event_parts, _columns(self.events, EVENT_ROW)]).sort("line")
        return frame.with_columns(pl.lit(self.source).alias("source")).select(list(EVENTS))


class _EventReader:
    """Reads parsed calls a chunk at a time: the plain ones into columns (`plain_calls`), the
    others through the call-by-call checker, which rejects them naming the field at fault or
    appends what they say to `_Columns`."""

    def __init__(self, source: str, builder: BatchBuilder) -> None:
        self.source = source
        self.builder = builder
        self.columns = _Columns(source)
        self._calls: list[Any] = []
        self._lines: list[int] = []
        self._raws: list[bytes] = []

    def add(self, calls: list[Any], lines: Sequence[int], raws: list[bytes]) -> None:
        """Take parsed calls, their lines and their texts (for a reject)."""
        self._calls.extend(calls)
        self._lines.extend(lines)
        self._raws.extend(raws)
        if len(self._calls) >= CHUNK_CALLS:
            self.flush()

    def flush(self) -> None:
        """Read the calls taken since the last flush."""
        calls, lines, raws = self._calls, self._lines, self._raws
        if not calls:
            return
        self._calls, self._lines, self._raws = [], [], []
        columns = self.columns
        plain = plain_calls(calls, lines, self.source, columns.kinds)
        columns.sighting_parts.append(plain.sightings)
        columns.trait_parts.append(plain.traits)
        columns.event_parts.append(plain.events)
        kept = len(calls) - len(plain.others)
        for position in plain.others:
            try:
                self.parse_call(calls[position], lines[position])
            except BadCall as exc:
                self.builder.reject(
                    lines[position], exc.reason, field=exc.field, raw=raws[position]
                )
                continue
            kept += 1
        self.builder.read_lines(kept)

    def parse_call(self, call: Any, line: int) -> None:
        """Check one call as the rules say, in their order; raise `BadCall` at the first
        broken rule, else append what the call says to the columns."""
        if not isinstance(call, dict):
            raise BadCall("not a JSON object")
        call_type = call.get("type")
        if not isinstance(call_type, str) or not call_type.strip():
            raise BadCall("missing type (a string: one of " + ", ".join(CALL_TYPES) + ")", "type")
        kind = call_type.strip().lower()
        if kind not in CALL_TYPES:
            raise BadCall(
                f"unknown type {call_type!r}; expected one of {', '.join(CALL_TYPES)}", "type"
            )
        user_id = checked_id(call.get("userId"), "userId")
        anonymous_id = checked_id(call.get("anonymousId"), "anonymousId")
        ts = self.timestamp(call)
        if kind == "alias":
            self.alias(call, user_id, ts, line)
            return
        if user_id is None and anonymous_id is None:
            raise BadCall("missing userId and anonymousId (one of them is required)", "userId")
        group: tuple[str, str] | None = None
        if kind == "group":
            account = checked_id(call.get("groupId"), "groupId")
            if account is None:
                raise BadCall("group call without groupId", "groupId")
            group = account, account_traits(nested_object(call, "traits", "traits"))

        context = nested_object(call, "context", "context")
        shared = nested_object(context, "traits", "context.traits")
        own = nested_object(call, "traits", "traits") if kind == "identify" else None
        profile = Profile.of(shared, own) if shared or own else None
        ids: dict[str, str] = {}
        if anonymous_id is not None:
            ids["anonymous_id"] = anonymous_id
        device = nested_object(context, "device", "context.device")
        dropped: list[tuple[str, str, str]] = []
        try:
            device_id = checked_id(device.get("id"), "context.device.id")
        except BadCall as exc:  # an optional identifier: the call goes on without it
            dropped.append(("context.device.id", exc.reason, json_text(device.get("id"))))
            device_id = None
        if device_id is not None:
            ids["device_id"] = device_id
        columns = self.columns
        if user_id is not None:
            ids["user_id"] = user_id
            key = columns.record(line, 0, "user", user_id, ts, ids, profile, dropped)
        else:
            assert anonymous_id is not None
            key = columns.record(line, 0, "anonymous", anonymous_id, ts, ids, profile, dropped)
        if kind == "identify":
            return
        if group is not None:
            columns.groups.append((line, key, group[0], ts, group[1]))
            return
        try:
            event_id, name, properties = self.event(call, kind, context)
        except BadCall as exc:
            columns.late[line] = (exc.reason, exc.field)
            return
        columns.event(line, event_id, name, ts, key, properties)

    @staticmethod
    def timestamp(call: dict[str, Any]) -> int:
        """Epoch ms of the call, from the first timestamp key it holds."""
        for key in TIMESTAMP_KEYS:
            value = call.get(key)
            if value is None or value == "":
                continue
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise BadCall("must be an ISO 8601 string or an epoch number", key)
            try:
                return parse_timestamp(value)
            except FieldError as exc:
                raise BadCall(exc.reason, key) from None
        raise BadCall(
            "missing timestamp (also looked for originalTimestamp, sentAt, receivedAt)",
            "timestamp",
        )

    def event(
        self, call: dict[str, Any], kind: str, context: dict[str, Any]
    ) -> tuple[str, str, dict[str, Any]]:
        properties = dict(nested_object(call, "properties", "properties"))
        if kind == "track":
            name = call.get("event")
            if not isinstance(name, str) or not name.strip():
                raise BadCall("track call without an event name", "event")
            name = name.strip()
        else:
            name = VIEW_EVENTS[kind]
            add_view_properties(call, context, properties)
        message_id = checked_id(call.get("messageId"), "messageId")
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
        previous_id = checked_id(call.get("previousId"), "previousId")
        if previous_id is None:
            raise BadCall("alias call without previousId", "previousId")
        if user_id is None:
            raise BadCall("alias call without userId", "userId")
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

    def batch(self, options: NormalizeOptions, raw_text: RawText) -> SourceBatch:
        """Normalize what the kept calls said, reject calls that carry an erased identifier
        (or broke a rule checked after their record), list the values dropped from the
        others, and return the file's frames."""
        self.flush()
        builder = self.builder
        columns = self.columns
        sightings, origins = columns.sightings()
        normalized = normalize_sightings(sightings, options)
        lines = normalized.frame["line"]
        erased = normalized.frame.select(
            pl.col("line"),
            pl.col(PROBLEM_REASON).alias("why"),
            pl.coalesce(
                [pl.when(pl.col(PROBLEM_FIELD) == name).then(origins[name]) for name in FIELDS]
                + [pl.col(PROBLEM_FIELD)]
            ).alias("field"),
        ).filter(pl.col("why").is_not_null())
        first = erased.group_by("line", maintain_order=True).first()
        problems: dict[int, tuple[str, str | None]] = {
            line: (f"{field}: {why}", field)
            for line, why, field in first.select("line", "why", "field").iter_rows()
        }
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
        builder.drop_values(_dropped(normalized, lines, origins, columns.dropped).filter(keep))
        batch = SourceBatch.empty(builder.counts)
        batch.sightings = normalized.frame.drop(PROBLEM_FIELD, PROBLEM_REASON).filter(keep)
        batch.traits = (
            columns.traits_frame()
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
        batch.groups = _columns(columns.groups, dict(GROUPS)).filter(keep)
        return batch


def _dropped(
    normalized: NormalizedSightings,
    lines: pl.Series,
    origins: pl.DataFrame,
    checked: list[tuple[int, str, str, str]],
) -> pl.DataFrame:
    """The values dropped from the calls, by line: those normalizing refused, named by the
    JSON key path they came from, and those the call-by-call checker left out."""
    parts = [pl.DataFrame(checked, schema=DROPPED_VALUES, orient="row")]
    dropped = normalized.dropped
    for field_name, part in dropped.group_by("field", maintain_order=True):
        name = str(field_name[0])
        origin = origins[name].gather(part["row"])
        parts.append(
            pl.DataFrame(
                {
                    "line": lines.gather(part["row"]),
                    "field": origin,
                    "reason": pl.select(pl.lit(origin) + ": " + pl.lit(part["reason"])).to_series(),
                    "raw": part["raw"],
                }
            )
        )
    return pl.concat(parts).sort("line", maintain_order=True)


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
    on_bytes = None if progress is None else bytes_of(progress, size)
    reader = _EventReader(source, builder)
    blank: list[RawLine] = []
    with no_gc():
        for item in read_line_runs(path, max_line_bytes=max_line_bytes, on_bytes=on_bytes):
            if isinstance(item, RawLine) and item.blank:
                blank.append(item)
                continue
            for held in blank:
                builder.reject(held.number, "blank line", raw=held.data)
            blank.clear()
            if not isinstance(item, RawLine):
                first, datas = item
                _parse_run(reader, builder, first, datas)
            elif item.too_long:
                builder.reject(
                    item.number,
                    f"line too long: {item.size} bytes, limit {max_line_bytes}",
                    raw=item.data,
                    total_bytes=item.size,
                )
            else:
                _parse_run(reader, builder, item.number, [item.data])
        reader.flush()
        kept = builder.counts.ingested
        if progress is not None:
            progress("bytes", size, size)
            progress("rows normalized", 0, kept)
        batch = reader.batch(options, _file_text(path, max_line_bytes))
    builder.finish()
    if progress is not None:
        progress("rows normalized", kept, kept)
    return batch


def _parse_run(reader: _EventReader, builder: BatchBuilder, first: int, datas: list[bytes]) -> None:
    """Parse consecutive lines and hand their calls to `reader`; reject those that are not
    JSON (or not UTF-8, or hold a NUL byte)."""
    lines = range(first, first + len(datas))
    try:
        calls = [orjson.loads(data) for data in datas]
    except orjson.JSONDecodeError:
        calls, kept, raws = [], [], []
        for number, data in zip(lines, datas, strict=True):
            try:
                calls.append(orjson.loads(data))
            except orjson.JSONDecodeError:
                problem = _unparsed(number, data)
                if isinstance(problem, str):
                    builder.reject(number, problem, raw=data)
                    continue
                calls.append(problem[0])
            kept.append(number)
            raws.append(data)
        reader.add(calls, kept, raws)
        return
    reader.add(calls, lines, datas)


def _unparsed(number: int, data: bytes) -> str | tuple[Any]:
    """Why a line the parser refused is rejected, checked in order (NUL byte, UTF-8, JSON),
    or the call it holds after all (behind a byte-order mark on line 1)."""
    binary = nul_problem(data)
    if binary:
        return binary
    try:
        text = data.decode("utf-8-sig" if number == 1 else "utf-8")
        return (orjson.loads(text),)
    except UnicodeDecodeError as exc:
        return utf8_problem(exc)
    except orjson.JSONDecodeError as exc:
        return f"invalid JSON: {exc}"


def _file_text(path: Path, max_line_bytes: int) -> RawText:
    """The text of kept lines, read again from the file when some are rejected late."""

    def fetch(numbers: Sequence[int]) -> dict[int, bytes]:
        wanted = set(numbers)
        found: dict[int, bytes] = {}
        for line in read_lines(path, max_line_bytes=max_line_bytes):
            if line.number in wanted:
                found[line.number] = line.data
                if len(found) == len(wanted):
                    break
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
    reader = _EventReader(source, builder)
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
        call: Any = item
        if isinstance(item, bytes):
            try:
                call = orjson.loads(item.decode("utf-8-sig"))
            except UnicodeDecodeError as exc:
                builder.reject(number, utf8_problem(exc), raw=raw)
                continue
            except orjson.JSONDecodeError as exc:
                builder.reject(number, f"invalid JSON: {exc}", raw=raw)
                continue
        raws[number] = raw
        reader.add([call], [number], [raw])
    with no_gc():
        batch = reader.batch(options, lambda lines: {n: raws[n] for n in lines})
    builder.finish()
    return batch


@dataclass(frozen=True, slots=True)
class CallCheck:
    """What the call-by-call checks say of calls held in memory, before any value is normalized.

    `refused` holds (number, reason, field) of each call `read_event_calls` would refuse for
    its shape, in order; `record_keys` the keys of the records the other calls make.
    """

    refused: list[tuple[int, str, str | None]]
    record_keys: list[str]


def check_event_calls(
    calls: Sequence[object],
    *,
    source: str,
    max_call_bytes: int | None = None,
    sizes: Sequence[int] | None = None,
) -> CallCheck:
    """Run the checks of `read_event_calls` that need no columns: size, JSON, type, ids,
    timestamp, event name, the nested objects. It builds no frame, so it is cheap enough for
    every HTTP request (the service answers with it and resolves later).

    What it leaves to `read_event_calls` is what needs the columnar normalizer: a call that
    carries an identifier erased at a person's request (refused then), and a trait value that
    is not usable (an email that is not one: dropped then, the call kept). The reasons are
    those `read_event_calls` gives, word for word.
    """
    reader = _EventReader(source, BatchBuilder(Path(source), source, RejectsWriter(None)))
    refused: list[tuple[int, str, str | None]] = []
    for number, item in enumerate(calls, start=1):
        raw = item if isinstance(item, bytes) else None
        size = sizes[number - 1] if sizes is not None else None
        if size is None and max_call_bytes is not None:
            size = len(raw if raw is not None else orjson.dumps(item))
        if max_call_bytes is not None and size is not None and size > max_call_bytes:
            refused.append((number, f"call too large: {size} bytes, limit {max_call_bytes}", None))
            continue
        call: Any = item
        if raw is not None:
            try:
                call = orjson.loads(raw.decode("utf-8-sig"))
            except UnicodeDecodeError as exc:
                refused.append((number, utf8_problem(exc), None))
                continue
            except orjson.JSONDecodeError as exc:
                refused.append((number, f"invalid JSON: {exc}", None))
                continue
        try:
            reader.parse_call(call, number)
        except BadCall as exc:
            refused.append((number, exc.reason, exc.field))
    columns = reader.columns
    refused.extend((line, reason, field) for line, (reason, field) in columns.late.items())
    refused.sort(key=lambda item: item[0])
    late = set(columns.late)
    keys = dict.fromkeys(row[2] for row in columns.rows if row[0] not in late)
    return CallCheck(refused, list(keys))
