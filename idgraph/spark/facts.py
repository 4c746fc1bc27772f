"""What only the whole data set knows, found with Spark before the shards are resolved.

- Identifier holders: a value shared by more records than its kind's `max_records`, or of
  a kind that does not link, is judged by `identifier_verdicts` over all its holders here;
  it joins nothing, so it does not hold a shard together.
- Blocks: their sizes over all records; a block over the cap pairs nothing, the others
  hold their records in one shard.
- Shards: connected components of the graph of linking identifiers, capped blocks and
  explicit links (`label_components`); every record of a possible match is in one shard.
- Verdicts of the other identifiers: `identifier_verdicts` per bucket of whole shards.
- Value counts of the scored fields (`value_frequencies` per partition, summed).
- The match model: learned on the driver by the local engine's own `scored_matches`, from
  every record when there are at most `train_records` of them (then it is the model the
  local engine learns), from a random sample of that many otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl
import pyarrow as pa

from idgraph.block.keys import SEPARATOR, record_blocks
from idgraph.frames import IDENTIFIERS, RECORDS, empty
from idgraph.match.config import MatchConfig
from idgraph.match.decide import identifier_verdicts, learned_aliases
from idgraph.match.households import none_found, unlike_names_at_one_address
from idgraph.match.model import MatchModel
from idgraph.match.scored import (
    Frequencies,
    Lift,
    checks_households,
    guarded_view,
    lift_of,
    scored_matches,
    value_frequencies,
)
from idgraph.match.view import VIEW_FIELDS, match_view, with_customer_ids
from idgraph.spark.components import label_components
from idgraph.spark.exchange import tagged, to_arrow, untag
from idgraph.store.plan import LINK_ROWS

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["Facts", "find_facts", "household_lift", "learn_model"]

_VERDICT_ARROW = pa.schema(
    [
        ("key", pa.string()),
        ("kind", pa.string()),
        ("value", pa.string()),
        ("linking", pa.bool_()),
        ("reason", pa.string()),
    ]
)
_INDEX_ARROW = pa.schema(
    [(name, pa.string()) for name in ("tag", "record", "block", "field", "value")]
    + [("n", pa.int64())]
)
_VERDICT_SPARK = "key string, kind string, value string, linking boolean, reason string"
_HOUSEHOLD_SPARK = "pairs long, same long"
#: What the household check reads of a record.
_HOUSEHOLD_FIELDS = ["key", "first_name", "last_name", "street", "postcode", "birth_date"]
_INDEX_SPARK = "tag string, record string, block string, field string, value string, n long"


@dataclass(slots=True)
class Facts:
    """The whole data set's facts, as Spark frames and driver-side values."""

    #: record key -> bucket of whole shards.
    buckets: DataFrame
    #: (key, kind, value, linking, reason) of every identifier value.
    verdicts: DataFrame
    #: (block, size) of every block over the cap, and (record, block) of their members.
    oversized: DataFrame
    oversized_members: DataFrame
    frequencies: Frequencies | None
    records_total: int
    shards: int
    largest_shard: int
    rounds: int
    #: Seconds of label propagation (with the blocks and holders it reads).
    components_seconds: float


def _index_partition(
    batches: Iterator[pa.RecordBatch], config: MatchConfig
) -> Iterator[pa.RecordBatch]:
    """Blocks and value counts of a partition's records, with the local engine's view."""
    fields = list(config.scoring.fields) if any(r.scored for r in config.fuzzy) else []
    for batch in batches:
        records = pl.from_arrow(batch)
        assert isinstance(records, pl.DataFrame)
        view = match_view(records.cast(RECORDS), VIEW_FIELDS)  # type: ignore[arg-type]
        blocks = record_blocks(view, config.fuzzy)
        parts = [
            blocks.select(
                pl.lit("block").alias("tag"),
                "record",
                "block",
                pl.lit(None, pl.Utf8).alias("field"),
                pl.lit(None, pl.Utf8).alias("value"),
                pl.lit(1, pl.Int64).alias("n"),
            )
        ]
        for name, (counts, _total) in value_frequencies(view, fields).items():
            parts.append(
                counts.select(
                    pl.lit("count").alias("tag"),
                    pl.lit(None, pl.Utf8).alias("record"),
                    pl.lit(None, pl.Utf8).alias("block"),
                    pl.lit(name).alias("field"),
                    pl.col("value").cast(pl.Utf8),
                    pl.col("count").cast(pl.Int64).alias("n"),
                )
            )
        yield from to_arrow(pl.concat(parts), _INDEX_ARROW).to_batches()


