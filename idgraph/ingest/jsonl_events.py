"""Event streams in the Segment / RudderStack tracking spec, one JSON call per line.

Each identity a stream mentions becomes one record: a logged-in `userId`, or an `anonymousId`
seen without one. Calls that carry both put the anonymous id on the user's record as an
identifier, which is how a visitor's anonymous history is stitched to the person once they log in.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from idgraph.errors import FieldError
from idgraph.ingest.collect import BatchBuilder, SourceBatch
from idgraph.ingest.lines import (
    DEFAULT_MAX_LINE_BYTES,
    RawLine,
    decode_line,
    read_lines,
    utf8_problem,
)
from idgraph.ingest.mapping import PROPERTY_NAME_PATTERN
from idgraph.ingest.rejects import RejectsWriter
from idgraph.models import Event, Link, Record, SourceRecord
from idgraph.normalize.fields import parse_timestamp
from idgraph.normalize.record import NormalizeOptions, to_record
from idgraph.types import IdentifierKind, RecordKind, TraitValue

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


def _scalar_id(value: Any, name: str) -> str | None:
    """An id given as a string or a number, as text; None when absent or blank."""
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
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Bad(f"{name} must be an object", name)
    return value


@dataclass(slots=True)
class _Profile:
    """Golden fields and traits read from a call's traits, with where each field came from."""

    fields: dict[str, str] = field(default_factory=dict)
    traits: dict[str, TraitValue] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)
    full_name: tuple[str, str, str] | None = None

    def set_field(self, name: str, value: Any, origin: str) -> None:
        text = _scalar_id(value, origin)
        if text is not None:
            self.fields[name] = text
            self.origin[name] = origin

    def read(self, traits: dict[str, Any], prefix: str) -> None:
        for key, value in traits.items():
            path = f"{prefix}.{key}"
            if key in _FIELD_TRAITS:
                self.set_field(_FIELD_TRAITS[key], value, path)
            elif key == "address" and isinstance(value, dict):
                for part, name in _ADDRESS_PARTS.items():
                    self.set_field(name, value.get(part), f"{path}.{part}")
            elif key == "name" and isinstance(value, str) and value.strip():
                first, _, last = value.strip().partition(" ")
                self.full_name = (first, last.strip(), path)
            elif isinstance(value, bool | int | float | str):
                name = snake_case(key)
                if not _PROPERTY_NAME.match(name) or value == "":
                    continue
                self.traits[name] = value if isinstance(value, bool | str) else float(value)

    def finish(self) -> None:
        """Fill first and last name from `name` where they were not given on their own."""
        if self.full_name is None:
            return
        first, last, origin = self.full_name
        if "first_name" not in self.fields:
            self.set_field("first_name", first, origin)
        if last and "last_name" not in self.fields:
            self.set_field("last_name", last, origin)


@dataclass(slots=True)
class _Call:
    """What one valid line says, before it becomes records, events and links."""

    records: list[Record]
    events: list[Event]


