"""The calls of an event stream that plainly follow the rules, read into columns at once.

Nearly every call a tracker writes is plain: a known type in lower case, string ids without
padding or control characters, a string timestamp, objects where objects belong. For a chunk
of parsed calls, `plain_calls` takes out the values the frames need with a few passes over the
chunk, checks ids and parses timestamps for the whole chunk with Polars, and hands back the
positions of every call it did not take. Those go through the call-by-call checker
(`jsonl_events`), which rejects them with the exact field and reason, or keeps them: the
split only decides which code reads a call, never what comes out of it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
import polars as pl

from idgraph.frames import FIELDS, RAW_ID_KINDS, TRAITS
from idgraph.ingest.cells import parse_timestamps
from idgraph.ingest.jsonl_calls import (
    EVENT_ROW,
    TIMESTAMP_KEYS,
    VIEW_EVENTS,
    Profile,
    add_view_properties,
)
from idgraph.ingest.lines import CONTROL_CHARACTERS
from idgraph.ingest.properties import kind_of_type

__all__ = ["PlainCalls", "plain_calls", "sighting_schema"]

_PLAIN_TYPES = {"identify": "identify", "track": "track", "page": "page", "screen": "screen"}
#: An id with any of these is left to the checker (which trims or refuses it).
_UNPLAIN_ID = rf"^\s|\s$|{CONTROL_CHARACTERS}"
_TEXT = frozenset({str, type(None)})
_SORTED = orjson.OPT_SORT_KEYS


def sighting_schema() -> dict[str, Any]:
    """Sighting columns as readers build them: the raw golden fields, the JSON path each came
    from (`_from_<field>`), and the raw ids."""
    return {
        "line": pl.Int64,
        "sub": pl.Int8,
        "key": pl.Utf8,
        "kind": pl.Utf8,
        "source_id": pl.Utf8,
        "ts": pl.Int64,
        **{name: pl.Utf8 for name in FIELDS},
        **{f"_from_{name}": pl.Utf8 for name in FIELDS},
        **{name: pl.Utf8 for name in RAW_ID_KINDS},
    }


@dataclass(slots=True)
class PlainCalls:
    """What the plain calls of a chunk say, and the positions of the calls left out."""

    sightings: pl.DataFrame
    traits: pl.DataFrame
    events: pl.DataFrame
    others: list[int]


def _texts(values: list[Any], other: list[bool]) -> list[Any]:
    """`values` with anything but a string or null blanked, its position marked in `other`."""
    if set(map(type, values)) <= _TEXT:
        return values
    for position, value in enumerate(values):
        if value is not None and type(value) is not str:
            values[position] = None
            other[position] = True
    return values


def _later_stamp(call: dict[str, Any]) -> Any:
    for key in TIMESTAMP_KEYS[1:]:
        value = call.get(key)
        if value is not None and value != "":
            return value
    return None


def _message_id(call: dict[str, Any]) -> Any:
    """The call's messageId, or the hash that stands in for a missing one."""
    value = call.get("messageId")
    if value is None or value == "":
        canonical = orjson.dumps(call, option=_SORTED)
        return hashlib.sha1(canonical).hexdigest()[:20]
    return value


