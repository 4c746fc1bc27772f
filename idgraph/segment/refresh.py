"""Segment membership that follows every ingest, merge, split and erasure at once.

A saved segment that has been run holds its members as `IN_SEGMENT` edges. When an ingest
re-resolves some customers, only those can enter or leave a segment (time windows aside, which
`segment run` re-evaluates), so each materialised segment is evaluated on the touched
customers alone, the edges moved, and each change stored as a `SegmentChange` with its cause:
the channel delta an activation job reads (`idgraph segment changes`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from idgraph.segment.run import run_segment
from idgraph.segment.saved import SegmentChange, change_rows, list_segments, moves, resolver
from idgraph.store.base import GraphStore
from idgraph.store.queries import READS, SEGMENT_WRITES


def memberships_of(graph: GraphStore, customer_ids: Sequence[str]) -> dict[str, set[str]]:
    """Segment name -> which of `customer_ids` are members now (read before they change)."""
    found: dict[str, set[str]] = {}
    if not graph.query("count_segments", READS["count_segments"])[0]["n"]:
        return found
    # A keyed read: the embedded store walks a few customers' memberships one by one rather
    # than scanning every customer.
    statement = READS["segment_members_of"]
    for row in graph.keyed_read("segment_members_of", statement, "ids", customer_ids):
        found.setdefault(row["segment"], set()).add(row["customer"])
    return found


def _cause_of(causes: Mapping[str, str]) -> Callable[[str], str]:
    return lambda customer: causes.get(customer, "record change")


@dataclass(frozen=True, slots=True)
class SegmentMove:
    """Who of the touched customers enters and leaves one materialised segment."""

    segment: str
    entered: list[str]
    exited: list[str]
    #: Of those that exit, the ones still alive (their `IN_SEGMENT` edge must go).
    still: list[str]


def segment_moves(
    graph: GraphStore,
    *,
    before: Mapping[str, set[str]],
    touched: Sequence[str],
    as_of_ms: int,
) -> list[SegmentMove]:
    """Evaluate every materialised segment on the touched customers, as the store holds them
    now, against their memberships `before`; segments nobody enters or leaves are left out.

    `refresh_segments` moves the edges after a change; a preview calls this inside a
    transaction it rolls back (`GraphStore.rehearse`), so both answer alike.
    """
    found: list[SegmentMove] = []
    alive = set(touched)
    for saved in list_segments(graph):
        if saved.last_run_ts is None:
            continue  # never run: it has no materialised membership to keep up to date
        result = run_segment(
            graph, saved.parsed(), as_of_ms=as_of_ms, resolve=resolver(graph), customer_ids=touched
        )
        now_in = {m.id for m in result.members}
        was_in = set(before.get(saved.name, set()))
        entered = sorted(now_in - was_in)
        exited = sorted(was_in - now_in)
        if entered or exited:
            # Memberships copied onto a rewritten customer are still there; those of ids gone
            # are not.
            still = sorted(cid for cid in exited if cid in alive)
            found.append(SegmentMove(saved.name, entered, exited, still))
    return found


def refresh_segments(
    graph: GraphStore,
    *,
    before: Mapping[str, set[str]],
    touched: Sequence[str],
    causes: Callable[[], Mapping[str, str]],
    as_of_ms: int,
    now_ms: int,
) -> list[SegmentChange]:
    """Re-evaluate every materialised segment on the touched customers and move their edges.

    Args:
        before: segment -> members among the customers this change re-resolved, read before
            it (ids merged away or erased since included: they exit).
        touched: the live customers the change wrote.
        causes: gives customer id -> why it changed (merge, split, erasure, new event...);
            called only when a materialised segment changed.
        as_of_ms: the instant time windows are evaluated at.
        now_ms: stamped on new memberships and on the changes.
    """
    changes: list[SegmentChange] = []
    why: Mapping[str, str] | None = None
    for move in segment_moves(graph, before=before, touched=touched, as_of_ms=as_of_ms):
        entered, exited = move.entered, move.exited
        steps: list[tuple[str, dict[str, Any]]] = []
        if move.still:
            steps.append(
                (
                    SEGMENT_WRITES["segment_remove_members"],
                    {"name": move.segment, "ids": move.still},
                )
            )
        if entered:
            steps.append(
                (
                    SEGMENT_WRITES["segment_add_members"],
                    {"name": move.segment, "ids": entered, "ts": now_ms},
                )
            )
        if why is None:
            why = causes()
        batch = moves(move.segment, entered, exited, _cause_of(why), now_ms)
        steps.append(
            (
                SEGMENT_WRITES["segment_adjust_size"],
                {"name": move.segment, "delta": len(entered) - len(exited)},
            )
        )
        steps.append((SEGMENT_WRITES["segment_record_changes"], {"rows": change_rows(batch)}))
        graph.write_all(f"segment_refresh:{move.segment}", steps)
        changes.extend(batch)
    return changes
