"""Folded tables to resolved buckets: the half of a Spark run that files and stores share.

A file run (`idgraph.spark.job`) reads and folds its inputs first; a store run
(`idgraph.spark.store_run`) starts from the store's own folded rows. From there both find the
whole data set's facts, learn the model on the driver and resolve each bucket of whole shards
with `plan_changes`; the buckets write their part files under `result`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from idgraph.match.config import MatchConfig
from idgraph.match.model import MatchModel
from idgraph.match.scored import lifted_config
from idgraph.spark.exchange import tagged
from idgraph.spark.facts import Facts, find_facts, household_lift, learn_model
from idgraph.spark.session import spark_errors
from idgraph.spark.shards import BUCKET_SPARK, ShardJob, StoredState, resolve_bucket
from idgraph.traits.compute import rfm_codes, rfm_scores
from idgraph.traits.config import TraitsConfig

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, Row, SparkSession

__all__ = [
    "Laps",
    "Resolved",
    "bucket_count",
    "resolve_folded",
    "rfm_rescores",
    "with_rfm_scores",
]


class Laps:
    """Seconds of each step of a run, named as it ends (`laps("facts")`)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._clock = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(now - self._clock, 3)
        self._clock = now


@dataclass(slots=True)
class Resolved:
    """What the buckets reported, with the facts and model they were given."""

    rows: list[Row]
    facts: Facts
    model: MatchModel | None
    buckets: int


def bucket_count(spark: SparkSession, records: int | None, requested: int | None) -> int:
    """Buckets of shards to resolve: as asked, else 2 per core and one per 50,000 records."""
    if requested:
        return requested
    parallel = int(spark.sparkContext.defaultParallelism)
    by_size = (records or 0) // 50_000
    return max(4, 2 * parallel, by_size)


def resolve_folded(
    spark: SparkSession,
    folded: Path,
    result: Path,
    *,
    config: MatchConfig,
    traits: TraitsConfig,
    as_of_ms: int,
    requested: int | None,
    train_records: int,
    lap: Laps,
    stored: StoredState | None = None,
) -> Resolved:
    """Resolve the folded tables under `folded` (records, identifiers, links, record_traits,
    events, event_properties; with `stored`, also apart and registry, and records carry their
    stored `customer`) into part files under `result`.

    With `stored`, each stored customer is kept within one shard (its records are grouped
    as a block is), so every bucket sees whole customers of before and after and gives the
    ids the local engine gives: the same lineage, the same history.
    """
    from pyspark.sql import functions as F

    def table(name: str) -> DataFrame:
        return spark.read.parquet(str(folded / name))

    records, identifiers, links = table("records"), table("identifiers"), table("links")
    together = None
    if stored is not None:
        together = records.filter(F.col("customer").isNotNull()).select(
            F.col("customer").alias("group"), F.col("key").alias("record")
        )
        records_read = records
        records = records.drop("customer")
    with spark_errors("finding shards, verdicts and block sizes"):
        total = records.count()
        count = bucket_count(spark, total, requested)
        lift = household_lift(records, config, total, count)
        config = lifted_config(config, lift.fields if lift is not None else [])
        facts = find_facts(spark, records, identifiers, links, config, count, together=together)
        lap.seconds["facts: components"] = facts.components_seconds
        facts.verdicts.write.parquet(str(result / "identifiers"))
    lap("facts")
    with spark_errors("learning the match model"):
        model, counted = learn_model(
            records,
            identifiers,
            facts.verdicts,
            config,
            facts.records_total,
            train_records,
            lift=lift,
        )
    lap("model")
    job = ShardJob(
        config=config,
        traits=traits,
        model=model,
        frequencies=counted if counted is not None else facts.frequencies,
        records_total=facts.records_total,
        as_of_ms=as_of_ms,
        now_ms=int(time.time() * 1000),
        out=result,
        stored=stored,
    )
    placed = facts.buckets
    by_record = placed.withColumnRenamed("key", "record")
    events = table("events").join(placed.withColumnRenamed("key", "record_key"), "record_key")
    parts: dict[str, tuple[Any, Any]] = {
        "r": ((records_read if stored is not None else records).join(placed, "key"), "bucket"),
        "i": (identifiers.join(by_record, "record"), "bucket"),
        "l": (links.join(placed.withColumnRenamed("key", "a"), "a"), "bucket"),
        "t": (table("record_traits").join(by_record, "record"), "bucket"),
        "e": (events, "bucket"),
        "p": (
            table("event_properties").join(events.select("id", "bucket"), "id"),
            "bucket",
        ),
        "v": (
            identifiers.withColumn("key", F.concat("kind", F.lit(":"), "value"))
            .join(by_record, "record")
            .join(facts.verdicts.select("key", "linking", "reason"), "key")
            .select("bucket", "key", "linking", "reason")
            .distinct(),
            "bucket",
        ),
        "b": (
            facts.oversized_members.join(by_record, "record")
            .select("bucket", "block", "size")
            .distinct(),
            "bucket",
        ),
    }
    if stored is not None:
        parts["a"] = (table("apart").join(placed.withColumnRenamed("key", "a"), "a"), "bucket")
        parts["g"] = (_registry_for_buckets(table("registry"), records_read, placed), "bucket")
    stacked = tagged({tag: (frame, F.col(col)) for tag, (frame, col) in parts.items()})
    with spark_errors("resolving the shards"):
        rows = (
            stacked.groupBy("_bucket")
            .applyInArrow(lambda t: resolve_bucket(t, job), BUCKET_SPARK)
            .collect()
        )
    lap("resolve")
    return Resolved(rows=rows, facts=facts, model=model, buckets=count)