def plain_calls(
    calls: list[Any], lines: list[int], source: str, kinds: dict[str, set[str]]
) -> PlainCalls:
    """Read the plain calls of a chunk into frames; `kinds` gains their properties' kinds.

    Args:
        calls: parsed JSON values, in line order.
        lines: the line (or call number) of each.
        source: the source name records and events carry.
        kinds: per event property name, the kinds of value seen so far (`kind_of`).

    Returns:
        Sightings (`sighting_schema`), traits and events of the plain calls, and the positions
        in `calls` of the others, which the call-by-call checker must read.
    """
    size = len(calls)
    other = [type(call) is not dict for call in calls]
    dicts: list[dict[str, Any]] = [call if type(call) is dict else {} for call in calls]
    types = [call.get("type") for call in dicts]
    kind = [_PLAIN_TYPES.get(value) if type(value) is str else None for value in types]
    user = _texts([call.get("userId") for call in dicts], other)
    anonymous = _texts([call.get("anonymousId") for call in dicts], other)
    stamps = [call.get("timestamp") for call in dicts]
    for position, value in enumerate(stamps):
        if value is None or value == "":
            stamps[position] = _later_stamp(dicts[position])
    stamps = _texts(stamps, other)

    device: list[Any] = [None] * size
    message: list[Any] = [None] * size
    names: list[str | None] = [None] * size
    texts: list[bytes | None] = [None] * size
    properties: dict[int, dict[str, Any]] = {}
    profiles: dict[int, Profile] = {}
    for position, call in enumerate(dicts):
        call_kind = kind[position]
        if call_kind is None or other[position]:
            other[position] = True
            continue
        context = call.get("context")
        if context is None:
            context = {}
        elif type(context) is not dict:
            other[position] = True
            continue
        shared = context.get("traits")
        own = call.get("traits") if call_kind == "identify" else None
        if shared is not None and type(shared) is not dict:
            other[position] = True
            continue
        if own is not None and type(own) is not dict:
            other[position] = True
            continue
        if shared or own:
            profile = Profile.of(shared or {}, own)
            if profile.dropped:  # the call-by-call checker lists the values it drops
                other[position] = True
                continue
            profiles[position] = profile
        held = context.get("device")
        if held is not None:
            if type(held) is not dict:
                other[position] = True
                continue
            device[position] = held.get("id")
        if call_kind == "identify":
            continue
        given = call.get("properties")
        if given is None:
            given = {}
        elif type(given) is not dict:
            other[position] = True
            continue
        if call_kind == "track":
            name = call.get("event")
            if type(name) is not str or not (name := name.strip()):
                other[position] = True
                continue
        else:
            name = VIEW_EVENTS[call_kind]
            given = dict(given)
            add_view_properties(call, context, given)
        names[position] = name
        given_id = call.get("messageId")
        message[position] = given_id if type(given_id) is str and given_id else _message_id(call)
        texts[position] = orjson.dumps(given, option=_SORTED)
        properties[position] = given
    device = _texts(device, other)
    message = _texts(message, other)

    frame = pl.DataFrame(
        {
            "line": pl.Series(lines, dtype=pl.Int64),
            "call": pl.Series(kind, dtype=pl.Utf8),
            "other": pl.Series(other, dtype=pl.Boolean),
            "user_id": pl.Series(user, dtype=pl.Utf8),
            "anonymous_id": pl.Series(anonymous, dtype=pl.Utf8),
            "device_id": pl.Series(device, dtype=pl.Utf8),
            "message": pl.Series(message, dtype=pl.Utf8),
            "name": pl.Series(names, dtype=pl.Utf8),
            "properties": pl.Series(texts, dtype=pl.Binary).cast(pl.Utf8),
        }
    ).with_columns(_fields(size, profiles))
    ids = ("user_id", "anonymous_id", "device_id", "message")
    stamped, _ = parse_timestamps(pl.Series(stamps, dtype=pl.Utf8))
    frame = frame.with_columns(
        stamped.alias("ts"),
        *(pl.when(pl.col(name) != "").then(pl.col(name)).alias(name) for name in ids[:3]),
        plain=~pl.col("other")
        & stamped.is_not_null()
        & ~pl.any_horizontal(
            pl.col(name).str.contains(_UNPLAIN_ID).fill_null(False) for name in ids
        ),
    ).with_columns(
        pl.col("plain") & (pl.col("user_id").is_not_null() | pl.col("anonymous_id").is_not_null())
    )
    plain = frame["plain"].to_list()
    frame = frame.with_row_index("_pos").filter("plain")
    user_kind = pl.col("user_id").is_not_null()
    frame = frame.with_columns(
        pl.when(user_kind).then(pl.lit("user")).otherwise(pl.lit("anonymous")).alias("kind"),
        pl.coalesce("user_id", "anonymous_id").alias("source_id"),
    ).with_columns(
        pl.concat_str(
            pl.lit(f"{source}:"),
            pl.when(user_kind).then(pl.lit("user:")).otherwise(pl.lit("anon:")),
            "source_id",
        ).alias("key"),
    )
    _count_kinds(properties, plain, kinds)
    return PlainCalls(
        sightings=_sightings(frame),
        traits=_traits(lines, profiles, plain),
        events=_events(frame, source),
        others=[position for position, taken in enumerate(plain) if not taken],
    )


def _count_kinds(
    properties: dict[int, dict[str, Any]], plain: list[bool], kinds: dict[str, set[str]]
) -> None:
    """Add the kinds of the plain calls' event properties to `kinds`."""
    shapes = {
        (tuple(given), tuple(map(type, given.values())))
        for position, given in properties.items()
        if plain[position]
    }
    for names, types in shapes:
        for name, value_type in zip(names, types, strict=True):
            kinds.setdefault(name, set()).add(kind_of_type(value_type))


def _fields(size: int, profiles: dict[int, Profile]) -> list[pl.Series]:
    """The golden fields the chunk's traits gave and where each came from, one row per call."""
    columns: dict[str, list[str | None]] = {}
    for position, profile in profiles.items():
        for name, value in profile.fields.items():
            if name not in columns:
                columns[name] = [None] * size
                columns[f"_from_{name}"] = [None] * size
            columns[name][position] = value
            columns[f"_from_{name}"][position] = profile.origin[name]
    return [pl.Series(name, values, dtype=pl.Utf8) for name, values in columns.items()]


def _sightings(frame: pl.DataFrame) -> pl.DataFrame:
    schema = sighting_schema()
    return frame.select(
        "line",
        pl.lit(0, dtype=pl.Int8).alias("sub"),
        "key",
        "kind",
        "source_id",
        "ts",
        *(
            pl.col(name) if name in frame.columns else pl.lit(None, dtype=pl.Utf8).alias(name)
            for name in (*FIELDS, *(f"_from_{f}" for f in FIELDS))
        ),
        pl.lit(None, dtype=pl.Utf8).alias("customer_id"),
        "user_id",
        "anonymous_id",
        "device_id",
    ).cast(schema)  # type: ignore[arg-type]


def _traits(lines: list[int], profiles: dict[int, Profile], plain: list[bool]) -> pl.DataFrame:
    rows = [
        (lines[position], 0, name, value)
        for position, profile in profiles.items()
        if plain[position]
        for name, value in profile.traits.items()
    ]
    if not rows:
        return pl.DataFrame(schema=TRAITS)
    return pl.DataFrame(rows, schema=TRAITS, orient="row")


def _events(frame: pl.DataFrame, source: str) -> pl.DataFrame:
    return (
        frame.filter(pl.col("call") != "identify")
        .select(
            "line",
            pl.concat_str(pl.lit(f"{source}:"), "message").alias("id"),
            "name",
            "ts",
            pl.col("key").alias("record_key"),
            "properties",
        )
        .cast(EVENT_ROW)  # type: ignore[arg-type]
    )
