"""What each written customer row holds: its review flag, its computed and source traits,
its RFM scores among all buyers, and the columns the store must add for them.

Resolution decides which records make each customer (`idgraph.resolve`); this fills the rows
those customers are written as. RFM scores are quintiles over every buyer, so an incremental
run also rescores stored customers a moved cut crossed (`trait_updates`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from idgraph.cluster.customers import Customers
from idgraph.cluster.split import ComponentSplit
from idgraph.stages import Progress
from idgraph.state.mirror import Mirror
from idgraph.state.snapshot import Snapshot
from idgraph.store.plan import WritePlan
from idgraph.store.schema import NODE_TABLES, ColumnType
from idgraph.traits.columns import new_columns, typed_column
from idgraph.traits.compute import Ints, TraitEvents, compute_trait_columns, rfm_codes
from idgraph.traits.config import TraitsConfig
from idgraph.traits.rfm_book import RFM_BOOK, Rescored, RfmBook

__all__ = ["customer_rows"]


def customer_rows(
    plan: WritePlan,
    customers: Customers,
    splits: Sequence[ComponentSplit],
    snapshot: Snapshot,
    record_traits: pl.DataFrame,
    traits: TraitsConfig,
    *,
    as_of_ms: int,
    mirror: Mirror | None,
    progress: Progress,
) -> None:
    """Set the plan's customer rows, their new columns and the stored buyers to rescore.

    Args:
        record_traits: the resolved records' source traits (long form).
        mirror: the stored state, on an incremental run: RFM cuts are read from every stored
            buyer there. None on a full run, whose rows hold every buyer already.
    """
    plan.customers = _flagged(customers, splits, plan)
    progress("traits", 0, plan.customers.height)
    plan.customers = _add_traits(plan, snapshot, traits, as_of_ms)
    if mirror is not None and traits.builtins.rfm is not None:
        _rescore_rfm(mirror, plan)
    progress("traits", plan.customers.height, plan.customers.height)
    plan.customer_columns = _customer_columns(record_traits, plan.customers, traits, snapshot)
    plan.customers = _type_traits(
        plan.customers, customers, traits, snapshot, plan.customer_columns
    )


def _flagged(
    customers: Customers, splits: Sequence[ComponentSplit], plan: WritePlan
) -> pl.DataFrame:
    """Customers cut out of an oversized component go to review, with the reason."""
    rows = customers.rows
    reason_of = {key: split.reason for split in splits for key in split.record_keys}
    if not reason_of:
        return rows
    flagged = (
        plan.memberships.filter(pl.col("record").is_in(list(reason_of)))
        .with_columns(pl.col("record").replace_strict(reason_of, return_dtype=pl.Utf8).alias("why"))
        .group_by("customer")
        .agg(pl.col("why").first())
    )
    return (
        rows.join(flagged, left_on="id", right_on="customer", how="left")
        .with_columns(
            pl.when(pl.col("why").is_not_null())
            .then(True)
            .otherwise(pl.col("flagged"))
            .alias("flagged"),
            pl.when(pl.col("why").is_not_null())
            .then(pl.lit("split: ") + pl.col("why"))
            .otherwise(pl.col("flag_reason"))
            .alias("flag_reason"),
        )
        .drop("why")
    )


def _add_traits(
    plan: WritePlan,
    snapshot: Snapshot,
    traits: TraitsConfig,
    as_of_ms: int,
) -> pl.DataFrame:
    """Every computed trait of the written customers (typed later with the source traits)."""
    events = pl.concat(
        [
            snapshot.events.select("id", "record_key", "name", "ts"),
            plan.new_events.select("id", "record_key", "name", "ts"),
        ]
    ).join(plan.memberships.rename({"record": "record_key"}), on="record_key", how="inner")
    # Sums of floats depend on their order: one order, whatever order the events were read
    # or stored in, so every run (local, or a Spark bucket) gives the same totals.
    events = events.sort("customer", "ts", "id")
    properties = pl.concat([snapshot.event_properties, plan.new_event_properties])
    rows = plan.customers
    computed = compute_trait_columns(
        traits,
        TraitEvents(events.select("customer", "name", "ts", "id"), properties),
        customers=rows["id"],
        as_of_ms=as_of_ms,
        birth_dates=rows["birth_date"],
    )
    return pl.concat([rows, computed], how="horizontal") if computed.width else rows


def _rescore_rfm(mirror: Mirror, plan: WritePlan) -> None:
    """Score the written buyers against every buyer, and rescore stored ones that moved.

    RFM scores are quintiles over all buyers, so they cannot be computed for the touched
    customers alone: every score a full run would change is changed, found through the
    stored buyers' sorted measures (`RfmBook`) rather than by ranking everyone again.
    """
    written = plan.customers
    skip = set(written["id"].to_list()) | set(plan.retired_customers)
    buyers = written.filter(pl.col("rfm_orders").fill_null(0) > 0)

    def rescore(book: RfmBook) -> Rescored:
        return book.rescore(skip, buyers)

    result = mirror.derived("customers", RFM_BOOK, RfmBook.of, rescore)
    plan.customers = written.update(_rfm_rows(buyers["id"], *result.mine), on="id")
    plan.trait_updates = _rfm_rows(result.moved_ids, *result.moved)


def _rfm_rows(ids: pl.Series, recency: Ints, frequency: Ints, monetary: Ints) -> pl.DataFrame:
    """Customers' RFM score columns, as a customer row holds them."""
    return pl.DataFrame(
        {
            "id": ids,
            "rfm_recency": recency,
            "rfm_frequency": frequency,
            "rfm_monetary": monetary,
            "rfm_score": rfm_codes(recency, frequency, monetary),
        }
    )


