"""The plan of the last rehearsed change, kept so the change confirmed right after it is
written without being resolved again.

A preview of a split, link or undo (`overrides.preview_change`) resolves the change for the
customers concerned and writes it in a transaction that is rolled back; the confirmed change
used to resolve the same records again, the same way, on the same stored state. So the
rehearsal keeps its plan here, and `ingest_batches` writes that plan instead when it is asked
for the same overrides under the same configs, on the same store, while the store still holds
the state the plan was made from (its state version: any write in between, a resolver
micro-batch included, makes it stale) and within `REUSE_S` of the preview (the plan is stamped
with the time it was made: the reviewer's decision and the history entries carry the
preview's time). A plan is used once; only the last rehearsal's is kept, and only a small one.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from idgraph.match.config import MatchConfig
from idgraph.resolve import Overrides
from idgraph.store.plan import WritePlan
from idgraph.traits.config import TraitsConfig

if TYPE_CHECKING:
    from idgraph.pipeline import IngestReport

__all__ = ["REUSE_S", "Rehearsed", "change_key", "keep", "take"]

#: How long after its rehearsal a plan may still be written (seconds).
REUSE_S = 120.0
#: Plans of more customers than this are not kept (a preview concerns a few customers).
_MAX_CUSTOMERS = 10_000


@dataclass(frozen=True, slots=True)
class Rehearsed:
    """A rehearsal's plan, as made (before the rehearsal wrote it), and its report."""

    store: str
    version: str
    key: str
    made: float
    plan: WritePlan
    report: IngestReport
    as_of_ms: int


_lock = threading.Lock()
_kept: Rehearsed | None = None


def change_key(overrides: Overrides, config: MatchConfig, traits: TraitsConfig) -> str:
    """What makes two runs without input the same change."""
    return "\n".join(
        (overrides.model_dump_json(), config.model_dump_json(), traits.model_dump_json())
    )


def keep(rehearsed: Rehearsed) -> None:
    """Keep a rehearsal's plan (replacing the one kept before)."""
    global _kept
    if rehearsed.plan.full or rehearsed.plan.customers.height > _MAX_CUSTOMERS:
        return
    with _lock:
        _kept = rehearsed


def take(store: str, version: str, key: str) -> Rehearsed | None:
    """The kept plan for this change on this store at this state version, taken (a plan is
    written once); None when there is none, or it is stale."""
    global _kept
    with _lock:
        found, _kept = _kept, None
    if found is None:
        return None
    fresh = time.monotonic() - found.made <= REUSE_S
    if found.store != store or found.version != version or found.key != key or not fresh:
        return None
    return found
