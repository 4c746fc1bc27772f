"""Segment membership that follows every ingest, merge, split and erasure at once.

A saved segment that has been run holds its members as `IN_SEGMENT` edges. When an ingest
re-resolves some customers, only those can enter or leave a segment (time windows aside, which
`segment run` re-evaluates), so each materialised segment is evaluated on the touched
customers alone, the edges moved, and each change stored as a `SegmentChange` with its cause:
the channel delta an activation job reads (`idgraph segment changes`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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
    alive = set(touched)
    why: Mapping[str, str] | None = None
    for saved in list_segments(graph):
        if saved.last_run_ts is None:
            continue  # never run: it has no materialised membership to keep up to date
        result = run_segment(
            graph, saved.parsed(), as_of_ms=as_of_ms, resolve=resolver(graph), customer_ids=touched
        )
        now_in = {m.id for m in result.members}
        was_in = set(before.get(saved.name, set()))
        # Memberships copied onto a rewritten customer are still there; those of ids gone are not.
        still = {cid for cid in was_in if cid in alive}
        entered = sorted(now_in - was_in)
        exited = sorted(was_in - now_in)
        if not entered and not exited:
            continue
        steps: list[tuple[str, dict[str, Any]]] = []
        if still & set(exited):
            steps.append(
                (
                    SEGMENT_WRITES["segment_remove_members"],
                    {"name": saved.name, "ids": sorted(still & set(exited))},
                )
            )
        if entered:
            steps.append(
                (
                    SEGMENT_WRITES["segment_add_members"],
                    {"name": saved.name, "ids": entered, "ts": now_ms},
                )
            )
        if why is None:
            why = causes()
        batch = moves(saved.name, entered, exited, _cause_of(why), now_ms)
        steps.append(
            (
                SEGMENT_WRITES["segment_adjust_size"],
                {"name": saved.name, "delta": len(entered) - len(exited)},
            )
        )
        steps.append((SEGMENT_WRITES["segment_record_changes"], {"rows": change_rows(batch)}))
        graph.write_all(f"segment_refresh:{saved.name}", steps)
        changes.extend(batch)
    return changes