def _household_bucket(table: pa.Table) -> pa.Table:
    """`unlike_names_at_one_address` over a bucket of whole postcodes."""
    frame = pl.from_arrow(table.select(_HOUSEHOLD_FIELDS))
    assert isinstance(frame, pl.DataFrame)
    view = match_view(frame.cast(dict.fromkeys(_HOUSEHOLD_FIELDS, pl.Utf8)), _HOUSEHOLD_FIELDS[1:])
    pairs, same = unlike_names_at_one_address(view)
    return pa.table({"pairs": pa.array([pairs], pa.int64()), "same": pa.array([same], pa.int64())})


def household_lift(
    records: DataFrame, config: MatchConfig, records_total: int, buckets: int
) -> Lift | None:
    """The household check a local full run makes before it learns its model
    (`idgraph.match.scored.household_lift`), over all the records: counted per bucket of
    whole postcodes (every address lies in one) and summed. None where it does not apply
    (no model learned: fewer records than `scoring.min_records`; or the setting off)."""
    from pyspark.sql import functions as F

    if (
        not any(rule.scored for rule in config.fuzzy)
        or records_total < config.scoring.min_records
        or not checks_households(config)
    ):
        return None
    postcode = F.regexp_replace(F.coalesce(F.col("postcode"), F.lit("")), " ", "")
    counted = (
        records.select(*_HOUSEHOLD_FIELDS)
        .withColumn("_bucket", F.pmod(F.xxhash64(postcode), F.lit(max(buckets, 1))))
        .groupBy("_bucket")
        .applyInArrow(_household_bucket, _HOUSEHOLD_SPARK)
        .agg(F.sum("pairs").alias("pairs"), F.sum("same").alias("same"))
        .first()
    )
    pairs = int(counted["pairs"] or 0) if counted is not None else 0
    same = int(counted["same"] or 0) if counted is not None else 0
    return lift_of(none_found(pairs, same), {"pairs": pairs, "same_birth_date": same}, config)


def _settle_partition(
    batches: Iterator[pa.RecordBatch], config: MatchConfig
) -> Iterator[pa.RecordBatch]:
    """Verdicts of identifier values no shard decides (all their holders are here)."""
    tables = [pa.Table.from_batches([b]) for b in batches]
    if not tables:
        return
    frame = pl.from_arrow(pa.concat_tables(tables))
    assert isinstance(frame, pl.DataFrame)
    identifiers = frame.select(list(IDENTIFIERS)).cast(IDENTIFIERS)  # type: ignore[arg-type]
    verdicts = identifier_verdicts(empty(RECORDS), identifiers, empty(LINK_ROWS), config)
    yield from to_arrow(verdicts, _VERDICT_ARROW).to_batches()


def _verdict_bucket(table: pa.Table, config: MatchConfig) -> pa.Table:
    """Verdicts of the identifiers whose holders all sit in this bucket's shards."""
    parts = untag(
        table,
        {
            "r": RECORDS,
            "i": IDENTIFIERS,
            "l": LINK_ROWS,
            "v": {"key": pl.Utf8, "linking": pl.Boolean, "reason": pl.Utf8},
        },
    )
    records = parts["r"].sort("key")
    settled = parts["v"].unique("key")
    verdicts = identifier_verdicts(
        records,
        parts["i"],
        parts["l"],
        config,
        settled=settled,
        view=match_view(records, VIEW_FIELDS),
    ).join(settled.select("key"), on="key", how="anti")
    return to_arrow(verdicts, _VERDICT_ARROW)


