"""What one run changes in the state mirror: rows to upsert and to delete, per table.

A full run writes every table anew; an incremental run writes the rows of the records it
re-resolved, the customers it wrote (and the stored ones whose RFM scores moved), and the
value counts its records change, counted from the scope alone (`counted_changes`): the
store is never counted again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from idgraph.block.keys import blocking_fingerprint, record_blocks
from idgraph.cluster.id_plan import registry_rows, whole_registry
from idgraph.frames import RECORDS, VALUE_COUNTS
from idgraph.match.config import MatchConfig
from idgraph.match.scored import COUNTED_VIEW, count_rows
from idgraph.match.view import match_view
from idgraph.state.merge import Merged
from idgraph.state.mirror import Mirror, MirrorChanges
from idgraph.state.scope import Scope
from idgraph.state.snapshot import Snapshot
from idgraph.store.plan import VERDICTS, WritePlan

__all__ = ["CountChanges", "counted_changes", "mirror_changes"]


@dataclass(slots=True)
class CountChanges:
    """The store's value counts (`count_rows`) around one incremental run."""

    #: Every value the scope's records hold now (and each field's total), counted over the
    #: whole store as it will be after the run: what the run's term frequencies read.
    scope: pl.DataFrame
    #: Rows whose count changes, and (field, value) rows no record holds any more.
    upserts: pl.DataFrame
    deletes: pl.DataFrame


def counted_changes(mirror: Mirror, snapshot: Snapshot, view: pl.DataFrame) -> CountChanges:
    """The kept counts, less the scope's records as they were, plus the scope's records as
    resolved (`view`). Scope-sized work: the whole store is never counted again."""
    before = count_rows(match_view(snapshot.records, COUNTED_VIEW))
    after = count_rows(view)
    keys = ["field", "value"]
    delta = (
        after.join(before, on=keys, how="full", coalesce=True, suffix="_before")
        .select(*keys, (pl.col("count").fill_null(0) - pl.col("count_before").fill_null(0)))
        .filter(pl.col("count") != 0)
    )
    stored = _counts_of(mirror, delta)
    changed = delta.join(stored, on=keys, how="left", suffix="_stored").select(
        *keys, (pl.col("count_stored").fill_null(0) + pl.col("count")).alias("count")
    )
    unchanged = after.join(changed.select(keys), on=keys, how="anti")
    kept = _counts_of(mirror, unchanged)
    upserts = changed.filter(pl.col("count") > 0).cast(VALUE_COUNTS)  # type: ignore[arg-type]
    return CountChanges(
        pl.concat([upserts, kept.cast(VALUE_COUNTS)]),  # type: ignore[arg-type]
        upserts,
        changed.filter(pl.col("count") <= 0).select(keys),
    )


def _counts_of(mirror: Mirror, wanted: pl.DataFrame) -> pl.DataFrame:
    """The kept value counts of the (field, value) rows of `wanted`."""
    keys = ["field", "value"]
    found = mirror.where("value_counts", "value", wanted["value"])
    return found.join(wanted.select(keys), on=keys, how="semi")


