"""Customer ids that survive re-runs.

A component keeps the id most of its records had before (ties: the smaller id), each old id is
used once, so when a customer splits the larger part keeps it; a brand new component gets an id
derived from its smallest record key, which is reproducible run to run.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence


def new_customer_id(record_keys: Sequence[str]) -> str:
    digest = hashlib.sha1(min(record_keys).encode("utf-8")).hexdigest()
    return f"C-{digest[:12]}"


def assign_ids(components: Sequence[Sequence[str]], previous: Mapping[str, str]) -> list[str]:
    """One id per component (aligned with `components`), reusing previous ids where possible."""
    claims: list[tuple[int, str, int]] = []
    for position, keys in enumerate(components):
        counts = Counter(previous[k] for k in keys if k in previous)
        claims.extend((-count, old_id, position) for old_id, count in counts.items())
    ids: list[str | None] = [None] * len(components)
    taken: set[str] = set()
    for _neg, old_id, position in sorted(claims):
        if ids[position] is None and old_id not in taken:
            ids[position] = old_id
            taken.add(old_id)
    for position, keys in enumerate(components):
        if ids[position] is None:
            candidate = base = new_customer_id(keys)
            suffix = 1
            while candidate in taken:
                suffix += 1
                candidate = f"{base}-{suffix}"
            ids[position] = candidate
            taken.add(candidate)
    return [i for i in ids if i is not None]
