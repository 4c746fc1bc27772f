"""Per destination: what is pending in the outbox, what was sent, failed and dead-lettered."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from idgraph.activate.config import DestinationsConfig
from idgraph.activate.outbox import OUTBOX_QUERIES
from idgraph.store.base import GraphStore

__all__ = ["DestinationStatus", "delivery_status", "outbox_size"]


class DestinationStatus(BaseModel):
    """`failed` counts failed attempts (a retried batch that then got through counts too);
    `dead` counts changes in the dead-letter file."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: str
    segments: list[str]
    pending: int
    sent: int
    failed: int
    dead: int
    last_error: str | None = None
    last_ts: int | None = None


#: Reads of outbox and totals before giving up on a quiet moment (a busy delivery thread
#: marks a batch every few milliseconds at most; each try is three small reads).
_CONSISTENT_TRIES = 20


def _states(store: GraphStore) -> dict[str, dict[str, Any]]:
    rows = store.query("delivery_states", OUTBOX_QUERIES["delivery_states"])
    return {r["name"]: dict(r) for r in rows}


def outbox_size(store: GraphStore) -> int:
    """Rows in the outbox, whatever their destinations."""
    rows = store.query("outbox_count", OUTBOX_QUERIES["outbox_count"])
    return sum(int(r["n"]) for r in rows)


def delivery_status(store: GraphStore, config: DestinationsConfig) -> list[DestinationStatus]:
    """The status of every destination of `config`, in the file's order.

    The outbox and the totals are two reads, and a delivery thread may mark a batch done
    between them (one transaction: rows leave the outbox, `sent` grows). Read on their own
    they could show a batch both pending and sent, so the totals are read on both sides of
    the outbox and the three reads repeated until the totals did not move: every marking
    bumps them, so the outbox read between two equal totals belongs with them.
    """
    states = _states(store)
    for _ in range(_CONSISTENT_TRIES):
        counts = store.query("outbox_count", OUTBOX_QUERIES["outbox_count"])
        after = _states(store)
        if after == states:
            break
        states = after
    found = []
    for dest in config.destinations:
        pending = sum(
            int(r["n"])
            for r in counts
            if r["segment"] in dest.segments and dest.name not in (r["done"] or "").split(",")
        )
        state = states.get(dest.name, {})
        found.append(
            DestinationStatus(
                name=dest.name,
                kind=dest.kind,
                segments=list(dest.segments),
                pending=pending,
                sent=int(state.get("sent") or 0),
                failed=int(state.get("failed") or 0),
                dead=int(state.get("dead") or 0),
                last_error=state.get("last_error"),
                last_ts=state.get("last_ts"),
            )
        )
    return found
