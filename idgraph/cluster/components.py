"""Evidence graph -> unified customers, under identity limits.

Plain connected components chain strangers together through one shared weak value, so links are
applied strongest first with a union-find that refuses any union breaking an identity limit
(e.g. two login user ids in one customer) or joining different strong attributes (two dates of
birth). The accepted links form a forest-like evidence graph whose connected components are the
customers; `networkx` checks that in the tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from idgraph.match.config import MatchConfig
from idgraph.match.identity import identities_of, identity_classes
from idgraph.models import EXPLICIT_LINK_RULES, Link, MatchEvidence, Record


@dataclass(frozen=True, slots=True)
class BlockedLink:
    """A link the guards refused, with the reason a reviewer reads."""

    evidence: MatchEvidence
    reason: str


@dataclass(slots=True)
class Clustering:
    """Records grouped into components; `labels[i]` is the component of `records[i]`."""

    labels: list[int]
    accepted: list[MatchEvidence] = field(default_factory=list)
    blocked: list[BlockedLink] = field(default_factory=list)

    def components(self) -> list[list[int]]:
        groups: dict[int, list[int]] = {}
        for index, label in enumerate(self.labels):
            groups.setdefault(label, []).append(index)
        return list(groups.values())


class _Constrained:
    """Union-find whose roots carry the values that identity limits and strong attributes watch."""

    def __init__(
        self,
        records: Sequence[Record],
        links: Sequence[Link],
        config: MatchConfig,
        apart: Sequence[tuple[str, str]] = (),
    ):
        self.parent = list(range(len(records)))
        self.size = [1] * len(records)
        self.config = config
        # A cannot-link pair k puts token (k, 0) on one record and (k, 1) on the other; a root
        # holding both sides of any k would join records a person said are different people.
        index = {r.key: i for i, r in enumerate(records)}
        self.apart: list[dict[int, set[int]]] = [{} for _ in records]
        for k, (a, b) in enumerate(apart):
            if a in index and b in index and a != b:
                self.apart[index[a]].setdefault(k, set()).add(0)
                self.apart[index[b]].setdefault(k, set()).add(1)
        classes = identity_classes(records, links, config.limits)
        self.limited: list[dict[str, set[int]]] = []
        self.strong: list[dict[str, set[str]]] = []
        for record in records:
            self.limited.append(
                {kind: identities_of(record, kind, classes) for kind in config.limits}
            )
            self.strong.append(
                {
                    name: {record.fields[name]}
                    for name in config.strong_attributes
                    if record.fields.get(name)
                }
            )

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def kept_apart(self, a: int, b: int) -> bool:
        small, large = sorted((self.apart[a], self.apart[b]), key=len)
        return any(sides | large.get(k, set()) == {0, 1} for k, sides in small.items())

    def conflict(self, a: int, b: int) -> str:
        for kind, limit in self.config.limits.items():
            joined = self.limited[a].get(kind, set()) | self.limited[b].get(kind, set())
            if len(joined) > limit:
                return f"would give one customer {len(joined)} distinct {kind} (limit {limit})"
        for name in self.config.strong_attributes:
            left, right = self.strong[a].get(name, set()), self.strong[b].get(name, set())
            if left and right and left != right:
                return f"records disagree on {name}"
        return ""

    def union(self, a: int, b: int) -> None:
        if self.size[a] < self.size[b]:
            a, b = b, a
        self.parent[b] = a
        self.size[a] += self.size[b]
        for kind, values in self.limited[b].items():
            self.limited[a].setdefault(kind, set()).update(values)
        for name, strong in self.strong[b].items():
            self.strong[a].setdefault(name, set()).update(strong)
        for k, sides in self.apart[b].items():
            self.apart[a].setdefault(k, set()).update(sides)
        self.limited[b], self.strong[b], self.apart[b] = {}, {}, {}


#: Why a link was refused because a person split the records apart.
KEPT_APART = "a reviewer split these records apart (cannot-link override)"


def cluster(
    records: Sequence[Record],
    edges: Sequence[MatchEvidence],
    links: Sequence[Link],
    config: MatchConfig,
    *,
    apart: Sequence[tuple[str, str]] = (),
) -> Clustering:
    """Apply `edges` in order; explicit links always join, others only within the limits.

    `apart` holds cannot-link overrides: record pairs a person split, which nothing joins,
    not even an explicit link.
    """
    index = {r.key: i for i, r in enumerate(records)}
    uf = _Constrained(records, links, config, apart)
    result = Clustering(labels=[])
    for edge in edges:
        a, b = uf.find(index[edge.a]), uf.find(index[edge.b])
        if a == b:
            if edge.rule in EXPLICIT_LINK_RULES or not edge.rule.startswith("same_"):
                result.accepted.append(edge)
            continue
        if uf.kept_apart(a, b):
            result.blocked.append(BlockedLink(edge, KEPT_APART))
            continue
        reason = "" if edge.rule in EXPLICIT_LINK_RULES else uf.conflict(a, b)
        if reason:
            result.blocked.append(BlockedLink(edge, reason))
            continue
        uf.union(a, b)
        result.accepted.append(edge)
    result.labels = [uf.find(i) for i in range(len(records))]
    return result
