"""Where an incremental run starts: whether it can keep to a scope, and the scope's snapshot.

The pipeline asks two questions before it resolves a batch: must everything be re-resolved
(an empty store, a batch larger than the store, blocks made under other rules), and if not,
which stored records the batch may touch (`find_scope`) and the snapshot of those only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from idgraph.block.keys import blocking_fingerprint, record_blocks
from idgraph.match.config import MatchConfig
from idgraph.match.model import MatchModel
from idgraph.match.view import VIEW_FIELDS, match_view, with_customer_ids
from idgraph.normalize.fold import Gathered
from idgraph.state.events import EventReads
from idgraph.state.merge import merge_records
from idgraph.state.mirror import Mirror
from idgraph.state.scope import Scope, find_scope, id_keys
from idgraph.state.snapshot import Snapshot, take_snapshot

if TYPE_CHECKING:
    from idgraph.resolve import Overrides

__all__ = ["load_scope", "needs_full", "stored_records"]


def needs_full(mirror: Mirror, batch: Gathered, config: MatchConfig) -> bool:
    """Whether to re-resolve everything rather than find a scope.

    An empty store, or a batch larger than the store, has nothing to gain from a scope; a
    mirror whose blocks were computed under other fuzzy rules must be rebuilt whole.
    """
    stored = stored_records(mirror)
    if stored == 0 or batch.records.height > stored:
        return True
    return mirror.config != blocking_fingerprint(config)


def stored_records(mirror: Mirror) -> int:
    files = mirror.files
    return files["records"].base_rows + files["records"].delta_rows if files else 0


def load_scope(
    reads: EventReads,
    mirror: Mirror,
    batch: Gathered,
    overrides: Overrides,
    config: MatchConfig,
    erase: set[str],
    stored_events: set[str],
    model: MatchModel | None,
) -> tuple[Scope, Snapshot]:
    """Find the stored records this run may touch, and take the snapshot of those only."""
    pairs = [*overrides.must_link, *overrides.cannot_link, *overrides.uncut]
    forced = {k for pair in pairs for k in pair}
    linked = set(batch.links["a"].to_list()) | set(batch.links["b"].to_list())
    incoming = set(batch.records["key"].to_list())
    before = take_snapshot(
        mirror, pl.Series(sorted(incoming | erase | forced | linked), dtype=pl.Utf8)
    )
    fresh = batch.links.select("a", "b", "rule").join(
        before.links.select("a", "b", "rule"), on=["a", "b", "rule"], how="anti"
    )
    forced |= set(fresh["a"].to_list()) | set(fresh["b"].to_list())
    named = incoming | erase | forced
    active = set(
        batch.events.filter(~pl.col("id").is_in(list(stored_events)))["record_key"].to_list()
    )
    stored_keys = set(before.records["key"].to_list())
    alive = before.records.filter(~pl.col("key").is_in(list(erase)))
    merged = merge_records(alive, before.record_traits, before.identifiers, batch, ())
    changed = set(merged.changed["key"].to_list())
    seed_keys = {
        key
        for key in named - erase
        if (key not in stored_keys and key in incoming)
        or (
            key in stored_keys
            and (key not in incoming or key in changed or key in active or key in forced)
        )
    }
    seeds = merged.records.filter(pl.col("key").is_in(list(seed_keys)))
    untouched = (incoming & stored_keys) - seed_keys
    gone = erase & stored_keys
    stored_blocks = before.blocks.filter(
        pl.col("record").is_in(list((seed_keys & stored_keys) | gone))
    )
    seed_ids = merged.identifiers.filter(pl.col("record").is_in(list(seed_keys)))
    scope = find_scope(
        mirror,
        config,
        seeds=seeds,
        seed_identifiers=seed_ids,
        seed_blocks=record_blocks(
            match_view(with_customer_ids(seeds, seed_ids), VIEW_FIELDS), config.fuzzy
        ),
        stored_blocks=stored_blocks,
        gone=gone,
        model=model,
    )
    scope.untouched = untouched - scope.keys
    erased_ids = id_keys(before.identifiers.filter(pl.col("record").is_in(list(gone))))
    snapshot = take_snapshot(
        mirror,
        pl.Series(sorted(scope.keys | gone), dtype=pl.Utf8),
        verdict_keys=pl.concat([id_keys(seed_ids), erased_ids]),
        events=reads,
    )
    return scope, snapshot