def find_facts(
    spark: SparkSession,
    records: DataFrame,
    identifiers: DataFrame,
    links: DataFrame,
    config: MatchConfig,
    buckets: int,
    *,
    together: DataFrame | None = None,
) -> Facts:
    """Verdicts, block caps, value counts, shards and their buckets (see the module docs).

    `together` (group, record) holds more groups of records to keep in one shard, as a
    capped block does: a store run's stored customers.
    """
    from pyspark.sql import functions as F

    if any(part.field == "customer_id" for rule in config.fuzzy for part in rule.block_on):
        # The customer id is an identifier; the rules that block on it read it as a field.
        ids = (
            identifiers.filter(F.col("kind") == "customer_id")
            .groupBy(F.col("record").alias("key"))
            .agg(F.min("value").alias("customer_id"))
        )
        records = records.join(ids, "key", "left")
    index = records.mapInArrow(lambda it: _index_partition(it, config), _INDEX_SPARK).cache()
    blocks = index.filter(F.col("tag") == "block").select("record", "block")
    sizes = blocks.groupBy("block").agg(F.count("*").alias("size"))
    cap = F.lit(config.max_block_size)
    for rule in config.fuzzy:
        if rule.max_block_size is not None:
            named = F.col("block").startswith(f"{rule.name}{SEPARATOR}")
            cap = F.when(named, F.lit(rule.max_block_size)).otherwise(cap)
    sizes = sizes.withColumn("cap", cap)
    oversized = sizes.filter(F.col("size") > F.col("cap")).drop("cap").cache()
    frequencies = _frequencies(index, config)
    rules = spark.createDataFrame(
        [(str(r.kind), bool(r.link), int(r.max_records)) for r in config.identifiers],
        "kind string, link boolean, max_records long",
    )
    keyed = identifiers.withColumn("key", F.concat(F.col("kind"), F.lit(":"), F.col("value")))
    holders = (
        keyed.groupBy("key", "kind")
        .agg(F.count("*").alias("holders"))
        .join(rules, "kind", "left")
        .withColumn(
            "open",
            F.coalesce(F.col("link"), F.lit(False)) & (F.col("holders") <= F.col("max_records")),
        )
        .cache()
    )
    closed = keyed.join(holders.filter(~F.col("open")).select("key"), "key", "semi")
    settled = (
        closed.select("record", "kind", "value", "key")
        .repartition(buckets, "key")
        .mapInArrow(lambda it: _settle_partition(it, config), _VERDICT_SPARK)
        .cache()
    )
    node = F.xxhash64
    shared = keyed.join(
        holders.filter(F.col("open") & (F.col("holders") >= 2)).select("key"), "key", "semi"
    ).select(F.col("key").alias("group"), node("record").alias("member"))
    capped = blocks.join(
        sizes.filter((F.col("size") >= 2) & (F.col("size") <= F.col("cap"))),
        "block",
        "semi",
    ).select(F.col("block").alias("group"), node("record").alias("member"))
    groups = shared.union(capped)
    if together is not None:
        groups = groups.union(
            together.select(
                F.concat(F.lit("customer:"), F.col("group")).alias("group"),
                node("record").alias("member"),
            )
        )
    roots = groups.groupBy("group").agg(F.min("member").alias("root"))
    edges = (
        groups.join(roots, "group")
        .filter(F.col("member") != F.col("root"))
        .select(F.col("member").alias("src"), F.col("root").alias("dst"))
        .union(links.select(node("a").alias("src"), node("b").alias("dst")))
        .distinct()
    )
    started = time.perf_counter()
    labels, rounds = label_components(edges)
    components_seconds = time.perf_counter() - started
    placed = (
        records.select("key", node("key").alias("node"))
        .join(labels, "node", "left")
        .select("key", F.coalesce(F.col("label"), F.col("node")).alias("shard"))
        .withColumn("bucket", F.pmod(F.col("shard"), F.lit(buckets)))
        .cache()
    )
    shard_sizes = placed.groupBy("shard").agg(F.count("*").alias("n"))
    summary = shard_sizes.agg(F.count("*").alias("shards"), F.max("n").alias("largest")).first()
    records_total = placed.count()
    bucket_of_record = placed.select("key", "bucket")
    stacked = tagged(
        {
            "r": (records.join(bucket_of_record, "key"), F.col("bucket")),
            "i": (
                identifiers.join(bucket_of_record.withColumnRenamed("key", "record"), "record"),
                F.col("bucket"),
            ),
            "l": (links.join(bucket_of_record.withColumnRenamed("key", "a"), "a"), F.col("bucket")),
            "v": (
                keyed.join(bucket_of_record.withColumnRenamed("key", "record"), "record")
                .join(settled.select("key", "linking", "reason"), "key")
                .select("bucket", "key", "linking", "reason")
                .distinct(),
                F.col("bucket"),
            ),
        }
    )
    decided = stacked.groupBy("_bucket").applyInArrow(
        lambda t: _verdict_bucket(t, config), _VERDICT_SPARK
    )
    verdicts = settled.unionByName(decided).cache()
    return Facts(
        buckets=bucket_of_record,
        verdicts=verdicts,
        oversized=oversized,
        oversized_members=blocks.join(oversized, "block"),
        frequencies=frequencies,
        records_total=records_total,
        shards=int(summary["shards"]) if summary else 0,
        largest_shard=int(summary["largest"] or 0) if summary else 0,
        rounds=rounds,
        components_seconds=round(components_seconds, 3),
    )


