"""Leave out of a run's plan what its customers would write exactly as stored, and note
which customers only some columns and new records change.

Rewriting an unchanged customer, or evidence that came out the same, is correct but the
costliest write the embedded engine has; see `keep_unchanged`.
"""

from __future__ import annotations

import polars as pl

from idgraph.frames import FIELDS
from idgraph.state.merge import Merged
from idgraph.state.mirror import Mirror
from idgraph.state.scope import Scope
from idgraph.state.snapshot import Snapshot
from idgraph.store.plan import WritePlan

__all__ = ["keep_unchanged"]


def keep_unchanged(
    mirror: Mirror, plan: WritePlan, snapshot: Snapshot, scope: Scope, merged: Merged
) -> None:
    """Leave out of the plan what the scope's customers would write exactly as stored.

    Most of a scope is neighbours: records read because the batch might join them, whose
    customer ends up with the same records and the same traits. Rewriting those would be
    correct but is the costliest write the embedded engine has (deleting nodes and
    relationships scattered through the store), so a customer is kept as stored when its id,
    its records and every property but `updated_ts` are unchanged, and none of its records
    gained an event or could have different computed evidence: none is new, changed, erased
    or named by a link or override, none holds an identifier whose verdict changed, and none
    sits in a block crossing the size cap.

    A customer with the same id and records, none of which could have different computed
    evidence, keeps its records' stored evidence even when its row is rewritten: deleting and
    copying the same relationships again is one keyed write per record on the embedded
    engine. Its fuzzy evidence is every fuzzy match among its records (a guard refuses a link
    only between records that never share a customer), which only their fields, identifiers
    and blocks decide: an event, a newer `updated_ts` or a source trait changes its row, not
    its evidence.

    A customer that keeps its id and every record it had is written as the columns that
    changed and the records it gained (`_update_in_place`).
    """
    rematched = set(merged.new["key"].to_list()) | _matched_differently(snapshot, merged)
    rematched |= set(plan.erased_records)
    rematched |= set(plan.new_links["a"].to_list()) | set(plan.new_links["b"].to_list())
    rematched |= set(plan.new_apart["a"].to_list()) | set(plan.new_apart["b"].to_list())
    rematched |= set(plan.removed_apart["a"].to_list()) | set(plan.removed_apart["b"].to_list())
    rematched |= scope.unsettled
    for key in plan.changed_identifiers["key"].to_list():
        rematched |= scope.holders.get(key, set())
    dirty = rematched | set(merged.changed["key"].to_list())
    dirty |= set(plan.new_events["record_key"].to_list())
    before = snapshot.assignment.group_by("customer").agg(pl.col("key").sort())
    now = plan.memberships.group_by("customer").agg(pl.col("record").sort().alias("key"))
    same_members = now.join(before, on=["customer", "key"], how="semi")
    evidence_kept = same_members.filter(
        ~pl.col("key").list.eval(pl.element().is_in(list(rematched))).list.any()
    )
    _keep_evidence(plan, set(evidence_kept["key"].explode().to_list()))
    kept = _kept_records(now, before)
    if kept.height == 0:
        return
    stored = mirror.where("customers", "id", set(kept["customer"].to_list()))
    if stored.height == 0:
        return
    clean = evidence_kept.filter(
        ~pl.col("key").list.eval(pl.element().is_in(list(dirty))).list.any()
    )
    candidates = set(clean["customer"].to_list())
    written = plan.customers.filter(pl.col("id").is_in(list(candidates)))
    same = _same_rows(written, stored) if candidates else set()
    if same:
        plan.customers = plan.customers.filter(~pl.col("id").is_in(list(same)))
        plan.memberships = plan.memberships.filter(~pl.col("customer").is_in(list(same)))
        plan.retired_customers = [c for c in plan.retired_customers if c not in same]
    _update_in_place(plan, kept.filter(~pl.col("customer").is_in(list(same))), stored)


def _kept_records(now: pl.DataFrame, before: pl.DataFrame) -> pl.DataFrame:
    """The customers that keep their id and every record they had: customer, the records
    they gain (`gained`)."""
    both = now.join(before, on="customer", how="inner", suffix="_before")
    return both.filter(
        pl.col("key_before").list.set_difference(pl.col("key")).list.len() == 0
    ).select("customer", pl.col("key").list.set_difference(pl.col("key_before")).alias("gained"))


