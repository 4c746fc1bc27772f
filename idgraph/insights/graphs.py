"""The most doubtful customers as small identity graphs: records, evidence, weakest link.

A reviewer deciding whether a customer is one person wants to see what holds it together
and where it would fall apart: the link whose removal splits the customer (a bridge) with
the least evidence is the one to question first.
"""

from __future__ import annotations

from typing import Literal

import networkx as nx
from pydantic import BaseModel, ConfigDict

from idgraph.cluster.review import ReviewItem, review_customers
from idgraph.query import IdentityGraph

__all__ = ["CustomerGraph", "GraphEdge", "GraphNode", "doubtful_graphs"]

#: More records than this are drawn as the first ones only (by key), said in `truncated`.
MAX_NODES = 40


class GraphNode(BaseModel):
    """One record of the customer."""

    model_config = ConfigDict(frozen=True)

    key: str
    source: str
    #: Name and date of birth as the record has them, for the reviewer's eye.
    label: str


class GraphEdge(BaseModel):
    """Evidence between two records: a shared linking identifier or a stored match."""

    model_config = ConfigDict(frozen=True)

    a: str
    b: str
    via: Literal["identifier", "match"]
    #: The identifier kind, or the match rule.
    label: str
    #: 1.0 for an identifier; the match's score (similarity, or the model's probability).
    score: float
    #: True on the weakest link: the least certain edge whose removal splits the customer
    #: (the least certain edge of all when none would).
    weakest: bool = False


class CustomerGraph(BaseModel):
    """A doubtful customer, why it is doubtful, and its evidence graph."""

    model_config = ConfigDict(frozen=True)

    customer_id: str
    score: float
    reasons: list[str]
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    #: True when the customer has more than `MAX_NODES` records and only those are drawn.
    truncated: bool = False


def doubtful_graphs(
    graph: IdentityGraph, *, limit: int = 6, review: list[ReviewItem] | None = None
) -> list[CustomerGraph]:
    """The `limit` most doubtful customers (`IdentityGraph.review` order) with their graphs.

    Identifier evidence is drawn as a star from the first holder (by key) to each other
    holder, not every pair, so a value held by ten records adds nine edges.

    Args:
        review: the review queue when the caller has it already, worst first.
    """
    found = []
    queue = review if review is not None else review_customers(graph.store, limit=limit)
    for item in queue[:limit]:
        profile = graph.profile(item.customer_id, events=0)
        records = profile.records[:MAX_NODES]
        keys = {r.key for r in records}
        nodes = [
            GraphNode(
                key=r.key,
                source=r.source,
                label=" ".join(
                    r.fields[f]
                    for f in ("first_name", "last_name", "birth_date")
                    if r.fields.get(f)
                ),
            )
            for r in records
        ]
        edges = []
        for ident in profile.identifiers:
            holders = sorted(k for k in set(ident.records) if k in keys)
            if not ident.linking or len(holders) < 2:
                continue
            edges += [
                GraphEdge(a=holders[0], b=other, via="identifier", label=ident.kind, score=1.0)
                for other in holders[1:]
            ]
        edges += [
            GraphEdge(
                a=m.record_a,
                b=m.record_b,
                via="match",
                label=m.rule,
                score=m.score if m.score is not None else 0.0,
            )
            for m in profile.evidence
            if m.record_a in keys and m.record_b in keys
        ]
        found.append(
            CustomerGraph(
                customer_id=profile.id,
                score=item.score,
                reasons=item.reasons,
                nodes=nodes,
                edges=_mark_weakest(edges),
                truncated=len(profile.records) > MAX_NODES,
            )
        )
    return found


def _mark_weakest(edges: list[GraphEdge]) -> list[GraphEdge]:
    """The edges with the weakest one marked (see `GraphEdge.weakest`)."""
    if not edges:
        return edges
    g = nx.MultiGraph()
    for i, e in enumerate(edges):
        g.add_edge(e.a, e.b, key=i)
    # A pair joined twice is no bridge: nx.bridges on a multigraph ignores parallel edges.
    pairs = {frozenset((e.a, e.b)) for e in edges}
    counts = {p: sum(1 for e in edges if frozenset((e.a, e.b)) == p) for p in pairs}
    bridges = {frozenset(pair) for pair in nx.bridges(nx.Graph(g)) if counts[frozenset(pair)] == 1}
    candidates = [i for i, e in enumerate(edges) if frozenset((e.a, e.b)) in bridges]
    pool = candidates or list(range(len(edges)))
    weakest = min(pool, key=lambda i: (edges[i].score, edges[i].via != "match", i))
    return [e.model_copy(update={"weakest": i == weakest}) for i, e in enumerate(edges)]
