"""Event names a definition asks for that the store has never seen.

A segment over `Order Complete` where the events are `Order Completed` is valid and runs: it
just matches nobody, and nothing says why. The names are not refused (a saved segment may
wait for events that have not arrived yet); the CLI warns, with the closest stored name.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from idgraph.segment.definition import (
    AllCondition,
    AnyCondition,
    Condition,
    EventCondition,
    NotCondition,
    SegmentDefinition,
)
from idgraph.store.base import GraphStore
from idgraph.store.queries import READS

__all__ = ["unseen_events"]


def unseen_events(store: GraphStore, defn: SegmentDefinition) -> list[str]:
    """One line per event name of `defn` no stored event carries, with a suggestion."""
    asked = sorted(set(_event_names(defn.where)))
    unseen = [
        name
        for name in asked
        if not store.query("event_named", READS["event_named"], {"name": name})
    ]
    if not unseen:
        return []
    # Only now every stored name, for the suggestions: a scan of the events.
    stored = [row["name"] for row in store.query("events_per_name", READS["events_per_name"])]
    lines = []
    for name in unseen:
        hint = difflib.get_close_matches(name, stored, n=1)
        lines.append(
            f"no stored event is named {name!r}"
            + (f" (did you mean {hint[0]!r}?)" if hint else "")
            + ": conditions on it match nobody until such events arrive"
        )
    return lines


def _event_names(condition: Condition) -> Iterator[str]:
    if isinstance(condition, EventCondition):
        yield from condition.names
    elif isinstance(condition, AllCondition):
        for part in condition.all:
            yield from _event_names(part)
    elif isinstance(condition, AnyCondition):
        for part in condition.any:
            yield from _event_names(part)
    elif isinstance(condition, NotCondition):
        yield from _event_names(condition.not_)