def _update_in_place(plan: WritePlan, kept: pl.DataFrame, stored: pl.DataFrame) -> None:
    """Note the customers that keep their id and records as updates of the columns that
    changed, and the records they gained.

    A returning visitor's event or a new record joining a known customer changes a few of
    its columns (`last_seen_ts`, `record_count`, `sources`, `updated_ts`...). Deleting it and
    writing it again at the end of the `Customer` table with its `HAS_RECORD` pairs wrote
    every column into the write-ahead log, and the next checkpoint rewrote the table's last
    storage group and the pairs' adjacency. Set in place, only the changed columns are
    logged and folded: a fifth less log per call of the service's load, so a fifth fewer
    checkpoints under steady load (docs/serve.md).
    """
    ids = set(kept["customer"].to_list()) & set(stored["id"].to_list())
    written = plan.customers.filter(pl.col("id").is_in(list(ids)))
    if written.height == 0:
        return
    ids = set(written["id"].to_list())
    rows = _row_changes(written, stored)
    changed = _changed_columns(written, stored, rows)
    plan.customer_updates = (
        written.select("id", *[name for name in changed if name in written.columns])
        .with_columns(pl.lit(None).alias(name) for name in changed if name not in written.columns)
        .with_columns(rows)
    )
    plan.gained_memberships = (
        kept.filter(pl.col("customer").is_in(list(ids)))
        .explode("gained")
        .drop_nulls("gained")
        .select("customer", pl.col("gained").alias("record"))
    )


def _row_changes(written: pl.DataFrame, stored: pl.DataFrame) -> pl.Series:
    """Per written customer, the columns its row holds differently from its stored row, and
    the stored columns the written rows leave out that its stored row fills (they become
    null): `changed`, a list, in the written columns' order, then the stored ones'.

    The customers of one micro-batch change different few columns (a track call
    `updated_ts`, a new record `record_count` and `sources`), and LadybugDB keeps memory per
    column it sets and storage group it touches until a checkpoint: setting each row's own
    columns held half the memory of setting them all at 1M customers (docs/serve.md).
    """
    names = [c for c in written.columns if c != "id"]
    cleared = [c for c in stored.columns if c not in written.columns]
    filled = stored.select("id", *[pl.col(c).is_not_null().alias(f"{c}__filled") for c in cleared])
    both = written.join(
        _aligned(stored, written), on="id", how="left", suffix="__stored", maintain_order="left"
    ).join(filled, on="id", how="left", maintain_order="left")
    flags = [pl.when(pl.col(n).ne_missing(pl.col(f"{n}__stored"))).then(pl.lit(n)) for n in names]
    flags += [pl.when(pl.col(f"{c}__filled").fill_null(False)).then(pl.lit(c)) for c in cleared]
    if not flags:
        return pl.Series("changed", [[]] * written.height, dtype=pl.List(pl.Utf8))
    return both.select(pl.concat_list(flags).list.drop_nulls().alias("changed"))["changed"]


def _changed_columns(written: pl.DataFrame, stored: pl.DataFrame, rows: pl.Series) -> list[str]:
    """The columns any of `written` changes (`rows`: its `_row_changes`), in the written
    order, then stored columns the written rows leave out but some stored row fills (they
    become null)."""
    seen = set(rows.explode().drop_nulls().to_list())
    ordered = [c for c in written.columns if c != "id"]
    ordered += [c for c in stored.columns if c not in written.columns]
    return [name for name in ordered if name in seen]


def _aligned(stored: pl.DataFrame, written: pl.DataFrame) -> pl.DataFrame:
    """Stored rows with the written rows' columns and types (a column the store lacks is
    null)."""
    names = written.columns
    right = stored.select([c for c in names if c in stored.columns])
    missing = [c for c in names if c not in right.columns]
    if missing:
        right = right.with_columns(pl.lit(None).alias(c) for c in missing)
    return right.select(names).cast(dict(written.schema), strict=False)  # type: ignore[arg-type]


def _matched_differently(snapshot: Snapshot, merged: Merged) -> set[str]:
    """The changed records whose fields or identifiers changed: what matching reads of them."""
    changed = merged.changed
    if changed.height == 0:
        return set()
    columns = ["key", *FIELDS]
    fields = changed.select(columns).join(
        snapshot.records.select(columns), on=columns, how="anti", nulls_equal=True
    )
    keys = changed.select(pl.col("key").alias("record"))
    before = snapshot.identifiers.join(keys, on="record", how="semi")
    now = merged.identifiers.join(keys, on="record", how="semi")
    on = ["record", "kind", "value"]
    grown = now.join(before, on=on, how="anti", nulls_equal=True)
    lost = before.join(now, on=on, how="anti", nulls_equal=True)
    return set(fields["key"].to_list()) | set(grown["record"].to_list()) | set(lost["record"])


def _keep_evidence(plan: WritePlan, records: set[str]) -> None:
    """Leave the stored computed evidence of `records` as it is: not deleted, not written."""
    if not records:
        return
    plan.scope_records = [k for k in plan.scope_records if k not in records]
    plan.evidence = plan.evidence.filter(~pl.col("a").is_in(list(records)))


def _same_rows(written: pl.DataFrame, stored: pl.DataFrame) -> set[str]:
    """Ids whose written row equals the stored one in every column but `updated_ts`."""
    names = [c for c in written.columns if c != "updated_ts"]
    extra = [c for c in stored.columns if c not in written.columns and c != "updated_ts"]
    left = written.select(names)
    right = _aligned(stored, left)
    same = left.join(right, on=names, how="semi", nulls_equal=True)["id"]
    result = set(same.to_list())
    if extra:
        present = stored.filter(pl.any_horizontal([pl.col(c).is_not_null() for c in extra]))["id"]
        result -= set(present.to_list())
    return result
