"""A customer's identity graph — records as nodes, evidence as edges — for every drawing of it.

The web page draws one customer (`customer_graph`, with the shared identifiers that link
nobody, dashed); the run report draws the most doubtful ones (`doubtful_graphs`) with the
weakest link marked. A reviewer deciding whether a customer is one person wants to see what
holds it together and where it would fall apart: the link whose removal splits the customer
(a bridge) with the least evidence is the one to question first.
"""

from __future__ import annotations

from typing import Literal

import networkx as nx
from pydantic import BaseModel, ConfigDict

from idgraph.cluster.review import ReviewItem, review_customers
from idgraph.query import CustomerProfile, IdentityGraph, RecordView

__all__ = [
    "CustomerGraph",
    "GraphEdge",
    "GraphNode",
    "GraphView",
    "customer_graph",
    "doubtful_graphs",
]

#: More records than this are drawn as the first ones only (by key), said in `truncated`.
MAX_NODES = 40

EdgeKind = Literal["match", "identifier", "not_linking"]


class GraphNode(BaseModel):
    """One record of the customer."""

    model_config = ConfigDict(frozen=True)

    key: str
    source: str
    #: Name and date of birth as the record has them (else its email, phone or id), for
    #: the reviewer's eye.
    label: str


class GraphEdge(BaseModel):
    """Evidence between two records: a stored match, a shared identifier that links, or one
    shared that links nobody (a guard stopped it)."""

    model_config = ConfigDict(frozen=True)

    a: str
    b: str
    kind: EdgeKind
    #: The match rule, or the identifier kind.
    label: str
    #: The match's score (similarity, or the model's probability); 1.0 for a linking
    #: identifier, 0.0 for one that links nobody.
    score: float
    #: True on the weakest link: the least certain edge whose removal splits the customer
    #: (the least certain edge of all when none would). Marked by `doubtful_graphs` only.
    weakest: bool = False


class GraphView(BaseModel):
    """One customer's records and evidence, at most a drawing's worth of records."""

    model_config = ConfigDict(frozen=True)

    nodes: list[GraphNode]
    edges: list[GraphEdge]
    #: Records left out of the drawing (a customer past the limit).
    hidden: int = 0


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


def _label(record: RecordView) -> str:
    fields = record.fields
    told = " ".join(fields[f] for f in ("first_name", "last_name", "birth_date") if fields.get(f))
    return told or fields.get("email") or fields.get("phone") or record.source_id or record.key


def customer_graph(profile: CustomerProfile, *, limit: int, not_linking: bool = True) -> GraphView:
    """The records and evidence of one customer, at most `limit` records (the first ones).

    Identifier evidence is drawn as a star from the first holder (by key) to each other
    holder, not every pair, so a value held by ten records adds nine edges. `not_linking`:
    also the identifiers the records share that link nobody.
    """
    shown = profile.records[:limit]
    keys = {r.key for r in shown}
    nodes = [GraphNode(key=r.key, source=r.source, label=_label(r)) for r in shown]
    edges: list[GraphEdge] = []
    for ident in profile.identifiers:
        if not ident.linking and not not_linking:
            continue
        holders = sorted(k for k in set(ident.records) if k in keys)
        kind: EdgeKind = "identifier" if ident.linking else "not_linking"
        score = 1.0 if ident.linking else 0.0
        edges += [
            GraphEdge(a=holders[0], b=other, kind=kind, label=ident.kind, score=score)
            for other in holders[1:]
        ]
    edges += [
        GraphEdge(
            a=m.record_a,
            b=m.record_b,
            kind="match",
            label=m.rule,
            score=m.score if m.score is not None else 0.0,
        )
        for m in profile.evidence
        if m.record_a in keys and m.record_b in keys
    ]
    return GraphView(nodes=nodes, edges=edges, hidden=len(profile.records) - len(shown))


def doubtful_graphs(
    graph: IdentityGraph, *, limit: int = 6, review: list[ReviewItem] | None = None
) -> list[CustomerGraph]:
    """The `limit` most doubtful customers (`IdentityGraph.review` order) with their graphs
    (`customer_graph` without the identifiers that link nobody), the weakest link marked.

    Args:
        review: the review queue when the caller has it already, worst first.
    """
    found = []
    queue = review if review is not None else review_customers(graph.store, limit=limit)
    for item in queue[:limit]:
        profile = graph.profile(item.customer_id, events=0)
        drawn = customer_graph(profile, limit=MAX_NODES, not_linking=False)
        found.append(
            CustomerGraph(
                customer_id=profile.id,
                score=item.score,
                reasons=item.reasons,
                nodes=drawn.nodes,
                edges=_mark_weakest(drawn.edges),
                truncated=drawn.hidden > 0,
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
    weakest = min(pool, key=lambda i: (edges[i].score, edges[i].kind != "match", i))
    return [e.model_copy(update={"weakest": i == weakest}) for i, e in enumerate(edges)]
