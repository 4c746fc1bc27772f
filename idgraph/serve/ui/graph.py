"""One customer's identity graph as the page draws it: records as nodes, evidence as edges.

Edges are the stored match edges and the identifiers that link (drawn as a star from the
first record holding one, never a clique), plus identifiers the records share that link
nobody (dashed, with the stored reason), so a reviewer sees what held and what did not.
"""

from __future__ import annotations

from typing import Literal

import networkx as nx
from pydantic import BaseModel, ConfigDict

from idgraph.query import CustomerProfile, RecordView


class GraphNode(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    source: str
    label: str


class GraphEdge(BaseModel):
    model_config = ConfigDict(frozen=True)

    a: str
    b: str
    kind: Literal["match", "identifier", "not_linking"]
    label: str


class GraphView(BaseModel):
    model_config = ConfigDict(frozen=True)

    nodes: list[GraphNode]
    edges: list[GraphEdge]
    #: Records left out of the drawing (a customer past the limit).
    hidden: int = 0


def _label(record: RecordView) -> str:
    fields = record.fields
    name = " ".join(v for v in (fields.get("first_name"), fields.get("last_name")) if v)
    return name or fields.get("email") or fields.get("phone") or record.source_id or record.key


def customer_graph(profile: CustomerProfile, *, limit: int) -> GraphView:
    """The records and evidence of one customer, at most `limit` records."""
    shown = profile.records[:limit]
    keys = {r.key for r in shown}
    nodes = [GraphNode(key=r.key, source=r.source, label=_label(r)) for r in shown]
    edges: list[GraphEdge] = []
    for match in profile.evidence:
        if match.record_a in keys and match.record_b in keys:
            score = f" {match.score:.2f}" if match.score is not None else ""
            edges.append(
                GraphEdge(
                    a=match.record_a, b=match.record_b, kind="match", label=match.rule + score
                )
            )
    for ident in profile.identifiers:
        holders = [k for k in dict.fromkeys(ident.records) if k in keys]
        kind: Literal["identifier", "not_linking"] = (
            "identifier" if ident.linking else "not_linking"
        )
        label = ident.kind if ident.linking else f"{ident.kind} (not linking)"
        for other in holders[1:]:
            edges.append(GraphEdge(a=holders[0], b=other, kind=kind, label=label))
    return GraphView(nodes=nodes, edges=edges, hidden=len(profile.records) - len(shown))


def parts_after_split(profile: CustomerProfile, taken: list[str]) -> list[list[str]]:
    """The groups of records a split would leave, largest first.

    No evidence joins a taken record to a kept one any more (the split's cannot-links); the
    records on either side stay together as far as their own evidence joins them. A preview:
    the re-resolution that follows may also let guards act on the smaller groups.
    """
    out = set(taken)
    graph = nx.Graph()
    graph.add_nodes_from(r.key for r in profile.records)
    for edge in customer_graph(profile, limit=len(profile.records)).edges:
        if edge.kind != "not_linking" and ((edge.a in out) == (edge.b in out)):
            graph.add_edge(edge.a, edge.b)
    parts = [sorted(part) for part in nx.connected_components(graph)]
    return sorted(parts, key=lambda part: (-len(part), part[0]))
