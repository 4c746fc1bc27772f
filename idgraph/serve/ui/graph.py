"""What a split would leave of a customer, from the same identity graph the page draws."""

from __future__ import annotations

import networkx as nx

from idgraph.insights.graphs import customer_graph
from idgraph.query import CustomerProfile


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
