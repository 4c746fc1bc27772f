"""`idgraph load DIR`: a Spark run's tables into a store, through the bulk write path.

The tables are what `plan_changes` planned for each bucket, so loading is the write half of
an ingest: one `WritePlan` for the store (`GraphStore.apply`: `COPY FROM` on the embedded
engine, `UNWIND` batches on Neo4j) and the resolution mirror beside it, stamped with the
same version. Nothing is loaded from a folder without its manifest (a run that did not
finish has none).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel

from idgraph.errors import InputError, StoreError
from idgraph.frames import EVENT_PROPERTIES, IDENTIFIERS, RECORDS, STORED_EVENTS
from idgraph.match.config import MatchConfig
from idgraph.match.scored import COUNTED_VIEW, MODEL_KEY, count_rows
from idgraph.match.view import match_view
from idgraph.normalize.fold import RECORD_TRAITS
from idgraph.settings import open_store
from idgraph.spark.exchange import read_parts
from idgraph.state.mirror import MirrorChanges, new_version
from idgraph.state.rebuild import open_mirror
from idgraph.store.plan import APART_ROWS, EVIDENCE, LINK_ROWS, VERDICTS, WritePlan, plan_rows

__all__ = ["MANIFEST", "LoadReport", "load_output", "read_manifest"]

#: The file that says a folder holds a finished run (written last).
MANIFEST = "manifest.json"


class LoadReport(BaseModel):
    """What `load_output` wrote."""

    records: int
    customers: int
    rows: int


def _table(root: Path, name: str, schema: Any = None) -> pl.DataFrame:
    frame = read_parts(root, name)
    if schema is None:
        return frame
    if frame.width == 0:
        return pl.DataFrame(schema=schema)
    return frame.select(list(schema)).cast(schema)


def read_manifest(root: Path) -> dict[str, Any]:
    """The run's manifest; an `InputError` when the folder is not a finished Spark run."""
    path = root / MANIFEST
    try:
        data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    except OSError:
        raise InputError(
            f"no {MANIFEST}; not the output of a finished `idgraph resolve --engine spark` run",
            path=root,
        ) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc})", path=path) from None
    if data.get("format") != 1:
        raise InputError(f"unknown format {data.get('format')!r}", path=path)
    return data


def load_output(
    folder: Path | str, *, store: str | Path | None = None, database: str | None = None
) -> LoadReport:
    """Load a Spark run's tables into an empty store, in one write.

    Raises:
        InputError: the folder is not a finished run.
        StoreError: the store already holds records (load into an empty store; to
            re-resolve a store on Spark use `idgraph resolve --engine spark` without files),
            or the store failed (then it is as it was).
    """
    root = Path(folder)
    manifest = read_manifest(root)
    config = MatchConfig.model_validate(manifest["match_config"])
    records = _table(root, "records", {**RECORDS, "customer": pl.Utf8})
    customers = _table(root, "customers")
    plan = WritePlan(full=True)
    plan.new_records = records.select(list(RECORDS))
    plan.memberships = records.select("customer", pl.col("key").alias("record"))
    plan.new_identifiers = _table(root, "identifiers", VERDICTS).unique("key", keep="first")
    held = _table(root, "record_identifiers", IDENTIFIERS)
    plan.new_record_identifiers = held.select(
        "record", (pl.col("kind") + pl.lit(":") + pl.col("value")).alias("identifier")
    )
    plan.new_events = _table(root, "events", STORED_EVENTS)
    plan.new_event_properties = _table(root, "event_properties", EVENT_PROPERTIES)
    plan.new_links = _table(root, "links", LINK_ROWS)
    plan.evidence = _table(root, "evidence", EVIDENCE)
    plan.customers = customers
    plan.customer_columns = dict(manifest.get("customer_columns") or {})
    plan.event_columns = dict(manifest.get("event_columns") or {})
    registry = _table(root, "registry", {"id": pl.Utf8, "created_ts": pl.Int64, "status": pl.Utf8})
    plan.ids.created = [(cid, int(ts or 0)) for cid, ts, _ in registry.iter_rows()]
    plan.scope_records = plan.new_records["key"].to_list()
    if manifest.get(MODEL_KEY):
        plan.meta[MODEL_KEY] = str(manifest[MODEL_KEY])
    changes = MirrorChanges(
        full=True,
        upserts={
            "records": records,
            "record_traits": _table(root, "record_traits", RECORD_TRAITS),
            "identifiers": held.sort("record", "kind", "value"),
            "blocks": _table(root, "blocks", {"record": pl.Utf8, "block": pl.Utf8}),
            "verdicts": plan.new_identifiers,
            "links": plan.new_links,
            "apart": pl.DataFrame(schema=APART_ROWS),
            "events": plan.new_events.select("id", "record_key", "name", "ts"),
            "event_properties": plan.new_event_properties,
            "customers": customers,
            "registry": registry,
            "value_counts": count_rows(match_view(records, COUNTED_VIEW)),
        },
        customer_columns=plan.customer_columns,
        event_columns=plan.event_columns,
        config=str(manifest.get("blocking") or ""),
    )
    rows = plan_rows(plan)
    with open_store(store, database=database) as graph:
        mirror = open_mirror(graph, config)
        stored = mirror.files.get("records")
        if stored is not None and stored.base_rows + stored.delta_rows:
            raise StoreError(
                f"{graph.location} already holds records: `idgraph load` fills an empty store "
                "(re-resolve a store on Spark with `idgraph resolve --engine spark`)"
            )
        version = new_version()
        staged = mirror.write(changes, version)
        graph.apply(plan, version=version)
        staged.publish()
    return LoadReport(records=records.height, customers=customers.height, rows=rows)
