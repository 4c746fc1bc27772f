"""Node and relationship rows as both engines write them: typed frames, one per table.

A plan's frames hold what resolution decided; these functions shape them into the columns and
types of the graph schema (`store/schema.py`), so the embedded store bulk-loads them as Arrow
and the Neo4j store sends them as batches of maps, with the same values either way.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import polars as pl

from idgraph.store.schema import NODE_TABLES, ColumnType

__all__ = [
    "POLARS_TYPES",
    "coerce",
    "customer_frame",
    "event_frame",
    "iso_time",
    "node_frame",
]

POLARS_TYPES: dict[str, pl.DataType] = {
    "STRING": pl.Utf8(),
    "INT64": pl.Int64(),
    "DOUBLE": pl.Float64(),
    "BOOLEAN": pl.Boolean(),
    "STRING[]": pl.List(pl.Utf8()),
}


def iso_time(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def coerce(value: Any, kind: ColumnType) -> Any:
    """`value` as a column of type `kind` holds it; None where it cannot be converted."""
    if value is None:
        return None
    if kind == "STRING[]":
        return [str(v) for v in value] if isinstance(value, list | tuple) else None
    try:
        if kind == "DOUBLE":
            return float(value)
        if kind == "INT64":
            return int(value)
        if kind == "BOOLEAN":
            return value if isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, str) else str(value)


def node_frame(frame: pl.DataFrame, columns: Mapping[str, ColumnType]) -> pl.DataFrame:
    """`frame` as exactly `columns`, in order and typed (a missing column is all null)."""
    out = []
    for name, kind in columns.items():
        dtype = POLARS_TYPES[kind]
        if name in frame.columns:
            column = frame[name]
            if column.dtype != dtype:
                column = _cast(column, kind)
            out.append(column.alias(name))
        else:
            out.append(pl.repeat(None, frame.height, dtype=dtype, eager=True).alias(name))
    return pl.DataFrame(out, height=frame.height)


def _cast(column: pl.Series, kind: ColumnType) -> pl.Series:
    """A column converted as `coerce` converts each value."""
    if column.dtype == pl.Null:
        return column.cast(POLARS_TYPES[kind])
    if kind == "STRING" and column.dtype == pl.Boolean:
        return column.replace_strict({True: "True", False: "False"}, return_dtype=pl.Utf8)
    if kind == "STRING" and column.dtype.is_float():
        return pl.Series(
            column.name,
            [None if v is None else str(v) for v in column.to_list()],
            dtype=pl.Utf8,
        )
    if kind == "BOOLEAN" and column.dtype != pl.Boolean:
        return pl.repeat(None, column.len(), dtype=pl.Boolean, eager=True)
    if kind in ("DOUBLE", "INT64") and column.dtype == pl.Utf8:
        values = [coerce(v, kind) for v in column.to_list()]
        return pl.Series(column.name, values, dtype=POLARS_TYPES[kind])
    if kind == "INT64" and column.dtype.is_float():
        return column.cast(pl.Int64, strict=False)
    return column.cast(POLARS_TYPES[kind], strict=False)


def customer_frame(customers: pl.DataFrame, types: Mapping[str, ColumnType]) -> pl.DataFrame:
    """Customer rows as the store's typed `Customer` columns."""
    return node_frame(customers, {**NODE_TABLES["Customer"], **types})


def event_frame(
    events: pl.DataFrame, properties: pl.DataFrame, types: Mapping[str, ColumnType]
) -> pl.DataFrame:
    """Event rows: fixed columns, `time` in ISO, and scalar properties as typed columns."""
    moment = pl.from_epoch(pl.col("ts"), time_unit="ms")
    base = events.with_columns(
        pl.when(pl.col("ts") % 1000 == 0)
        .then(moment.dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
        .otherwise(moment.dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"))
        .alias("time")
    )
    fixed = NODE_TABLES["Event"]
    extra = {name: kind for name, kind in types.items() if name not in fixed}
    wanted = properties.filter(pl.col("name").is_in(list(extra)))
    for name, part in wanted.partition_by("name", as_dict=True).items():
        prop = str(name[0] if isinstance(name, tuple) else name)
        column = _typed_property(part, extra[prop]).alias(prop)
        base = base.join(pl.DataFrame({"id": part["id"], prop: column}), on="id", how="left")
    return node_frame(base, {**fixed, **extra})


def _typed_property(part: pl.DataFrame, kind: ColumnType) -> pl.Series:
    """Long property values (kind, text) as one typed column, as `coerce` converts them."""
    values: list[Any] = []
    for value_kind, text in zip(part["kind"].to_list(), part["value"].to_list(), strict=True):
        if value_kind == "boolean":
            value: Any = text == "true"
        elif value_kind == "number":
            value = float(text)
        else:
            value = text
        values.append(coerce(value, kind))
    return pl.Series(values, dtype=POLARS_TYPES[kind], strict=False)