def _customer_columns(
    record_traits: pl.DataFrame,
    customers: pl.DataFrame,
    traits: TraitsConfig,
    snapshot: Snapshot,
) -> dict[str, ColumnType]:
    """Columns for source traits and computed traits; a computed trait's type wins."""
    existing = snapshot.customer_columns
    declared = traits.columns()
    columns = {
        name: kind
        for name, kind in new_columns("Customer", record_traits, existing).items()
        if name not in declared
    }
    undeclared = [
        name for name, kind in declared.items() if kind is None and name in customers.columns
    ]
    for name in undeclared:
        if name in existing:
            continue
        values = customers[name].drop_nulls()
        if values.len() == 0:
            continue
        kinds = {_python_kind(v) for v in values.unique().to_list()}
        kinds.discard(None)
        if kinds:
            columns[name] = kinds.pop() if len(kinds) == 1 else "STRING"  # type: ignore[assignment]
    columns.update({name: kind for name, kind in declared.items() if kind and name not in existing})
    return dict(sorted(columns.items()))


def _python_kind(value: Any) -> ColumnType | None:
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int | float):
        return "DOUBLE"
    if isinstance(value, str):
        return "STRING"
    return None


def _type_traits(
    rows: pl.DataFrame,
    customers: Customers,
    traits: TraitsConfig,
    snapshot: Snapshot,
    added: Mapping[str, ColumnType],
) -> pl.DataFrame:
    """Source traits as typed customer columns; a computed trait of the same name wins."""
    types = {**snapshot.customer_columns, **added}
    long = customers.traits
    if long.height == 0:
        return rows
    computed = set(rows.columns)
    columns = []
    for name, part in long.partition_by("name", as_dict=True, maintain_order=True).items():
        trait = str(name[0] if isinstance(name, tuple) else name)
        if trait in computed or trait in NODE_TABLES["Customer"] or trait not in types:
            continue
        values = typed_column(part["value"], types[trait]).alias(trait)
        columns.append(pl.DataFrame({"id": part["customer"], trait: values}))
    for extra in columns:
        rows = rows.join(extra, on="id", how="left")
    return rows
