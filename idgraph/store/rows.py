"""Flat property rows for nodes, the same for every engine."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

import orjson

from idgraph.models import Event, Record
from idgraph.store.plan import IdentifierRow
from idgraph.store.schema import ColumnType
from idgraph.types import FIELD_NAMES


def iso_time(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def record_row(record: Record) -> dict[str, Any]:
    row: dict[str, Any] = {
        "key": record.key,
        "source": record.source,
        "source_id": record.source_id,
        "kind": record.kind,
        "updated_ts": record.updated_ts,
        "traits": orjson.dumps(record.traits, option=orjson.OPT_SORT_KEYS).decode(),
    }
    for name in FIELD_NAMES:
        row[name] = record.fields.get(name)
    return row


def identifier_row(identifier: IdentifierRow) -> dict[str, Any]:
    return {
        "key": identifier.key,
        "kind": identifier.kind,
        "value": identifier.value,
        "linking": identifier.linking,
        "reason": identifier.reason,
    }


def event_row(event: Event, columns: Collection[str]) -> dict[str, Any]:
    """Fixed event columns, the full properties as JSON, and scalar properties as columns."""
    row: dict[str, Any] = {
        "id": event.id,
        "name": event.name,
        "ts": event.ts,
        "time": iso_time(event.ts),
        "source": event.source,
        "record_key": event.record_key,
        "properties": orjson.dumps(event.properties, option=orjson.OPT_SORT_KEYS).decode(),
    }
    for name, value in event.properties.items():
        if name in columns and name not in row:
            row[name] = value
    return row


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
