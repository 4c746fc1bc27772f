"""The columns carried between stages: one schema per frame, named after what it holds.

Every stage of the resolution core is a function from frames to frames (Polars), so the
schemas here are the contract between them. A reader yields *sightings* (one row per time an
input line mentions a record) with their traits, events, event properties and explicit links;
normalization fills the sightings' values in canonical form; folding turns sightings into
*records* (one row per record key) plus a long *identifiers* table; matching yields *edges*;
clustering labels records with customers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

import orjson
import polars as pl

from idgraph.types import FIELD_NAMES

__all__ = [
    "EDGES",
    "EVENTS",
    "EVENT_PROPERTIES",
    "FIELDS",
    "GROUPS",
    "IDENTIFIERS",
    "LINKS",
    "RAW_ID_KINDS",
    "RECORDS",
    "SIGHTINGS",
    "STORED_EVENTS",
    "TRAITS",
    "empty",
    "property_text",
]

Schema = Mapping[str, type[pl.DataType] | pl.DataType]

#: Golden fields, in the order every frame holds them.
FIELDS: Final[tuple[str, ...]] = tuple(FIELD_NAMES)
#: Identifier kinds read as ids (trimmed, case kept); email and phone come from the fields.
RAW_ID_KINDS: Final[tuple[str, ...]] = ("customer_id", "user_id", "anonymous_id", "device_id")

#: One row per record sighting. `line` is the input line, `sub` tells apart the records one
#: line mentions (an alias names two), `ts` says how recent the sighting is.
SIGHTINGS: Final[Schema] = {
    "line": pl.Int64,
    "sub": pl.Int8,
    "key": pl.Utf8,
    "source": pl.Utf8,
    "source_id": pl.Utf8,
    "kind": pl.Utf8,
    "ts": pl.Int64,
    **{name: pl.Utf8 for name in FIELDS},
    **{name: pl.Utf8 for name in RAW_ID_KINDS},
}

#: Traits of a sighting: `value` is the JSON text of a scalar (string, number or boolean).
TRAITS: Final[Schema] = {"line": pl.Int64, "sub": pl.Int8, "name": pl.Utf8, "value": pl.Utf8}

#: One row per event as stored; `properties` is the JSON object of the Event node.
STORED_EVENTS: Final[Schema] = {
    "id": pl.Utf8,
    "name": pl.Utf8,
    "ts": pl.Int64,
    "source": pl.Utf8,
    "record_key": pl.Utf8,
    "properties": pl.Utf8,
}
#: Events as a reader yields them: with the input line each came from.
EVENTS: Final[Schema] = {"line": pl.Int64, **STORED_EVENTS}

#: Scalar event properties, long: `kind` is `boolean`, `number` or `string`; `value` its text.
EVENT_PROPERTIES: Final[Schema] = {
    "id": pl.Utf8,
    "name": pl.Utf8,
    "kind": pl.Utf8,
    "value": pl.Utf8,
}

#: Explicit links a source states (`alias`) or a reviewer made (`must_link`); a < b.
LINKS: Final[Schema] = {"line": pl.Int64, "a": pl.Utf8, "b": pl.Utf8, "rule": pl.Utf8}

#: Group calls: the record (person) is a member of the account `account` (a company, household,
#: team: Segment's `groupId`) as of `ts`; `traits` is the JSON object of the account's scalar
#: traits the call sent.
GROUPS: Final[Schema] = {
    "line": pl.Int64,
    "record_key": pl.Utf8,
    "account": pl.Utf8,
    "ts": pl.Int64,
    "traits": pl.Utf8,
}

#: One row per record after folding its sightings: the newest value of each field wins.
RECORDS: Final[Schema] = {
    "key": pl.Utf8,
    "source": pl.Utf8,
    "source_id": pl.Utf8,
    "kind": pl.Utf8,
    "updated_ts": pl.Int64,
    **{name: pl.Utf8 for name in FIELDS},
    "traits": pl.Utf8,
}

#: Which identifiers each record carries: (record key, kind, value), each once.
IDENTIFIERS: Final[Schema] = {"record": pl.Utf8, "kind": pl.Utf8, "value": pl.Utf8}

#: How many records hold each match value of a field; a field's total has the value "".
VALUE_COUNTS: Final[Schema] = {"field": pl.Utf8, "value": pl.Utf8, "count": pl.Int64}

#: Candidate links between records, strongest first: `rule` is `alias`/`must_link`,
#: `same_<kind>` or a fuzzy rule's name; `fields` what it used, comma-separated.
EDGES: Final[Schema] = {
    "a": pl.Utf8,
    "b": pl.Utf8,
    "rule": pl.Utf8,
    "fields": pl.Utf8,
    "score": pl.Float64,
}


def property_text(value: object) -> tuple[str, str] | None:
    """A scalar property or trait value as the long frames hold it: (kind, text), else None.

    Examples:
        >>> property_text(True), property_text(3), property_text("x"), property_text([1])
        (('boolean', 'true'), ('number', '3.0'), ('string', 'x'), None)
    """
    if isinstance(value, bool):
        return "boolean", "true" if value else "false"
    if isinstance(value, int | float):
        number = float(value)
        return ("number", orjson.dumps(number).decode()) if math.isfinite(number) else None
    if isinstance(value, str):
        return "string", value
    return None


def empty(schema: Schema) -> pl.DataFrame:
    """A frame with no rows and the given columns."""
    return pl.DataFrame(schema=schema)
