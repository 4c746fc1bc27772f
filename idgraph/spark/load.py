"""`idgraph load DIR`: a Spark run's tables into a store, through the bulk write path.

The tables are what `plan_changes` planned for each bucket, so loading is the write half of
an ingest: one full `WritePlan` written by `pipeline.write_plan` (`GraphStore.apply`: `COPY
FROM` on the embedded engine, `UNWIND` batches on Neo4j; the resolution mirror beside it,
stamped with the same version; history and segments). Into a store that already holds
records the run's customers take the stored ids by the local engine's rule. Nothing is loaded
from a folder without its manifest (a run that did not finish has none).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel

from idgraph.cluster.id_plan import registry_rows, whole_registry
from idgraph.cluster.ids import assign_component_ids
from idgraph.cluster.lineage import lineage
from idgraph.errors import InputError, StoreError
from idgraph.frames import EVENT_PROPERTIES, IDENTIFIERS, RECORDS, STORED_EVENTS
from idgraph.match.config import MatchConfig
from idgraph.match.scored import COUNTED_VIEW, MODEL_KEY, count_rows
from idgraph.match.view import match_view
from idgraph.normalize.erased import REMEMBERED_KINDS, erasure_hash
from idgraph.normalize.fold import RECORD_TRAITS
from idgraph.pipeline import erased_hashes, write_plan
from idgraph.resolve import verdict_changes
from idgraph.settings import open_store
from idgraph.spark.exchange import read_parts
from idgraph.stages import StageTimer
from idgraph.state.mirror import MIRROR_TABLES, Mirror, MirrorChanges
from idgraph.state.rebuild import open_mirror
from idgraph.store.plan import EVIDENCE, LINK_ROWS, VERDICTS, IdChanges, WritePlan, plan_rows

__all__ = ["MANIFEST", "LoadReport", "load_output", "plan_load", "read_manifest"]

#: The file that says a folder holds a finished run (written last).
MANIFEST = "manifest.json"


class LoadReport(BaseModel):
    """What `load_output` wrote."""

    records: int
    customers: int
    rows: int
    merged_ids: int = 0
    split_ids: int = 0
    moved_records: int = 0


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
    """Load a Spark run's tables into a store, in one write, keeping its customer ids.

    Into an empty store the run's tables go as they are. Into a store that already holds
    records, the run must have resolved every one of them (a nightly run over every source
    re-resolves what yesterday's load or ingests stored): each customer of the run takes the
    stored id of the customer it holds most records of, by the local engine's rule
    (`assign_component_ids`), the merges, splits and moves are recorded in the ids' history,
    and the segments are refreshed, as `idgraph ingest --full` of the same files would.

    Raises:
        InputError: the folder is not a finished run.
        StoreError: the store holds records or events the run did not resolve, a reviewer's
            override the run breaks, or identifiers erased from it (`idgraph forget`); or
            the store failed. In every case the store is as it was.
    """
    root = Path(folder)
    manifest = read_manifest(root)
    config = MatchConfig.model_validate(manifest["match_config"])
    run = _run_tables(root)
    with open_store(store, database=database) as graph:
        mirror = open_mirror(graph, config)
        plan = plan_load(mirror, run, manifest, erased=erased_hashes(graph))
        rows = plan_rows(plan)
        write_plan(graph, mirror, plan, timer=StageTimer(), as_of_ms=int(time.time() * 1000))
    return LoadReport(
        records=run["records"].height,
        customers=plan.customers.height,
        rows=rows,
        merged_ids=len(plan.ids.merged),
        split_ids=len(plan.ids.split),
        moved_records=len(plan.ids.moved),
    )


def _run_tables(root: Path) -> dict[str, pl.DataFrame]:
    return {
        "records": read_parts(root, "records", {**RECORDS, "customer": pl.Utf8}),
        "customers": read_parts(root, "customers"),
        "verdicts": read_parts(root, "identifiers", VERDICTS).unique("key", keep="first"),
        "identifiers": read_parts(root, "record_identifiers", IDENTIFIERS),
        "record_traits": read_parts(root, "record_traits", RECORD_TRAITS),
        "events": read_parts(root, "events", STORED_EVENTS),
        "event_properties": read_parts(root, "event_properties", EVENT_PROPERTIES),
        "links": read_parts(root, "links", LINK_ROWS),
        "evidence": read_parts(root, "evidence", EVIDENCE),
        "blocks": read_parts(root, "blocks", MIRROR_TABLES["blocks"].schema),
        "registry": read_parts(root, "registry", MIRROR_TABLES["registry"].schema),
    }


def plan_load(
    mirror: Mirror,
    run: dict[str, pl.DataFrame],
    manifest: dict[str, Any],
    *,
    erased: frozenset[str] = frozenset(),
    now_ms: int | None = None,
) -> WritePlan:
    """The write plan of loading a run's tables (`_run_tables`) over what the mirror holds."""
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    stored = mirror.load("records")
    records = run["records"]
    _check_covers(mirror, stored, run, erased)
    issued = mirror.load("registry")
    ids = _stable_ids(issued, stored, records)
    records = records.with_columns(pl.col("customer").replace(ids))
    customers = run["customers"].with_columns(pl.col("id").replace(ids))
    plan = WritePlan(full=True)
    plan.retired_customers = sorted(set(stored["customer"].drop_nulls().to_list()))
    plan.scope_records = records["key"].to_list()
    plan.new_records = records.join(stored.select("key"), on="key", how="anti").select(
        list(RECORDS)
    )
    plan.changed_records = (
        records.select(list(RECORDS))
        .join(stored.select("key"), on="key", how="semi")
        .join(stored.select(list(RECORDS)), on=list(RECORDS), how="anti", nulls_equal=True)
    )
    plan.new_identifiers, plan.changed_identifiers = verdict_changes(
        run["verdicts"], mirror.load("verdicts")
    )
    held = run["identifiers"]
    added = held.join(mirror.load("identifiers"), on=list(IDENTIFIERS), how="anti")
    plan.new_record_identifiers = added.select(
        "record", (pl.col("kind") + pl.lit(":") + pl.col("value")).alias("identifier")
    )
    stored_events = mirror.load("events")
    plan.new_events = run["events"].join(stored_events.select("id"), on="id", how="anti")
    plan.new_event_properties = run["event_properties"].join(
        plan.new_events.select("id"), on="id", how="semi"
    )
    stored_links = mirror.load("links")
    plan.new_links = run["links"].join(stored_links, on=list(LINK_ROWS), how="anti")
    plan.evidence = run["evidence"]
    plan.customers = customers
    plan.memberships = records.select("customer", pl.col("key").alias("record"))
    plan.customer_columns = dict(manifest.get("customer_columns") or {})
    plan.event_columns = dict(manifest.get("event_columns") or {})
    plan.ids = _history(stored, records, run["registry"], ids, issued, now)
    if manifest.get(MODEL_KEY):
        plan.meta[MODEL_KEY] = str(manifest[MODEL_KEY])
    born = {cid: (int(ts or 0), status) for cid, ts, status in issued.iter_rows()}
    registry = whole_registry(mirror, registry_rows(plan, born))
    plan.state = MirrorChanges(
        full=True,
        upserts={
            "records": records,
            "record_traits": run["record_traits"],
            "identifiers": held.sort("record", "kind", "value"),
            "blocks": run["blocks"],
            "verdicts": run["verdicts"],
            "links": pl.concat([stored_links, plan.new_links]),
            "apart": mirror.load("apart"),
            "events": run["events"].select("id", "record_key", "name", "ts"),
            "event_properties": run["event_properties"],
            "customers": customers,
            "registry": registry,
            "value_counts": count_rows(match_view(records, COUNTED_VIEW)),
        },
        customer_columns={**mirror.customer_columns, **plan.customer_columns},
        event_columns={**mirror.event_columns, **plan.event_columns},
        config=str(manifest.get("blocking") or ""),
    )
    return plan


def _check_covers(
    mirror: Mirror, stored: pl.DataFrame, run: dict[str, pl.DataFrame], erased: frozenset[str]
) -> None:
    """Refuse a run that would lose or undo what the store holds."""
    records = run["records"]
    missing = stored.join(records.select("key"), on="key", how="anti")["key"]
    if missing.len():
        raise StoreError(
            f"the store holds {missing.len()} records the run did not resolve (e.g. "
            f"{missing.sort()[0]}): load a run over every source the store was filled from, or "
            "ingest the files and re-resolve the store with `idgraph resolve --engine spark`"
        )
    events = mirror.load("events").join(run["events"].select("id"), on="id", how="anti")
    if events.height:
        raise StoreError(
            f"the store holds {events.height} events the run did not read (e.g. "
            f"{events['id'].sort()[0]}): resolve every event stream too, or re-resolve the "
            "store with `idgraph resolve --engine spark`"
        )
    customer = dict(records.select("key", "customer").iter_rows())
    for a, b in mirror.load("apart").select("a", "b").iter_rows():
        if customer.get(a) is not None and customer.get(a) == customer.get(b):
            raise StoreError(
                f"the run joins {a} and {b}, which a reviewer split apart (`idgraph split`): "
                "re-resolve the store with `idgraph resolve --engine spark`, which keeps them"
            )
    must = mirror.load("links").filter(pl.col("rule") == "must_link")
    for a, b in must.select("a", "b").iter_rows():
        if customer.get(a) != customer.get(b):
            raise StoreError(
                f"the run keeps {a} and {b} apart, which a reviewer linked (`idgraph link`): "
                "re-resolve the store with `idgraph resolve --engine spark`, which keeps them"
            )
    if erased:
        held = run["identifiers"].filter(pl.col("kind").is_in(list(REMEMBERED_KINDS)))
        hit = sum(erasure_hash(k, v) in erased for k, v in held.select("kind", "value").iter_rows())
        if hit:
            raise StoreError(
                f"the run holds {hit} identifiers erased from this store (`idgraph forget`): "
                "remove those lines from the inputs, or ingest them with `idgraph ingest`, "
                "which withholds them"
            )


def _stable_ids(
    issued: pl.DataFrame, stored: pl.DataFrame, records: pl.DataFrame
) -> dict[str, str]:
    """The run's customer id -> the id it keeps: a stored one where it holds that customer's
    records (the local engine's rule), else its own unless the store issued it before."""
    previous = stored.select("key", "customer").drop_nulls("customer")
    if previous.height == 0 and issued.height == 0:
        return {}
    firsts = (
        records.group_by("customer")
        .agg(pl.col("key").min().alias("first"))
        .sort("first")
        .with_row_index("label")
    )
    members = records.join(firsts, on="customer").select("label", "key").sort("key")
    created = {cid: int(ts or 0) for cid, ts in issued.select("id", "created_ts").iter_rows()}
    given = assign_component_ids(
        members, previous, created=created, taken=set(issued["id"].to_list())
    )
    chosen = firsts.join(given, on="label").select("customer", "id")
    return {run: kept for run, kept in chosen.iter_rows() if run != kept}


def _history(
    stored: pl.DataFrame,
    records: pl.DataFrame,
    registry: pl.DataFrame,
    ids: dict[str, str],
    registered: pl.DataFrame,
    now_ms: int,
) -> IdChanges:
    """Ids issued, absorbed, split off and records moved, against the stored customers."""
    changes = IdChanges()
    issued = set(registered["id"].to_list())
    run_created = {
        ids.get(cid, cid): int(ts or now_ms)
        for cid, ts in registry.select("id", "created_ts").iter_rows()
    }
    alive = sorted(set(records["customer"].to_list()))
    changes.created = [(cid, run_created.get(cid, now_ms)) for cid in alive if cid not in issued]
    previous = stored.select("key", "customer").drop_nulls("customer")
    if previous.height == 0:
        return changes
    before = dict(previous.iter_rows())
    after = list(records.select("customer", "key").iter_rows())
    found = lineage(before, after, [], [], previous_ids=set(before.values()))
    changes.merged = [(a.old, a.survivor, now_ms, a.evidence, a.records) for a in found.absorbed]
    changes.split = [(s.new, s.origin, now_ms, s.reason, s.records) for s in found.split_off]
    changes.moved = [
        (m.origin, m.target, now_ms, m.reason, m.evidence, m.records) for m in found.moved
    ]
    return changes
