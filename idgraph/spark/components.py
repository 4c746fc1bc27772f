"""Connected components in Spark SQL: the smallest id wins, until no label changes.

Nodes are 64-bit hashes of record keys. A hash collision would only put two shards in one
bucket, which changes nothing: a shard is a set of records no match can leave, and a
union of such sets is one too.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

logger = logging.getLogger(__name__)

__all__ = ["label_components"]


def label_components(edges: DataFrame, *, checkpoint_every: int = 3) -> tuple[DataFrame, int]:
    """Each node of `edges` (columns src, dst: longs) with the smallest node of its
    component, as (node, label); and the number of rounds it took.

    Each round a node takes the smallest label among itself and its neighbours, then the
    label of its label (pointer jumping: a chain of n nodes settles in about log n rounds
    instead of n). Labels are always nodes of the same component and only go down, so when
    no label changes every component is labelled by its smallest node. The labels are
    cut from their plan every round (a local checkpoint) and written to the checkpoint
    folder every few rounds, so a lost executor does not recompute every round.
    """
    from pyspark.sql import functions as F

    both = (
        edges.select("src", "dst")
        .union(edges.select(F.col("dst").alias("src"), F.col("src").alias("dst")))
        .distinct()
        .cache()
    )
    labels = both.select(F.col("src").alias("node"), F.col("src").alias("label")).distinct()
    labels = labels.localCheckpoint()
    rounds = 0
    while True:
        rounds += 1
        offered = both.join(labels, both.src == labels.node).select(
            F.col("dst").alias("node"), "label"
        )
        # Each node's label before the round rides along as `old`: whether anything changed
        # is then a filter on the round's own rows, not another join.
        lowest = (
            labels.select("node", "label", F.col("label").alias("old"))
            .unionByName(offered.withColumn("old", F.lit(None).cast("long")))
            .groupBy("node")
            .agg(F.min("label").alias("label"), F.max("old").alias("old"))
        )
        jumped = (
            lowest.alias("n")
            .join(lowest.alias("l"), F.col("n.label") == F.col("l.node"), "left")
            .select(
                F.col("n.node").alias("node"),
                F.least(F.col("n.label"), F.coalesce(F.col("l.label"), F.col("n.label"))).alias(
                    "label"
                ),
                F.col("n.old").alias("old"),
            )
            # Materialised once, its plan cut: each round's plan would otherwise nest the
            # previous one four times over.
            .localCheckpoint()
        )
        changed = jumped.filter(F.col("label") != F.col("old")).limit(1).count()
        jumped = jumped.select("node", "label")
        if rounds % checkpoint_every == 0:
            # A reliable copy, read from the local one: a lost executor then costs the
            # rounds since, not all of them.
            jumped = jumped.checkpoint()
        labels = jumped
        logger.info("components: round %d, labels still changing: %s", rounds, bool(changed))
        if not changed:
            break
    both.unpersist()
    return labels, rounds
