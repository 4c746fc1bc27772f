"""What a run does to customer ids: which it issues, which merge, split, move or are erased.

Customer ids are stable across runs (`idgraph.cluster.ids`); the registry (the `registry`
table of the state mirror, and `CustomerId` nodes in the store) remembers every id ever
issued with its status, so an id is never given out twice and `idgraph history` can say what
became of one. Resolution (`idgraph.resolve`) reads the entries it needs and records the run's
changes in the plan's `ids`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from idgraph.cluster.components import Clustering
from idgraph.cluster.customers import Customers
from idgraph.cluster.ids import new_customer_id
from idgraph.cluster.lineage import lineage
from idgraph.match.decide import Evidence
from idgraph.match.edges import evidence_objects
from idgraph.models import BlockedLink
from idgraph.state.mirror import Mirror
from idgraph.store.plan import WritePlan

__all__ = ["IdReasons", "id_registry", "plan_ids", "registry_rows", "whole_registry"]


@dataclass(frozen=True, slots=True)
class IdReasons:
    """Why the run's splits and merges happen, when a person asked for them."""

    #: The reason a split off id records (an erasure, a reviewer's split); "" when matching.
    split: str = ""
    #: Put before each merge's evidence when a reviewer's split was undone.
    undone: str = ""


def id_registry(
    mirror: Mirror, previous_ids: pl.Series, keys: pl.Series, clustering: Clustering
) -> dict[str, tuple[int, str]]:
    """Registry entries (created_ts, status) of the previous ids and of the ids new
    components would be given, so an id is never issued twice."""
    if mirror.files.get("registry") is None or not (
        mirror.files["registry"].base_rows + mirror.files["registry"].delta_rows
    ):
        return {}
    firsts = np.unique(clustering.labels)
    bases = {new_customer_id([k]) for k in keys.gather(firsts).to_list()}
    wanted = set(previous_ids.to_list()) | bases
    found = {
        row[0]: (int(row[1] or 0), row[2] or "active")
        for row in mirror.where("registry", "id", wanted).iter_rows()
    }
    taken = [b for b in bases if b in found]
    if taken:
        suffixed = [f"{b}-{n}" for b in taken for n in range(2, 10)]
        found.update(
            {
                row[0]: (int(row[1] or 0), row[2] or "active")
                for row in mirror.where("registry", "id", suffixed).iter_rows()
            }
        )
    return found


def plan_ids(
    plan: WritePlan,
    registry: Mapping[str, tuple[int, str]],
    previous: pl.DataFrame,
    before_ids: pl.Series,
    customers: Customers,
    keys: pl.Series,
    evidence: Evidence,
    clustering: Clustering,
    reasons: IdReasons,
    now_ms: int,
) -> None:
    """Record what happened to customer ids: issued, absorbed, split off, records moved, erased."""
    alive = customers.rows["id"]
    everyone = pl.concat([alive, before_ids]).unique().sort()
    missing = everyone.filter(~everyone.is_in(list(registry)))
    alive_set = set(alive.to_list())
    plan.ids.created = [(cid, now_ms if cid in alive_set else 0) for cid in missing.to_list()]
    before_set = set(before_ids.to_list())
    if previous.height == 0:
        plan.ids.erased = [(cid, now_ms) for cid in sorted(before_set - alive_set)]
        return
    now = customers.memberships.rename({"record": "key", "customer": "new"})
    paired = previous.join(now, on="key", how="left")
    stable = (
        paired.group_by("customer")
        .agg(pl.col("new").n_unique().alias("n"), pl.col("new").first().alias("only"))
        .filter((pl.col("n") == 1) & (pl.col("only") == pl.col("customer")))
    )
    affected = paired.join(stable.select("customer"), on="customer", how="anti")
    if affected.height:
        before = dict(affected.select("key", "customer").iter_rows())
        targets = set(affected["new"].drop_nulls().to_list())
        after_rows = customers.memberships.filter(pl.col("customer").is_in(list(targets)))
        touched = set(before) | set(after_rows["record"].to_list())
        near_record = pl.Series([k in touched for k in keys.to_list()])
        edges = evidence.edges
        near = (near_record.gather(edges["a"]) | near_record.gather(edges["b"])).to_numpy()
        accepted = evidence_objects(
            keys, edges, np.flatnonzero(clustering.accepted & near).tolist()
        )
        refused = [(i, r) for i, r in clustering.blocked if near[i]]
        objects = evidence_objects(keys, edges, [i for i, _ in refused])
        blocked = [BlockedLink(e, r) for e, (_, r) in zip(objects, refused, strict=True)]
        changes = lineage(
            before,
            list(after_rows.select("customer", "record").iter_rows()),
            accepted,
            blocked,
            split_reason=reasons.split,
            previous_ids=before_set,
        )
        plan.ids.merged = [
            (a.old, a.survivor, now_ms, reasons.undone + a.evidence, a.records)
            for a in changes.absorbed
        ]
        plan.ids.split = [(s.new, s.origin, now_ms, s.reason, s.records) for s in changes.split_off]
        plan.ids.moved = [
            (m.origin, m.target, now_ms, m.reason, m.evidence, m.records) for m in changes.moved
        ]
    absorbed = {old for old, *_ in plan.ids.merged}
    plan.ids.erased = [(cid, now_ms) for cid in sorted(before_set - alive_set - absorbed)]


def whole_registry(mirror: Mirror, changed: pl.DataFrame) -> pl.DataFrame:
    """Every registry entry, with this run's changes (a full run rewrites the table)."""
    stored = mirror.load("registry").join(changed.select("id"), on="id", how="anti")
    return pl.concat([stored, changed]).sort("id")


def registry_rows(plan: WritePlan, registry: Mapping[str, tuple[int, str]]) -> pl.DataFrame:
    """Registry rows this run writes: ids issued, and ids retired by a merge or erasure."""
    created = dict(plan.ids.created)

    def born(cid: str) -> int:
        return created.get(cid, registry.get(cid, (0, ""))[0])

    rows = [(cid, ts, "active") for cid, ts in plan.ids.created]
    rows += [(old, born(old), "merged") for old, *_ in plan.ids.merged]
    rows += [(cid, born(cid), "erased") for cid, _ in plan.ids.erased]
    return pl.DataFrame(
        {
            "id": [r[0] for r in rows],
            "created_ts": [r[1] for r in rows],
            "status": [r[2] for r in rows],
        },
        schema={"id": pl.Utf8, "created_ts": pl.Int64, "status": pl.Utf8},
    ).unique(subset=["id"], keep="last")
