"""Customer ids that survive re-runs, merges and splits.

Each old id goes to the component holding most of its records (ties: the component with the
smaller first record key); a component claimed by several old ids keeps the oldest (earliest
`created`, then the smaller id) and the others are absorbed into it. So when customers merge
the oldest id survives, and when one splits the larger part keeps the id. A component no old id
claims gets an id derived from its smallest record key, reproducible run to run, never one
issued before (`taken`).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Collection, Mapping, Sequence


def new_customer_id(record_keys: Sequence[str]) -> str:
    digest = hashlib.sha1(min(record_keys).encode("utf-8")).hexdigest()
    return f"C-{digest[:12]}"


def assign_ids(
    components: Sequence[Sequence[str]],
    previous: Mapping[str, str],
    *,
    created: Mapping[str, int] | None = None,
    taken: Collection[str] = (),
) -> list[str]:
    """One id per component (aligned with `components`), reusing previous ids where possible.

    Args:
        components: record keys per component.
        previous: record key -> the customer id it had before.
        created: customer id -> when it was issued (epoch ms); missing ids count as oldest.
        taken: ids issued before that a new component must not get again.
    """
    created = created or {}
    best: dict[str, tuple[int, str, int]] = {}
    for position, keys in enumerate(components):
        first = min(keys) if keys else ""
        for old_id, count in Counter(previous[k] for k in keys if k in previous).items():
            claim = (-count, first, position)
            if old_id not in best or claim < best[old_id]:
                best[old_id] = claim
    claimants: dict[int, list[str]] = {}
    for old_id, (_count, _first, position) in best.items():
        claimants.setdefault(position, []).append(old_id)
    ids: list[str | None] = [None] * len(components)
    used: set[str] = set(taken) | set(best)
    for position, olds in claimants.items():
        ids[position] = min(olds, key=lambda i: (created.get(i, 0), i))
    for position, keys in enumerate(components):
        if ids[position] is None:
            candidate = base = new_customer_id(keys)
            suffix = 1
            while candidate in used:
                suffix += 1
                candidate = f"{base}-{suffix}"
            ids[position] = candidate
            used.add(candidate)
    return [i for i in ids if i is not None]
