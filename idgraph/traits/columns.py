"""Trait and event-property columns: their types, and values coerced to them.

Source traits and scalar event properties travel as JSON text (`"gold"`, `12.5`, `true`); a
graph column has one type. A new name gets the type of its values (a mix becomes STRING); an
existing column keeps its type and values are coerced to it as `idgraph.store.rows.coerce`
coerces one value (a number in a STRING column becomes its text, text in a DOUBLE column its
number when it reads as one, otherwise null).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import orjson
import polars as pl

from idgraph.errors import ConfigError
from idgraph.store.rows import coerce
from idgraph.store.schema import NODE_TABLES, ColumnType, check_property_name

logger = logging.getLogger(__name__)

__all__ = ["json_kind", "new_columns", "typed_column"]

_ARROW_TYPES: dict[str, pl.DataType] = {
    "STRING": pl.Utf8(),
    "INT64": pl.Int64(),
    "DOUBLE": pl.Float64(),
    "BOOLEAN": pl.Boolean(),
}


def json_kind(values: pl.Expr) -> pl.Expr:
    """The column type a JSON scalar text asks for: STRING, BOOLEAN or DOUBLE."""
    first = values.str.slice(0, 1)
    return (
        pl.when(first == '"')
        .then(pl.lit("STRING"))
        .when(first.is_in(["t", "f"]))
        .then(pl.lit("BOOLEAN"))
        .otherwise(pl.lit("DOUBLE"))
    )


def new_columns(
    label: str, values: pl.DataFrame, existing: Mapping[str, ColumnType]
) -> dict[str, ColumnType]:
    """Columns to add for traits / event properties of `values` (name, value JSON text).

    Typed by their values, names allowlisted; names the label already has, or the store
    already holds, are left out.
    """
    if values.height == 0:
        return {}
    kinds = (
        values.filter(~pl.col("name").is_in(list(existing)))
        .with_columns(json_kind(pl.col("value")).alias("kind"))
        .group_by("name")
        .agg(pl.col("kind").unique().sort())
        .sort("name")
    )
    added: dict[str, ColumnType] = {}
    for name, found in kinds.iter_rows():
        if name in NODE_TABLES[label]:
            continue
        try:
            check_property_name(name)
        except ConfigError:
            logger.warning("%s %r kept in JSON only: not a valid property name", label, name)
            continue
        added[name] = found[0] if len(found) == 1 else "STRING"
    return added


def typed_column(texts: pl.Series, kind: ColumnType) -> pl.Series:
    """JSON scalar texts as a column of `kind`, each coerced as `coerce` would."""
    distinct = texts.drop_nulls().unique()
    if distinct.len() == 0:
        return pl.Series(texts.name, [None] * texts.len(), dtype=_ARROW_TYPES[kind])
    values = [coerce(orjson.loads(text), kind) for text in distinct.to_list()]
    mapped = pl.Series(values, dtype=_ARROW_TYPES[kind], strict=False)
    return texts.replace_strict(distinct, mapped, default=None, return_dtype=_ARROW_TYPES[kind])
