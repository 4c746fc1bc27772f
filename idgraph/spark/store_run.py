"""`idgraph resolve --engine spark` without files: re-resolve everything a store holds on Spark.

The store's folded rows (its resolution mirror: records with their customer, identifiers,
links, cannot-links, traits, events, the id registry) are written out as Parquet, resolved
on Spark as a file run is (`resolve_folded`, with each stored customer kept within one
shard), and the buckets' customers, memberships, evidence and id history come back as one
full `WritePlan`, written by the local engine's own write path (`pipeline.write_plan`): the
store's history, segments and mirror change as they do after `idgraph resolve`. Nothing is
written until every bucket has succeeded; a Spark failure leaves the store as it was.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import polars as pl
from pydantic import BaseModel

from idgraph.block.keys import blocking_fingerprint
from idgraph.cluster.id_plan import whole_registry
from idgraph.errors import StoreError
from idgraph.match.config import MatchConfig, load_match_config
from idgraph.match.scored import COUNTED_VIEW, MODEL_KEY, count_rows
from idgraph.match.view import match_view
from idgraph.pipeline import count_segment_changes, write_plan
from idgraph.resolve import PlanStats, verdict_changes
from idgraph.run_record import make_run_record
from idgraph.settings import open_store
from idgraph.spark.exchange import read_parts, write_part
from idgraph.spark.resolution import (
    Laps,
    Resolved,
    resolve_folded,
    rfm_rescores,
    with_rfm_scores,
)
from idgraph.spark.session import spark_session
from idgraph.spark.shards import StoredState
from idgraph.stages import StageTimer
from idgraph.state.mirror import MIRROR_TABLES, Mirror, MirrorChanges
from idgraph.state.rebuild import open_mirror
from idgraph.store.plan import EVIDENCE, VERDICTS, IdChanges, WritePlan
from idgraph.traits.config import TraitsConfig, load_traits_config

__all__ = ["StoreRunReport", "resolve_store"]

#: The mirror tables a store run hands to Spark; the rest it reads back from the mirror.
_EXPORTED = (
    "records",
    "identifiers",
    "links",
    "record_traits",
    "events",
    "event_properties",
    "apart",
    "registry",
)
_PART_ROWS = 250_000


class StoreRunReport(BaseModel):
    """What re-resolving a store on Spark did."""

    store: str
    records: int
    customers: int
    pairs_compared: int
    links_blocked: int
    merged_ids: int
    split_ids: int
    moved_records: int
    segment_changes: dict[str, dict[str, int]]
    shards: int
    largest_shard: int
    buckets: int
    label_rounds: int
    seconds: float
    stage_seconds: dict[str, float]


def resolve_store(
    store: str | Path | None = None,
    *,
    database: str | None = None,
    master: str = "local[2]",
    conf: Mapping[str, str] | None = None,
    spark: Any = None,
    match_config: MatchConfig | Path | str | None = None,
    traits: TraitsConfig | Path | str | None = None,
    as_of_ms: int | None = None,
    buckets: int | None = None,
    train_records: int = 2_000_000,
    work_dir: Path | str | None = None,
) -> StoreRunReport:
    """Re-resolve every record of a store on Spark, then write the result into the store.

    The customers, ids and history are those `idgraph resolve` (the local engine) gives on
    the same store and configs. The store stays open, so no other run writes in between.

    Args:
        work_dir: where the exported rows and the run's part files go; on a cluster a
            folder every executor reads and writes at the same path (default: a temporary
            folder on this machine, enough for `local[N]`).

    Raises:
        SparkJobError: Spark failed; the store was not written.
        StoreError: the store failed, or changed while Spark ran.
    """
    started = time.perf_counter()
    config = (
        match_config if isinstance(match_config, MatchConfig) else load_match_config(match_config)
    )
    trait_config = traits if isinstance(traits, TraitsConfig) else load_traits_config(traits)
    as_of = as_of_ms if as_of_ms is not None else int(time.time() * 1000)
    lap = Laps()
    if work_dir is not None:
        Path(work_dir).mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="idgraph-spark-store-", dir=work_dir)).resolve()
    try:
        with open_store(store, database=database) as graph:
            mirror = open_mirror(graph, config)
            records_total = _export(mirror, work / "folded")
            lap("export")
            if records_total == 0:
                return _nothing(graph.location, started, lap)
            with spark_session(master, conf, session=spark) as session:
                session.sparkContext.setCheckpointDir(str(work / "checkpoints"))
                resolved = resolve_folded(
                    session,
                    work / "folded",
                    work / "result",
                    config=config,
                    traits=trait_config,
                    as_of_ms=as_of,
                    requested=buckets,
                    train_records=train_records,
                    lap=lap,
                    stored=StoredState(dict(mirror.customer_columns), dict(mirror.event_columns)),
                )
            plan, stats = _assemble(mirror, work / "result", resolved, config, trait_config)
            if plan.memberships.height != records_total:
                raise StoreError(
                    f"the Spark run resolved {plan.memberships.height} of {records_total} "
                    "records; nothing was written"
                )
            if graph.state_version() != mirror.version:
                raise StoreError(
                    f"{graph.location} changed while Spark ran; nothing was written (run again)"
                )
            run = make_run_record(
                ts=int(time.time() * 1000),
                full=True,
                files=[],
                rejects_path=None,
                stats=stats,
                records_new=0,
                customers_touched=plan.customers.height,
            )
            plan.meta[run.key] = run.model_dump_json()
            lap("assemble")
            timer = StageTimer()
            moved = write_plan(graph, mirror, plan, timer=timer, as_of_ms=as_of)
            lap("write")
            location = str(graph.location)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    facts = resolved.facts
    return StoreRunReport(
        store=location,
        records=stats.records_total,
        customers=plan.customers.height,
        pairs_compared=stats.pairs,
        links_blocked=stats.blocked,
        merged_ids=len(plan.ids.merged),
        split_ids=len(plan.ids.split),
        moved_records=len(plan.ids.moved),
        segment_changes=count_segment_changes(moved),
        shards=facts.shards,
        largest_shard=facts.largest_shard,
        buckets=resolved.buckets,
        label_rounds=facts.rounds,
        seconds=round(time.perf_counter() - started, 3),
        stage_seconds=lap.seconds,
    )


def _nothing(location: object, started: float, lap: Laps) -> StoreRunReport:
    """The report of a store without records: nothing to send to Spark."""
    return StoreRunReport(
        store=str(location),
        records=0,
        customers=0,
        pairs_compared=0,
        links_blocked=0,
        merged_ids=0,
        split_ids=0,
        moved_records=0,
        segment_changes={},
        shards=0,
        largest_shard=0,
        buckets=0,
        label_rounds=0,
        seconds=round(time.perf_counter() - started, 3),
        stage_seconds=lap.seconds,
    )


def _export(mirror: Mirror, folded: Path) -> int:
    """The mirror's folded rows as Parquet parts Spark reads; returns the records' count."""
    records = 0
    for name in _EXPORTED:
        frame = mirror.load(name)
        if name == "records":
            records = frame.height
        chunks = max(1, -(-frame.height // _PART_ROWS))
        for part in range(chunks):
            write_part(frame.slice(part * _PART_ROWS, _PART_ROWS), folded, name, part)
    return records


def _assemble(
    mirror: Mirror,
    result: Path,
    resolved: Resolved,
    config: MatchConfig,
    traits: TraitsConfig,
) -> tuple[WritePlan, PlanStats]:
    """One full plan from the buckets' parts, as a local full run of the store plans it."""
    records = read_parts(result, "records", MIRROR_TABLES["records"].schema).sort("key")
    customers = read_parts(result, "customers")
    if customers.width and traits.builtins.rfm is not None:
        customers = with_rfm_scores(customers, rfm_rescores(customers))
    if customers.width:
        customers = customers.sort("id")
    verdicts = _verdicts(result)
    plan = WritePlan(full=True)
    plan.retired_customers = sorted(set(mirror.load("records")["customer"].drop_nulls().to_list()))
    plan.scope_records = records["key"].to_list()
    plan.memberships = records.select("customer", pl.col("key").alias("record"))
    plan.customers = customers
    plan.evidence = read_parts(result, "evidence", EVIDENCE)
    plan.new_identifiers, plan.changed_identifiers = verdict_changes(
        verdicts, mirror.load("verdicts")
    )
    ids = IdChanges()
    sizes: Counter[int] = Counter()
    not_linking: Counter[str] = Counter()
    links: Counter[str] = Counter()
    refused: Counter[tuple[str, str]] = Counter()
    kept_apart: Counter[str] = Counter()
    for row in resolved.rows:
        plan.customer_columns.update(orjson.loads(row["customer_columns"]))
        plan.event_columns.update(orjson.loads(row["event_columns"]))
        sizes.update({int(k): v for k, v in orjson.loads(row["sizes"]).items()})
        not_linking.update(orjson.loads(row["not_linking"]))
        links.update(orjson.loads(row["links"]))
        refused.update({(r, g): n for r, g, n in orjson.loads(row["refused"])})
        kept_apart.update(orjson.loads(row["kept_apart"]))
        changed = orjson.loads(row["ids"])
        ids.created += [tuple(x) for x in changed["created"]]
        ids.merged += [tuple(x) for x in changed["merged"]]
        ids.split += [tuple(x) for x in changed["split"]]
        ids.moved += [tuple(x) for x in changed["moved"]]
        ids.erased += [tuple(x) for x in changed["erased"]]
    for name in ("created", "merged", "split", "moved", "erased"):
        setattr(ids, name, sorted(getattr(ids, name)))
    plan.ids = ids
    model = resolved.model
    if model is not None and not model.notes.get("shipped"):
        plan.meta[MODEL_KEY] = model.to_json()
    changed = read_parts(result, "registry", MIRROR_TABLES["registry"].schema)
    blocks = read_parts(result, "blocks")
    plan.state = MirrorChanges(
        full=True,
        config=blocking_fingerprint(config),
        upserts={
            "records": records,
            "record_traits": mirror.load("record_traits"),
            "identifiers": mirror.load("identifiers"),
            "blocks": blocks.sort("record", "block") if blocks.width else blocks,
            "verdicts": verdicts,
            "links": mirror.load("links"),
            "apart": mirror.load("apart"),
            "events": mirror.load("events"),
            "event_properties": mirror.load("event_properties"),
            "customers": customers,
            "registry": whole_registry(mirror, changed),
            "value_counts": count_rows(match_view(records, COUNTED_VIEW)),
        },
        customer_columns={**mirror.customer_columns, **plan.customer_columns},
        event_columns={**mirror.event_columns, **plan.event_columns},
    )
    stats = PlanStats(
        unchanged=0,
        events_duplicate=0,
        records_total=records.height,
        not_linking=dict(sorted(not_linking.items())),
        blocked=sum(int(r["blocked"]) for r in resolved.rows),
        pairs=sum(int(r["pairs"]) for r in resolved.rows),
        sizes=[size for size, n in sorted(sizes.items()) for _ in range(n)],
        splits=[],
        kept_apart=dict(kept_apart),
        links=dict(links),
        refused=dict(refused),
    )
    return plan, stats


def _verdicts(result: Path) -> pl.DataFrame:
    """Every identifier value's verdict, as the facts step wrote them (one row per value)."""
    return read_parts(result, "identifiers", VERDICTS).unique("key", keep="first").sort("key")
