"""LadybugDB's raw answers in the shape both stores return (see `GraphStore.query`).

Raw nodes and relationships are dicts with internal `_ID`/`_LABEL`/`_SRC`/`_DST` keys, and
nodes inside a path carry every node table's columns, mostly null: callers of the store see
plain property dicts and paths of nodes and relationships, as the Neo4j store gives them.
"""

from __future__ import annotations

from typing import Any

from idgraph.store.schema import PRIMARY_KEYS

__all__ = ["plain"]


def plain(value: Any) -> Any:
    """One value of an answer row, nested values included, in the stores' common shape."""
    if isinstance(value, dict):
        if "_NODES" in value and "_RELS" in value:
            return _path(value)
        if "_SRC" in value and "_DST" in value:
            return {"type": value.get("_LABEL"), **_properties(value, keep_null=False)}
        if "_LABEL" in value and "_ID" in value:
            return _properties(value, keep_null=True)
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _properties(raw: dict[str, Any], *, keep_null: bool) -> dict[str, Any]:
    return {
        k: plain(v)
        for k, v in raw.items()
        if not k.startswith("_") and (keep_null or v is not None)
    }


def _path(raw: dict[str, Any]) -> dict[str, Any]:
    nodes = [{"label": n["_LABEL"], **_properties(n, keep_null=False)} for n in raw["_NODES"]]
    keys = {
        _internal_id(n["_ID"]): node.get(PRIMARY_KEYS.get(node["label"], ""))
        for n, node in zip(raw["_NODES"], nodes, strict=True)
    }
    relationships = [
        {
            "type": r.get("_LABEL"),
            "start": keys.get(_internal_id(r["_SRC"])),
            "end": keys.get(_internal_id(r["_DST"])),
            **_properties(r, keep_null=False),
        }
        for r in raw["_RELS"]
    ]
    return {"nodes": nodes, "relationships": relationships}


def _internal_id(value: Any) -> Any:
    return (value.get("table"), value.get("offset")) if isinstance(value, dict) else value