class _EventReader:
    def __init__(
        self, path: Path | str, source: str, options: NormalizeOptions, builder: BatchBuilder
    ) -> None:
        self.path = str(path)
        self.source = source
        self.options = options
        self.builder = builder
        self.aliases: list[Link] = []

    def record(
        self,
        line: int,
        kind: RecordKind,
        source_id: str,
        ts: int,
        identifiers: list[tuple[IdentifierKind, str]],
        profile: _Profile | None = None,
    ) -> Record:
        profile = profile or _Profile()
        src = SourceRecord(
            path=self.path,
            line=line,
            source=self.source,
            source_id=source_id,
            kind=kind,
            ts=ts,
            fields=profile.fields,
            raw_identifiers=identifiers,
            traits=profile.traits,
        )
        try:
            return to_record(src, self.options)
        except FieldError as exc:
            where = profile.origin.get(exc.field, exc.field)
            raise _Bad(f"{where}: {exc.reason}", where) from None

    def parse(self, text: str, line: int) -> _Call:
        try:
            call = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise _Bad(f"invalid JSON: {exc}") from None
        return self.parse_call(call, line)

    def parse_call(self, call: Any, line: int) -> _Call:
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
        user_id = _scalar_id(call.get("userId"), "userId")
        anonymous_id = _scalar_id(call.get("anonymousId"), "anonymousId")
        ts = self.timestamp(call)
        if kind == "alias":
            return self.alias(call, user_id, ts, line)
        if user_id is None and anonymous_id is None:
            raise _Bad("missing userId and anonymousId (one of them is required)", "userId")

        context = _object(call, "context", "context")
        profile = _Profile()
        profile.read(_object(context, "traits", "context.traits"), "context.traits")
        if kind == "identify":
            profile.read(_object(call, "traits", "traits"), "traits")
        profile.finish()
        identifiers: list[tuple[IdentifierKind, str]] = []
        if anonymous_id is not None:
            identifiers.append(("anonymous_id", anonymous_id))
        device_id = _scalar_id(
            _object(context, "device", "context.device").get("id"), "context.device.id"
        )
        if device_id is not None:
            identifiers.append(("device_id", device_id))
        if user_id is not None:
            identifiers.insert(0, ("user_id", user_id))
            record = self.record(line, "user", user_id, ts, identifiers, profile)
        else:
            assert anonymous_id is not None
            record = self.record(line, "anonymous", anonymous_id, ts, identifiers, profile)
        if kind == "identify":
            return _Call([record], [])
        return _Call([record], [self.event(call, kind, ts, record.key, context)])

    def timestamp(self, call: dict[str, Any]) -> int:
        for key in _TIMESTAMP_KEYS:
            value = call.get(key)
            if value is None or value == "":
                continue
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise _Bad("must be an ISO 8601 string or an epoch number", key)
            try:
                return parse_timestamp(value)
            except FieldError as exc:
                raise _Bad(exc.reason, key) from None
        raise _Bad(
            "missing timestamp (also looked for originalTimestamp, sentAt, receivedAt)",
            "timestamp",
        )

    def event(
        self, call: dict[str, Any], kind: str, ts: int, key: str, context: dict[str, Any]
    ) -> Event:
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
        message_id = _scalar_id(call.get("messageId"), "messageId")
        if message_id is None:
            canonical = orjson.dumps(call, option=orjson.OPT_SORT_KEYS)
            message_id = hashlib.sha1(canonical).hexdigest()[:20]
        return Event(
            id=f"{self.source}:{message_id}",
            name=name,
            ts=ts,
            source=self.source,
            record_key=key,
            properties=properties,
        )

    def alias(self, call: dict[str, Any], user_id: str | None, ts: int, line: int) -> _Call:
        """`previousId` becomes a record of its own, linked to the user by the alias.

        Whether `previousId` was an anonymous visitor or an earlier login cannot be told from
        one call, and guessing from the rest of the file would make the grouping depend on how
        the stream is cut. So the previous id's record carries it both as a user id and as an
        anonymous id: it joins the visitor's records through the anonymous id, or the earlier
        login's through the user id, whichever arrives, in any order.
        """
        previous_id = _scalar_id(call.get("previousId"), "previousId")
        if previous_id is None:
            raise _Bad("alias call without previousId", "previousId")
        if user_id is None:
            raise _Bad("alias call without userId", "userId")
        user = self.record(line, "user", user_id, ts, [("user_id", user_id)])
        previous = self.record(
            line,
            "user",
            previous_id,
            ts,
            [("user_id", previous_id), ("anonymous_id", previous_id)],
        )
        self.aliases.append(Link(a=previous.key, b=user.key, rule="alias"))
        return _Call([user, previous], [])

    def finish(self) -> None:
        """Add the alias links, once each."""
        for link in self.aliases:
            self.builder.add_link(link)


def read_events(
    path: Path,
    *,
    source: str,
    options: NormalizeOptions,
    rejects: RejectsWriter,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> SourceBatch:
    """Read a JSON Lines event stream into records, events and alias links.

    Args:
        path: the `.jsonl` / `.ndjson` / `.json` file, one call per line.
        source: the source name its records and events carry.
        options: normalization options for the fields found in traits.
        rejects: where lines that cannot be ingested go, with their line and JSON field.
        max_line_bytes: longer lines are rejected unparsed.

    Returns:
        The file's batch; its counts reconcile.

    Raises:
        InputError: the file cannot be read.
    """
    builder = BatchBuilder(path, source, rejects)
    reader = _EventReader(path, source, options, builder)
    blank: list[RawLine] = []
    for line in read_lines(path, max_line_bytes=max_line_bytes):
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
        try:
            call = reader.parse(decode_line(line), line.number)
        except UnicodeDecodeError as exc:
            builder.reject(line.number, utf8_problem(exc), raw=line.data)
            continue
        except _Bad as exc:
            builder.reject(line.number, exc.reason, field=exc.field, raw=line.data)
            continue
        builder.accept(call.records, call.events)
    reader.finish()
    return builder.build()


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
    reader = _EventReader(label, source, options, builder)
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
                call = reader.parse(item.decode("utf-8-sig"), number)
            else:
                call = reader.parse_call(item, number)
        except UnicodeDecodeError as exc:
            builder.reject(number, utf8_problem(exc), raw=raw)
            continue
        except _Bad as exc:
            builder.reject(number, exc.reason, field=exc.field, raw=raw)
            continue
        builder.accept(call.records, call.events)
    reader.finish()
    return builder.build()
