"""Components -> unified customer rows: stable id, golden profile, traits and summary figures."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from idgraph.cluster.golden import golden_fields, golden_traits
from idgraph.cluster.ids import assign_ids
from idgraph.match.config import MatchConfig
from idgraph.models import Record
from idgraph.types import FIELD_NAMES


@dataclass(slots=True)
class Customers:
    rows: list[dict[str, Any]]
    memberships: list[tuple[str, str]]
    sizes: list[int]


def build_customers(
    records: Sequence[Record],
    components: Sequence[Sequence[int]],
    *,
    previous: Mapping[str, str],
    event_span: Mapping[str, tuple[int, int]],
    config: MatchConfig,
    now_ms: int,
    created: Mapping[str, int] | None = None,
    taken: Collection[str] = (),
) -> Customers:
    """One row per component, ready for the store, plus the HAS_RECORD pairs.

    `created` and `taken` come from the id registry (see `assign_ids`).
    """
    ordered = sorted(components, key=lambda c: min(records[i].key for i in c))
    ids = assign_ids(
        [[records[i].key for i in c] for c in ordered], previous, created=created, taken=taken
    )
    rows: list[dict[str, Any]] = []
    memberships: list[tuple[str, str]] = []
    sizes: list[int] = []
    for customer_id, members in zip(ids, ordered, strict=True):
        group = [records[i] for i in members]
        stamps = [r.updated_ts for r in group if r.updated_ts]
        for r in group:
            if r.key in event_span:
                stamps.extend(event_span[r.key])
        row: dict[str, Any] = dict.fromkeys(FIELD_NAMES)
        row.update(golden_traits(group, config.survivorship))
        row.update(golden_fields(group, config.survivorship))
        flagged = len(group) > config.flag_component_records
        row.update(
            id=customer_id,
            record_count=len(group),
            sources=",".join(sorted({r.source for r in group})),
            first_seen_ts=min(stamps) if stamps else None,
            last_seen_ts=max(stamps) if stamps else None,
            flagged=flagged,
            flag_reason=(
                f"{len(group)} records (flag_component_records {config.flag_component_records})"
                if flagged
                else None
            ),
            updated_ts=now_ms,
        )
        rows.append(row)
        memberships.extend((customer_id, r.key) for r in group)
        sizes.append(len(group))
    return Customers(rows, memberships, sizes)