def _registry_for_buckets(registry: DataFrame, records: DataFrame, placed: DataFrame) -> DataFrame:
    """The registry entries a bucket may look up: its records' stored customer ids, and the
    ids a new customer of its records could be given (`C-<hash of key>`, with any `-N`)."""
    from pyspark.sql import functions as F

    def base(column: Any) -> Any:
        return F.substring(column, 1, 14)

    wanted = (
        records.join(placed, "key")
        .select("bucket", F.concat(F.lit("C-"), F.substring(F.sha1("key"), 1, 12)).alias("base"))
        .unionByName(
            records.filter(F.col("customer").isNotNull())
            .join(placed, "key")
            .select("bucket", base(F.col("customer")).alias("base"))
        )
        .distinct()
    )
    return (
        registry.withColumn("base", base(F.col("id")))
        .join(wanted, "base")
        .select("bucket", "id", "created_ts", "status")
        .distinct()
    )


def rfm_rescores(measures: pl.DataFrame) -> pl.DataFrame | None:
    """RFM scores are quintiles over every buyer: buckets scored their own buyers, so the
    scores are set again over all of them from the measures (id, rfm_last_order_ts,
    rfm_orders, rfm_spent), which are per customer and stay. None without RFM measures."""
    if "rfm_orders" not in measures.columns:
        return None
    buyers = measures.filter(pl.col("rfm_orders").fill_null(0) > 0)
    recency, frequency, monetary = rfm_scores(
        buyers["rfm_last_order_ts"].cast(pl.Int64).to_numpy(),
        buyers["rfm_orders"].cast(pl.Int64).to_numpy(),
        buyers["rfm_spent"].cast(pl.Float64).fill_null(0.0).to_numpy(),
    )
    return pl.DataFrame(
        {
            "id": buyers["id"],
            "rfm_recency": recency,
            "rfm_frequency": frequency,
            "rfm_monetary": monetary,
            "rfm_score": rfm_codes(recency, frequency, monetary),
        }
    )


def with_rfm_scores(frame: pl.DataFrame, scores: pl.DataFrame | None) -> pl.DataFrame:
    """`frame`'s customers with their scores from `rfm_rescores` (others as they are)."""
    if scores is None or scores.height == 0:
        return frame
    mine = scores.join(frame.select("id"), on="id", how="semi")
    return frame.update(mine.cast({c: frame.schema[c] for c in scores.columns}), on="id")