def _frequencies(index: DataFrame, config: MatchConfig) -> Frequencies | None:
    from pyspark.sql import functions as F

    if not any(r.scored for r in config.fuzzy):
        return None
    summed = (
        index.filter(F.col("tag") == "count")
        .groupBy("field", "value")
        .agg(F.sum("n").alias("count"))
        .toArrow()
    )
    frame = pl.from_arrow(summed)
    assert isinstance(frame, pl.DataFrame)
    out: dict[str, tuple[pl.DataFrame, int]] = {}
    for name in config.scoring.fields:
        counts = frame.filter(pl.col("field") == name).select(
            pl.col("value").cast(pl.Utf8), pl.col("count").cast(pl.Int64)
        )
        out[name] = (counts, int(counts["count"].sum()))
    return out


def learn_model(
    records: DataFrame,
    identifiers: DataFrame,
    verdicts: DataFrame,
    config: MatchConfig,
    records_total: int,
    train_records: int,
    seed: int = 7,
    lift: Lift | None = None,
) -> tuple[MatchModel | None, Frequencies | None]:
    """The match model every shard scores with (None without scored rules), and the value
    counts it scores with when they are known better than the facts' (else None).

    Learned on the driver by `scored_matches`, as a local full run learns it, from all the
    records when they are at most `train_records`, else from a sample of about that many.
    The local run counts values on the guarded view (email local parts and phones a guard
    refused are blanked); on all the records the driver does the same, and those counts
    replace the facts' (counted before the verdicts were known).
    """
    from pyspark.sql import functions as F

    if not any(r.scored for r in config.fuzzy):
        return None, None
    sample = records
    if records_total > train_records:
        sample = records.sample(fraction=train_records / records_total, seed=seed)
    table = sample.toArrow()
    chosen = pl.from_arrow(table)
    assert isinstance(chosen, pl.DataFrame)
    chosen = chosen.cast(RECORDS).sort("key")  # type: ignore[arg-type]
    refused = verdicts.filter(~F.col("linking") & F.col("kind").isin("email", "phone")).select(
        "key"
    )
    refused_keys = pl.from_arrow(refused.toArrow())
    assert isinstance(refused_keys, pl.DataFrame)
    held = pl.from_arrow(
        identifiers.join(sample.select(F.col("key").alias("record")), "record", "semi")
        .select("record", "kind", "value")
        .toArrow()
    )
    assert isinstance(held, pl.DataFrame)
    held = held.cast(IDENTIFIERS)  # type: ignore[arg-type]
    view = match_view(with_customer_ids(chosen, held), VIEW_FIELDS)
    aliases = None
    if "first_name" in config.scoring.must_agree:
        linking = pl.from_arrow(verdicts.filter(F.col("linking")).select("key").toArrow())
        assert isinstance(linking, pl.DataFrame)
        aliases = learned_aliases(chosen, held, linking["key"].cast(pl.Utf8), config, view)
    guarded = guarded_view(view, chosen, refused_keys["key"].cast(pl.Utf8))
    model = scored_matches(guarded, config, aliases=aliases, lift=lift).model
    whole = records_total <= train_records
    return model, value_frequencies(guarded, list(config.scoring.fields)) if whole else None
