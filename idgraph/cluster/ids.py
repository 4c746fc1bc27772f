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
from collections.abc import Collection, Mapping, Sequence

import polars as pl

__all__ = ["assign_component_ids", "assign_ids", "new_customer_id"]


def new_customer_id(record_keys: Sequence[str]) -> str:
    """The id a new customer gets: a hash of its smallest record key.

    Examples:
        >>> new_customer_id(["crm:2", "crm:1"])
        'C-b9e4f5f0ac5c'
    """
    return _base(min(record_keys))


def _base(first_key: str) -> str:
    return f"C-{hashlib.sha1(first_key.encode('utf-8')).hexdigest()[:12]}"


def assign_component_ids(
    members: pl.DataFrame,
    previous: pl.DataFrame,
    *,
    created: Mapping[str, int] | None = None,
    taken: Collection[str] = (),
) -> pl.DataFrame:
    """One id per component, reusing previous ids where possible.

    Args:
        members: (label, key) rows, in key order: each record's component, labels in the order
            components are considered (a component's label sorts like its smallest key).
        previous: (key, customer) rows: the customer id each record had before.
        created: customer id -> when it was issued (epoch ms); missing ids count as oldest.
        taken: ids issued before that a new component must not get again.

    Returns:
        (label, id) for every component.
    """
    created = created or {}
    labels = (
        members.group_by("label", maintain_order=True)
        .agg(pl.col("key").first().alias("first"))
        .sort("label")
    )
    claims = (
        members.join(previous.rename({"customer": "old"}), on="key", how="inner")
        .group_by("label", "old")
        .agg(pl.len().alias("n"))
        .sort("old", pl.col("n"), "label", descending=[False, True, False])
        .unique(subset=["old"], keep="first", maintain_order=True)
    )
    chosen: dict[int, str] = {}
    for label, olds in claims.group_by("label").agg(pl.col("old")).iter_rows():
        chosen[label] = min(olds, key=lambda i: (created.get(i, 0), i))
    used = set(taken) | set(claims["old"].to_list())
    firsts = labels["first"].to_list()
    ids = [chosen.get(label) for label in labels["label"].to_list()]
    bases = [None if i is not None else _base(first) for i, first in zip(ids, firsts, strict=True)]
    for position, base in enumerate(bases):
        if base is None:
            continue
        candidate, suffix = base, 1
        while candidate in used:
            suffix += 1
            candidate = f"{base}-{suffix}"
        used.add(candidate)
        ids[position] = candidate
    return labels.select("label").with_columns(pl.Series("id", ids, dtype=pl.Utf8))


def assign_ids(
    components: Sequence[Sequence[str]],
    previous: Mapping[str, str],
    *,
    created: Mapping[str, int] | None = None,
    taken: Collection[str] = (),
) -> list[str]:
    """`assign_component_ids` over lists of record keys (aligned with `components`)."""
    members = pl.DataFrame(
        {
            "label": [i for i, keys in enumerate(components) for _ in keys],
            "key": [k for keys in components for k in keys],
        },
        schema={"label": pl.Int64, "key": pl.Utf8},
    ).sort("key")
    before = pl.DataFrame(
        {"key": list(previous), "customer": list(previous.values())},
        schema={"key": pl.Utf8, "customer": pl.Utf8},
    )
    found = dict(assign_component_ids(members, before, created=created, taken=taken).iter_rows())
    return [found[i] for i in range(len(components))]
