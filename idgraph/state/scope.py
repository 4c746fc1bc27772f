"""Which stored records an incremental ingest must re-resolve, found with joins on the mirror.

A batch can only change the customers its records could join: the holders of the identifiers
its records carry, the members of their fuzzy blocks a rule matches, and, transitively, every
record of those customers and every record tied to them by an explicit link or cannot-link
(and, one step out, by a linking identifier a guard kept apart). Re-resolving that closure
with the store-wide guard facts (identifier verdicts decided over all holders, whole-store
block sizes) gives the grouping a full re-resolve gives; the records it touches grow with the
batch, not the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from idgraph.block.keys import block_cap
from idgraph.frames import FIELDS
from idgraph.match.config import MatchConfig
from idgraph.match.decide import fuzzy_matches
from idgraph.match.model import MatchModel
from idgraph.match.scored import (
    COUNTED_VIEW,
    count_rows,
    counted_frequencies,
    guarded_view,
    possible_links,
)
from idgraph.match.view import VIEW_FIELDS, match_view, with_customer_ids
from idgraph.state.mirror import Mirror

__all__ = ["Scope", "find_scope", "id_keys"]

#: Safety stop for the closure; real data converges in two or three rounds.
_MAX_ROUNDS = 50
#: What fuzzy matching reads of a record.
_FIELDS = ["key", *FIELDS]


def id_keys(identifiers: pl.DataFrame) -> pl.Series:
    """`kind:value` of (record, kind, value) rows."""
    return identifiers.select((pl.col("kind") + pl.lit(":") + pl.col("value")).alias("key"))["key"]


@dataclass(slots=True)
class Scope:
    """The records to re-resolve and the store-wide facts they need."""

    #: Keys of every record to re-resolve: the batch's and the stored ones it may touch.
    keys: set[str] = field(default_factory=set)
    #: Identifier keys whose verdict must be decided again: those the seeds carry (and the
    #: erased records held), except settled ones.
    recompute: set[str] = field(default_factory=set)
    #: Stored verdicts more holders cannot make link again (key, kind, value, linking,
    #: reason): kept as they are, their holders not loaded.
    settled: pl.DataFrame = field(default_factory=pl.DataFrame)
    #: Every block of the scope's records and its size in the whole store once the batch
    #: is in (block, size).
    block_sizes: pl.DataFrame = field(default_factory=pl.DataFrame)
    #: Stored records the batch repeats unchanged (no new event either): nothing to do.
    untouched: set[str] = field(default_factory=set)
    #: Stored records whose computed evidence may change though their customer does not:
    #: members of blocks crossing the size cap.
    unsettled: set[str] = field(default_factory=set)
    #: Stored holders of the identifiers the seeds and erased records carry.
    holders: dict[str, set[str]] = field(default_factory=dict)
    rounds: int = 0


def _settled(verdicts: pl.DataFrame) -> pl.DataFrame:
    """Verdicts more holders can never turn: over `max_records` or `max_names` (holders only
    add records and names), or a kind that never links.

    A value refused for an identity limit can link again (an alias may join the two logins),
    so it is re-decided over all its holders.
    """
    return verdicts.filter(
        ~pl.col("linking")
        & (
            pl.col("reason").str.starts_with("shared by ")
            | pl.col("reason").str.starts_with("held by ")
            | pl.col("reason").str.ends_with(" is not a linking identifier")
        )
    )


def find_scope(
    mirror: Mirror,
    config: MatchConfig,
    *,
    seeds: pl.DataFrame,
    seed_identifiers: pl.DataFrame,
    seed_blocks: pl.DataFrame,
    stored_blocks: pl.DataFrame,
    gone: set[str],
    model: MatchModel | None = None,
) -> Scope:
    """The closure of stored records that `seeds` may touch.

    Args:
        mirror: the stored state.
        config: the match config (fuzzy rules, block cap).
        seeds: records this run adds or changes (in their merged form), and stored records
            an override or link names.
        seed_identifiers: their (record, kind, value) identifiers.
        seed_blocks: their (record, block) blocks now.
        stored_blocks: the stored (record, block) blocks of the seeds that were stored, and
            of the records being erased.
        gone: keys of records being erased.
        model: the store's match model (with the kept value counts it decides which pairs
            could link; None: the shipped weights, whose pairs all could).
    """
    seed_keys = set(seeds["key"].to_list())
    scope = Scope(keys=set(seed_keys))
    carried = set(id_keys(seed_identifiers).to_list())
    erased_ids = mirror.where("identifiers", "record", gone)
    erased = set(id_keys(erased_ids).to_list())
    wanted = carried | erased
    verdicts = mirror.where("verdicts", "key", wanted)
    holders = _holding(
        mirror, pl.concat([seed_identifiers.select("kind", "value"), erased_ids.drop("record")])
    )
    scope.holders = {
        key: set(records)
        for key, records in holders.group_by("id").agg(pl.col("record")).iter_rows()
    }
    scope.settled = _settled(verdicts.filter(pl.col("key").is_in(list(carried))))
    settled = set(scope.settled["key"].to_list())
    scope.recompute = (carried - settled) | erased

    before = stored_blocks.unique()
    now = seed_blocks.unique()
    added = now.join(before, on=["record", "block"], how="anti")
    removed = before.join(now, on=["record", "block"], how="anti")
    delta = (
        pl.concat(
            [
                added.select("block", pl.lit(1).alias("d")),
                removed.select("block", pl.lit(-1).alias("d")),
            ]
        )
        .group_by("block")
        .agg(pl.col("d").sum())
    )
    touched = pl.concat([delta["block"], now["block"]]).unique()
    members = mirror.where("blocks", "block", touched)
    cap = pl.col("cap")
    sizes = (
        pl.DataFrame({"block": touched})
        .join(members.group_by("block").agg(pl.len().alias("before")), on="block", how="left")
        .join(delta, on="block", how="left")
        .with_columns(pl.col("before").fill_null(0), pl.col("d").fill_null(0))
        .with_columns(
            (pl.col("before") + pl.col("d")).alias("size"), block_cap(config).alias("cap")
        )
    )
    open_blocks = sizes.filter((pl.col("before") <= cap) | (pl.col("size") <= cap))
    crossing = open_blocks.filter((pl.col("before") <= cap) != (pl.col("size") <= cap))
    found = {r for key in scope.recompute for r in scope.holders.get(key, ())}
    crossed = set(
        members.join(crossing.select("block"), on="block", how="semi")["record"].to_list()
    )
    found |= crossed
    scope.unsettled |= crossed
    mates = set(
        members.join(open_blocks.select("block"), on="block", how="semi")["record"].to_list()
    )
    mates -= seed_keys | gone
    found |= _matching(
        mirror, config, seeds, seed_identifiers, mates, sizes.select("block", "size"), model
    )
    stored_keys = set(stored_blocks["record"].to_list()) | _stored(mirror, seed_keys)
    frontier = (found | (stored_keys - gone) | gone) - gone
    links = mirror.load("links")
    apart = mirror.load("apart")
    ties = pl.concat([links.select("a", "b"), apart.select("a", "b")])
    if gone:
        frontier |= _tied(ties, gone)
    frontier -= gone
    scope.keys |= found
    for scope.rounds in range(1, _MAX_ROUNDS + 1):
        if not frontier:
            break
        reached = _neighbours(mirror, frontier, ties, follow_identifiers=scope.rounds == 1)
        frontier = reached - scope.keys - gone
        scope.keys |= frontier
    scope.keys -= gone
    scope.block_sizes = _block_sizes(mirror, sizes, scope.keys, now)
    return scope


def _holding(mirror: Mirror, wanted: pl.DataFrame) -> pl.DataFrame:
    """The stored (record, kind, value, id) identifiers holding a (kind, value) of `wanted`.

    Looked up by value rather than by `id_keys`: building `kind:value` for every stored
    identifier would cost more than the rest of the scope.
    """
    wanted = wanted.select("kind", "value").unique()
    held = mirror.where("identifiers", "value", wanted["value"]).join(
        wanted, on=["kind", "value"], how="semi"
    )
    return held.with_columns(id_keys(held).alias("id"))


def _stored(mirror: Mirror, keys: set[str]) -> set[str]:
    """Which of `keys` the store holds."""
    return set(mirror.where("records", "key", keys)["key"].to_list())


def _tied(ties: pl.DataFrame, keys: set[str]) -> set[str]:
    wanted = list(keys)
    left = ties.filter(pl.col("a").is_in(wanted))["b"].to_list()
    right = ties.filter(pl.col("b").is_in(wanted))["a"].to_list()
    return set(left) | set(right)


def _neighbours(
    mirror: Mirror, keys: set[str], ties: pl.DataFrame, *, follow_identifiers: bool
) -> set[str]:
    """Records sharing a customer with `keys`, or tied to them by a link or cannot-link.

    Records sharing a linking identifier across customers (a union a guard refused) are
    followed one step from the records the batch meets directly (`follow_identifiers`);
    further out such refusals stand.
    """
    reached = _tied(ties, keys)
    customers = mirror.where("records", "key", keys)["customer"].drop_nulls()
    reached |= set(mirror.where("records", "customer", customers)["key"].to_list())
    if follow_identifiers:
        held = mirror.where("identifiers", "record", keys)
        held = held.with_columns(id_keys(held).alias("id"))
        linking = mirror.where("verdicts", "key", held["id"]).filter(pl.col("linking"))
        linked = held.join(linking.select(pl.col("key").alias("id")), on="id", how="semi")
        reached |= set(_holding(mirror, linked)["record"].to_list())
    return reached


def _matching(
    mirror: Mirror,
    config: MatchConfig,
    seeds: pl.DataFrame,
    seed_identifiers: pl.DataFrame,
    mates: set[str],
    sizes: pl.DataFrame,
    model: MatchModel | None,
) -> set[str]:
    """The stored block mates a fixed rule matches with a seed, or the match model could.

    Only those can join a seed's customer; the others' pairs with each other are decided
    as before, so their customers need not be re-resolved.
    """
    if not mates or not config.fuzzy:
        return set()
    stored = mirror.where("records", "key", mates)
    records = pl.concat([seeds.select(_FIELDS), stored.select(_FIELDS)]).sort("key")
    held = pl.concat(
        [
            seed_identifiers.select("record", "kind", "value"),
            mirror.where("identifiers", "record", mates).select("record", "kind", "value"),
        ]
    )
    view = match_view(with_customer_ids(records, held), VIEW_FIELDS)
    edges, _ = fuzzy_matches(view, config, block_sizes=sizes)
    refused = mirror.view("verdicts").filter(~pl.col("linking")).select("key").collect()["key"]
    frequencies = None
    if model is not None:
        wanted = count_rows(match_view(records, COUNTED_VIEW)).select("field", "value")
        kept = mirror.where("value_counts", "value", wanted["value"]).join(
            wanted, on=["field", "value"], how="semi"
        )
        frequencies = counted_frequencies(kept, list(config.scoring.fields))
    guarded = guarded_view(view, records, refused)
    left, right = possible_links(guarded, config, model, frequencies)
    if edges.height == 0 and not len(left):
        return set()
    keys = records["key"]
    seed_keys = set(seeds["key"].to_list())
    matched = set()
    firsts = [*keys.gather(edges["a"]).to_list(), *keys.gather(left).to_list()]
    seconds = [*keys.gather(edges["b"]).to_list(), *keys.gather(right).to_list()]
    for a, b in zip(firsts, seconds, strict=True):
        if (a in seed_keys) != (b in seed_keys):
            matched.add(b if a in seed_keys else a)
    return matched


def _block_sizes(
    mirror: Mirror, touched: pl.DataFrame, keys: set[str], now: pl.DataFrame
) -> pl.DataFrame:
    """The size in the whole store, once the batch is in, of every block of the scope."""
    mine = pl.concat(
        [mirror.where("blocks", "record", keys).select("block"), now.select("block")]
    ).unique()
    stored = (
        mirror.where("blocks", "block", mine["block"])
        .group_by("block")
        .agg(pl.len().cast(pl.Int64).alias("size"))
    )
    fixed = touched.select("block", pl.col("size").cast(pl.Int64))
    return pl.concat([stored.join(fixed, on="block", how="anti"), fixed])