def mirror_changes(
    mirror: Mirror,
    plan: WritePlan,
    verdicts: pl.DataFrame,
    registry: Mapping[str, tuple[int, str]],
    merged: Merged,
    records: pl.DataFrame,
    view: pl.DataFrame,
    config: MatchConfig,
    snapshot: Snapshot,
    scope: Scope | None,
    links: pl.DataFrame,
    counts: CountChanges | None,
) -> MirrorChanges:
    """The mirror's rows this run changes (all of them on a full run)."""
    # A full run's blocks are those of today's rules: record it, or every later run is full.
    changes = MirrorChanges(
        full=scope is None,
        config=blocking_fingerprint(config) if scope is None else "",
        # A full run writes the mirror anew: it keeps the columns the store already has.
        customer_columns={
            **(snapshot.customer_columns if scope is None else {}),
            **plan.customer_columns,
        },
        event_columns={**(snapshot.event_columns if scope is None else {}), **plan.event_columns},
    )
    assigned = records.join(plan.memberships.rename({"record": "key"}), on="key", how="left")
    blocks = record_blocks(view, config.fuzzy)
    if scope is None:
        changes.upserts = {
            "records": assigned.select(*RECORDS, "customer"),
            "record_traits": merged.traits,
            "identifiers": merged.identifiers.sort("record", "kind", "value"),
            "blocks": blocks,
            "verdicts": verdicts.select(list(VERDICTS)),
            "links": links,
            "apart": pl.concat(
                [
                    snapshot.apart.join(plan.removed_apart, on=["a", "b"], how="anti"),
                    plan.new_apart,
                ]
            ),
            "events": pl.concat(
                [
                    snapshot.events.filter(~pl.col("record_key").is_in(plan.erased_records)),
                    plan.new_events.select("id", "record_key", "name", "ts"),
                ]
            ),
            "event_properties": pl.concat([snapshot.event_properties, plan.new_event_properties]),
            "customers": plan.customers,
            "registry": whole_registry(mirror, registry_rows(plan, registry)),
            "value_counts": count_rows(view),
        }
        return changes
    written = set(plan.memberships["record"].to_list())
    touched = pl.concat([merged.new.select("key"), merged.changed.select("key")])
    changes.upserts = {
        "records": assigned.filter(pl.col("key").is_in(list(written))).select(*RECORDS, "customer"),
        "record_traits": merged.traits.join(touched, left_on="record", right_on="key", how="semi"),
        "identifiers": merged.identifiers.join(
            touched, left_on="record", right_on="key", how="semi"
        ),
        "blocks": blocks.join(touched, left_on="record", right_on="key", how="semi"),
        "verdicts": pl.concat([plan.new_identifiers, plan.changed_identifiers]),
        "links": plan.new_links,
        "apart": plan.new_apart,
        "events": plan.new_events.select("id", "record_key", "name", "ts"),
        "event_properties": plan.new_event_properties,
        "customers": _with_rfm_updates(mirror, plan),
        "registry": registry_rows(plan, registry),
    }
    if counts is not None:
        changes.upserts["value_counts"] = counts.upserts
    gone = pl.DataFrame({"key": plan.erased_records}, schema={"key": pl.Utf8})
    alive = set(plan.customers["id"].to_list())
    retired = [c for c in plan.retired_customers if c not in alive]
    changes.deletes = {
        "records": gone,
        "record_traits": gone.rename({"key": "record"}),
        "identifiers": gone.rename({"key": "record"}),
        "blocks": gone.rename({"key": "record"}),
        "events": snapshot.events.filter(pl.col("record_key").is_in(plan.erased_records)).select(
            "id"
        ),
        "event_properties": snapshot.events.filter(
            pl.col("record_key").is_in(plan.erased_records)
        ).select("id"),
        "links": snapshot.links.filter(
            pl.col("a").is_in(plan.erased_records) | pl.col("b").is_in(plan.erased_records)
        ).select("a", "b", "rule"),
        "apart": pl.concat(
            [
                snapshot.apart.filter(
                    pl.col("a").is_in(plan.erased_records) | pl.col("b").is_in(plan.erased_records)
                ).select("a", "b"),
                plan.removed_apart,
            ]
        ),
        "customers": pl.DataFrame({"id": retired}, schema={"id": pl.Utf8}),
    }
    if counts is not None:
        changes.deletes["value_counts"] = counts.deletes
    return changes


def _with_rfm_updates(mirror: Mirror, plan: WritePlan) -> pl.DataFrame:
    """The written customers, and stored ones whose RFM scores moved (whole rows)."""
    if plan.trait_updates.height == 0:
        return plan.customers
    ids = plan.trait_updates["id"]
    stored = mirror.where("customers", "id", ids)
    moved = stored.update(plan.trait_updates, on="id")
    return pl.concat([plan.customers, moved], how="diagonal_relaxed")
