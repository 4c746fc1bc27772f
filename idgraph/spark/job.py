"""One Spark run: inputs in, a folder of Parquet tables out, all or nothing."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import polars as pl
from pydantic import BaseModel

from idgraph.block.keys import blocking_fingerprint
from idgraph.errors import InputError
from idgraph.ingest.batch import check_inputs
from idgraph.ingest.mapping import SourceMapping
from idgraph.match.config import MatchConfig, load_match_config
from idgraph.match.scored import MODEL_KEY
from idgraph.normalize.record import NormalizeOptions
from idgraph.spark.load import MANIFEST
from idgraph.spark.read import fold_buckets, read_files
from idgraph.spark.resolution import (
    Laps,
    bucket_count,
    resolve_folded,
    rfm_rescores,
    with_rfm_scores,
)
from idgraph.spark.session import spark_errors, spark_session
from idgraph.spark.shards import OUTPUT_TABLES
from idgraph.traits.config import TraitsConfig, load_traits_config

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)

__all__ = ["SparkReport", "resolve_files"]


class SparkReport(BaseModel):
    """What a Spark run did, for the summary and for `idgraph load`."""

    output: str
    files: list[dict[str, Any]]
    rejects_path: str | None
    records: int
    customers: int
    pairs_compared: int
    links_blocked: int
    identifiers_not_linking: dict[str, int]
    cluster_sizes: dict[int, int]
    components_split: list[dict[str, Any]]
    shards: int
    largest_shard: int
    buckets: int
    label_rounds: int
    model_trained_on: int
    seconds: float
    stage_seconds: dict[str, float]


def resolve_files(
    paths: Sequence[Path | str],
    output: Path | str,
    *,
    master: str = "local[2]",
    conf: Mapping[str, str] | None = None,
    spark: SparkSession | None = None,
    match_config: MatchConfig | Path | str | None = None,
    traits: TraitsConfig | Path | str | None = None,
    options: NormalizeOptions | None = None,
    mappings: Mapping[Path, SourceMapping] | None = None,
    as_of_ms: int | None = None,
    buckets: int | None = None,
    train_records: int = 2_000_000,
) -> SparkReport:
    """Resolve input files on Spark into a folder of Parquet tables (docs/spark.md).

    The same mappings, normalization, matching and golden-record rules as `idgraph ingest`;
    on the same files the customers are the same (same records, same ids). The folder
    appears only when the whole run succeeded: the work goes to a hidden folder beside it,
    renamed at the end and removed on failure.

    Args:
        paths: CSV tables (mapping beside them) and JSONL event streams, on a file system
            every executor reads at the same path.
        output: the folder to create (must not exist, or be empty).
        master: Spark master when no `spark` session is given (`local[2]`, `yarn`, ...).
        conf: extra Spark settings (`spark.executor.memory`, ...).
        spark: a session to use (kept open).
        buckets: how many buckets of shards to resolve (default: 2 per core, at least one
            per 50,000 records).
        train_records: the match model learns from all records up to this many (then it
            is the local engine's model), else from a sample of this many.

    Raises:
        InputError: an input is unusable, or `output` is not empty.
        SparkJobError: Spark failed; nothing was written.
    """
    started = time.perf_counter()
    out = Path(output)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError("the output folder exists and is not empty", path=out)
    config = (
        match_config if isinstance(match_config, MatchConfig) else load_match_config(match_config)
    )
    trait_config = traits if isinstance(traits, TraitsConfig) else load_traits_config(traits)
    options = options or NormalizeOptions()
    plans = check_inputs([Path(p) for p in paths], mappings=mappings)
    work = out.parent / f".{out.name}.spark-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True)
    try:
        with spark_session(master, conf, session=spark) as session:
            session.sparkContext.setCheckpointDir(str((work / "checkpoints").resolve()))
            report = _run(
                session,
                plans,
                work.resolve(),
                out,
                config,
                trait_config,
                options,
                as_of_ms if as_of_ms is not None else int(time.time() * 1000),
                buckets,
                train_records,
                started,
            )
        _publish(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return report


def _run(
    spark: SparkSession,
    plans: Sequence[Any],
    work: Path,
    out: Path,
    config: MatchConfig,
    traits: TraitsConfig,
    options: NormalizeOptions,
    as_of_ms: int,
    requested: int | None,
    train_records: int,
    started: float,
) -> SparkReport:

    stage = work / "stage"
    result = work / "result"
    lap = Laps()
    with spark_errors("reading the inputs"):
        counts = read_files(spark, plans, options, stage)
    lap("read")
    fold_count = bucket_count(spark, sum(c.ingested for c in counts), requested)
    with spark_errors("folding sightings into records"):
        fold_buckets(spark, stage, fold_count)
    lap("fold")
    resolved = resolve_folded(
        spark,
        stage / "folded",
        result,
        config=config,
        traits=traits,
        as_of_ms=as_of_ms,
        requested=requested,
        train_records=train_records,
        lap=lap,
    )
    rows, facts, model, count = resolved.rows, resolved.facts, resolved.model, resolved.buckets
    if traits.builtins.rfm is not None:
        _rescore_rfm(result)
    lap("rfm")
    rejects = _gather_rejects(stage, work / "rejects.jsonl")
    sizes: Counter[int] = Counter()
    not_linking: Counter[str] = Counter()
    customer_columns: dict[str, str] = {}
    event_columns: dict[str, str] = {}
    splits: list[dict[str, Any]] = []
    for row in rows:
        sizes.update({int(k): v for k, v in orjson.loads(row["sizes"]).items()})
        not_linking.update(orjson.loads(row["not_linking"]))
        customer_columns.update(orjson.loads(row["customer_columns"]))
        event_columns.update(orjson.loads(row["event_columns"]))
        splits.extend(orjson.loads(row["splits"]))
    report = SparkReport(
        output=str(out),
        files=[
            {
                "path": c.path,
                "source": c.source,
                "read": c.read,
                "ingested": c.ingested,
                "rejected": c.rejected,
                "note": c.note,
                "refused": c.refused,
            }
            for c in counts
        ],
        rejects_path=str(out / "rejects.jsonl") if rejects else None,
        records=sum(int(r["records"]) for r in rows),
        customers=sum(int(r["customers"]) for r in rows),
        pairs_compared=sum(int(r["pairs"]) for r in rows),
        links_blocked=sum(int(r["blocked"]) for r in rows),
        identifiers_not_linking=dict(sorted(not_linking.items())),
        cluster_sizes=dict(sorted(sizes.items())),
        components_split=splits,
        shards=facts.shards,
        largest_shard=facts.largest_shard,
        buckets=count,
        label_rounds=facts.rounds,
        model_trained_on=min(facts.records_total, train_records),
        seconds=round(time.perf_counter() - started, 3),
        stage_seconds=lap.seconds,
    )
    manifest = {
        "format": 1,
        "report": report.model_dump(mode="json"),
        "blocking": blocking_fingerprint(config),
        "match_config": config.model_dump(mode="json"),
        MODEL_KEY: model.to_json()
        if model is not None and not model.notes.get("shipped")
        else None,
        "customer_columns": dict(sorted(customer_columns.items())),
        "event_columns": dict(sorted(event_columns.items())),
        "tables": list(("identifiers", *OUTPUT_TABLES)),
    }
    (result / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True), "utf-8")
    if rejects:
        os.replace(work / "rejects.jsonl", result / "rejects.jsonl")
    return report


def _rescore_rfm(result: Path) -> None:
    """Score every part's buyers again over all of them (`rfm_rescores`), reading only the
    measures of every part and rewriting each part once."""
    parts = sorted((result / "customers").glob("part-*.parquet"))
    measured = [p for p in parts if "rfm_orders" in pl.read_parquet_schema(p)]
    if not measured:
        return
    columns = ["id", "rfm_last_order_ts", "rfm_orders", "rfm_spent"]
    scores = rfm_rescores(pl.concat([pl.read_parquet(p, columns=columns) for p in measured]))
    for path in measured:
        updated = with_rfm_scores(pl.read_parquet(path), scores)
        scratch = path.with_name(f".{path.name}.rfm")
        updated.write_parquet(scratch)
        os.replace(scratch, path)


def _gather_rejects(stage: Path, target: Path) -> bool:
    """One rejects file from the per-file parts, in input order; False when none."""
    parts = sorted((stage / "rejects").glob("part-*.jsonl"))
    if not parts:
        return False
    with target.open("wb") as sink:
        for part in parts:
            with part.open("rb") as source:
                shutil.copyfileobj(source, sink)
    return True


def _publish(work: Path, out: Path) -> None:
    """Move the finished tables into place; only then does `out` exist."""
    result = work / "result"
    if out.exists():
        out.rmdir()
    os.replace(result, out)
    shutil.rmtree(work, ignore_errors=True)
