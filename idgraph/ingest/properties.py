"""Scalar event properties as a long table (id, name, kind, value), from their JSON objects.

Event properties arrive as arbitrary JSON objects; segments and traits read their scalar
values by name. Decoding every object in Python costs more than the rest of reading a
tracking stream, so the objects are decoded by Polars for every property name whose values
are all of one kind (what a reader saw while parsing), and only names that mix kinds (a
price sent as a number here and as text there) are picked out in Python.
"""

from __future__ import annotations

from collections.abc import Mapping, Set

import orjson
import polars as pl

from idgraph.frames import EVENT_PROPERTIES, empty, property_text

__all__ = ["kind_of", "kind_of_type", "long_properties"]

_SCALARS = {str: "string", bool: "boolean", int: "number", float: "number"}
_DTYPES: dict[str, type[pl.DataType]] = {
    "string": pl.Utf8,
    "boolean": pl.Boolean,
    "number": pl.Float64,
}


def kind_of(value: object) -> str:
    """What a property value is, as `long_properties` needs to know: string, boolean, number,
    or other (null, an object, a list)."""
    return _SCALARS.get(type(value), "other")


def kind_of_type(value_type: type) -> str:
    """`kind_of` for a value of this exact type."""
    return _SCALARS.get(value_type, "other")


def long_properties(events: pl.DataFrame, kinds: Mapping[str, Set[str]]) -> pl.DataFrame:
    """(id, name, kind, value) of every scalar property of `events` (id, properties).

    Args:
        events: event ids and their properties as JSON object text.
        kinds: per property name, the kinds of value seen (`kind_of`) over these events.

    Examples:
        >>> events = pl.DataFrame({"id": ["e1", "e2"],
        ...                        "properties": ['{"n":2,"s":"x"}', '{"n":"3","b":true}']})
        >>> long_properties(events, {"n": {"number", "string"}, "s": {"string"},
        ...                          "b": {"boolean"}}).sort("id", "name").rows()
        ... # doctest: +NORMALIZE_WHITESPACE
        [('e1', 'n', 'number', '2.0'), ('e1', 's', 'string', 'x'),
         ('e2', 'b', 'boolean', 'true'), ('e2', 'n', 'string', '3')]
    """
    if events.height == 0 or not kinds:
        return empty(EVENT_PROPERTIES)
    plain = {name for name, seen in kinds.items() if len(seen) == 1 and next(iter(seen)) != "other"}
    mixed = {name for name, seen in kinds.items() if name not in plain and seen - {"other"}}
    parts: list[pl.DataFrame] = []
    if plain:
        # Only the plain names are decoded, with their known types: inferring a schema for
        # every name fails when one holds a list here and an object there.
        objects = events["properties"].str.json_decode(
            dtype=pl.Struct({name: _DTYPES[next(iter(kinds[name]))] for name in sorted(plain)})
        )
        decoded = pl.DataFrame({"id": events["id"], "_p": objects}).unnest("_p")
        for name in sorted(plain):
            if name not in decoded.columns:
                continue
            kind = next(iter(kinds[name]))
            column = pl.col(name)
            if kind == "number":
                value = column.cast(pl.Float64).cast(pl.Utf8)
            elif kind == "boolean":
                value = pl.when(column).then(pl.lit("true")).otherwise(pl.lit("false"))
            else:
                value = column.cast(pl.Utf8)
            parts.append(
                decoded.filter(column.is_not_null()).select(
                    "id",
                    pl.lit(name).alias("name"),
                    pl.lit(kind).alias("kind"),
                    value.alias("value"),
                )
            )
    if mixed:
        parts.append(_picked(events, mixed))
    if not parts:
        return empty(EVENT_PROPERTIES)
    return pl.concat(parts).cast(EVENT_PROPERTIES)  # type: ignore[arg-type]


def _picked(events: pl.DataFrame, names: Set[str]) -> pl.DataFrame:
    """The properties `names` of every event, read in Python (names whose kinds mix)."""
    rows: dict[str, list[str]] = {column: [] for column in EVENT_PROPERTIES}
    needles = [f'"{name}":' for name in names]
    having = events.filter(
        pl.any_horizontal([pl.col("properties").str.contains(n, literal=True) for n in needles])
    )
    for event_id, text in having.select("id", "properties").iter_rows():
        for name, value in orjson.loads(text).items():
            if name not in names:
                continue
            scalar = property_text(value)
            if scalar is None:
                continue
            kind, shown = scalar
            rows["id"].append(event_id)
            rows["name"].append(name)
            rows["kind"].append(kind)
            rows["value"].append(shown)
    return pl.DataFrame(rows, schema=EVENT_PROPERTIES)
