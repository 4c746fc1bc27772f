"""The outbox in the store: segment changes written with the membership, removed once every
destination that takes their segment has them (sent, or dead-lettered).

Rows are read oldest first (`ts`, then segment and customer), so a customer's changes reach a
destination in the order they happened; `done` records which destinations already have a row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from idgraph.store.base import GraphStore

__all__ = ["OUTBOX_QUERIES", "OutboxRow", "bump_state", "forget_rows", "mark_done", "read_pending"]

OUTBOX_QUERIES: Final[dict[str, str]] = {
    "outbox_page": (
        "MATCH (o:OutboxChange) WHERE o.ts > $after_ts OR (o.ts = $after_ts AND "
        "(o.segment > $after_segment OR (o.segment = $after_segment AND "
        "(o.customer > $after_customer OR (o.customer = $after_customer AND o.id > $after_id))))) "
        "RETURN o.id AS id, o.segment AS segment, o.customer AS customer, o.ts AS ts, "
        "o.change AS change, o.cause AS cause, o.done AS done "
        "ORDER BY ts, segment, customer, id LIMIT $limit"
    ),
    "outbox_delete": "UNWIND $ids AS oid MATCH (o:OutboxChange {id: oid}) DELETE o",
    "outbox_set_done": (
        "UNWIND $rows AS row MATCH (o:OutboxChange {id: row.id}) SET o.done = row.done"
    ),
    "outbox_count": (
        "MATCH (o:OutboxChange) RETURN o.segment AS segment, o.done AS done, count(*) AS n"
    ),
    "delivery_states": (
        "MATCH (d:DeliveryState) RETURN d.name AS name, d.sent AS sent, d.failed AS failed, "
        "d.dead AS dead, d.last_error AS last_error, d.last_ts AS last_ts"
    ),
    "delivery_bump": (
        "MERGE (d:DeliveryState {name: $name}) "
        "SET d.sent = coalesce(d.sent, 0) + $sent, d.failed = coalesce(d.failed, 0) + $failed, "
        "d.dead = coalesce(d.dead, 0) + $dead, "
        "d.last_error = coalesce($last_error, d.last_error), d.last_ts = $ts"
    ),
}


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One pending change; `id` is its idempotency key, the same on every attempt."""

    id: str
    segment: str
    customer: str
    ts: int
    change: str
    cause: str
    done: frozenset[str]

    @property
    def reason(self) -> str:
        """What a receiver is told: `erased` for an erasure, else the cause as stored."""
        return "erased" if self.cause == "erasure" else self.cause


def read_pending(store: GraphStore, *, page: int = 5000) -> Iterable[list[OutboxRow]]:
    """The outbox in delivery order, a page at a time (keyset paging: rows removed or marked
    while paging do not shift the pages)."""
    after: tuple[int, str, str, str] = (-(2**62), "", "", "")
    while True:
        rows = store.query(
            "outbox_page",
            OUTBOX_QUERIES["outbox_page"],
            {
                "after_ts": after[0],
                "after_segment": after[1],
                "after_customer": after[2],
                "after_id": after[3],
                "limit": page,
            },
        )
        if not rows:
            return
        batch = [
            OutboxRow(
                id=r["id"],
                segment=r["segment"],
                customer=r["customer"],
                ts=int(r["ts"]),
                change=r["change"],
                cause=r["cause"] or "",
                done=frozenset(filter(None, (r["done"] or "").split(","))),
            )
            for r in rows
        ]
        last = batch[-1]
        after = (last.ts, last.segment, last.customer, last.id)
        yield batch
        if len(rows) < page:
            return


def mark_done(
    store: GraphStore,
    destination: str,
    rows: Sequence[OutboxRow],
    wanted: dict[str, frozenset[str]],
    *,
    sent: int,
    dead: int,
    failed: int,
    last_error: str | None,
    ts: int,
) -> list[OutboxRow]:
    """Record that `destination` has `rows` (sent or dead-lettered) and bump its totals, in one
    transaction; rows every destination of their segment has leave the outbox.

    `wanted` maps a segment to the destinations taking it. Returns the rows with `done` updated.
    """
    remove: list[str] = []
    keep: list[dict[str, str]] = []
    updated: list[OutboxRow] = []
    for row in rows:
        done = row.done | {destination}
        if wanted.get(row.segment, frozenset()) <= done:
            remove.append(row.id)
        else:
            keep.append({"id": row.id, "done": ",".join(sorted(done))})
        updated.append(
            OutboxRow(row.id, row.segment, row.customer, row.ts, row.change, row.cause, done)
        )
    steps: list[tuple[str, dict[str, object]]] = []
    if remove:
        steps.append((OUTBOX_QUERIES["outbox_delete"], {"ids": remove}))
    if keep:
        steps.append((OUTBOX_QUERIES["outbox_set_done"], {"rows": keep}))
    steps.append(_bump(destination, sent, failed, dead, last_error, ts))
    store.write_all(f"outbox_done:{destination}", steps)
    return updated


def bump_state(
    store: GraphStore,
    destination: str,
    *,
    sent: int = 0,
    failed: int = 0,
    dead: int = 0,
    last_error: str | None,
    ts: int,
) -> None:
    """Add to a destination's totals (a failed attempt, a dead letter resent)."""
    store.write_all(
        f"delivery_bump:{destination}", [_bump(destination, sent, failed, dead, last_error, ts)]
    )


def _bump(
    name: str, sent: int, failed: int, dead: int, last_error: str | None, ts: int
) -> tuple[str, dict[str, object]]:
    params = {"name": name, "sent": sent, "failed": failed, "dead": dead}
    return OUTBOX_QUERIES["delivery_bump"], {**params, "last_error": last_error, "ts": ts}


def forget_rows(store: GraphStore, ids: Sequence[str]) -> None:
    """Drop rows no destination takes: they are not pending anywhere."""
    for start in range(0, len(ids), 5000):
        store.write(
            "outbox_delete",
            OUTBOX_QUERIES["outbox_delete"],
            {"ids": list(ids[start : start + 5000])},
        )
