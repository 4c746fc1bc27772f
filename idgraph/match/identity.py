"""Which identifier values name the same identity, for identity limits.

Two login ids joined by an explicit `alias` are one identity, so a limit of one user id per
customer counts them once. Values are classes of a union-find over records joined by explicit
links.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from idgraph.models import Link, Record

IdentityClasses = dict[tuple[str, str], int]


def identity_classes(
    records: Sequence[Record], links: Sequence[Link], kinds: Iterable[str]
) -> IdentityClasses:
    """Map each `(kind, value)` of the watched kinds to a class id shared by aliased values."""
    watched = set(kinds)
    index = {r.key: i for i, r in enumerate(records)}
    values: dict[tuple[str, str], int] = {}
    for record in records:
        for kind, value in record.identifiers:
            if kind in watched:
                values.setdefault((kind, value), len(values))
    parent = list(range(len(values)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(a: int, b: int) -> None:
        parent[find(a)] = find(b)

    for link in links:
        if link.a in index and link.b in index:
            for watched_kind in watched:
                members = [
                    values[(k, v)]
                    for key in (link.a, link.b)
                    for k, v in records[index[key]].identifiers
                    if k == watched_kind
                ]
                for other in members[1:]:
                    join(members[0], other)
    return {pair: find(i) for pair, i in values.items()}


def identities_of(record: Record, kind: str, classes: IdentityClasses) -> set[int]:
    return {classes[(k, v)] for k, v in record.identifiers if k == kind and (k, v) in classes}
