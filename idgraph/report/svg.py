"""A doubtful customer's identity graph as inline SVG, laid out on a circle.

Records sit evenly on a circle (a customer has a few dozen records at most), evidence runs
between them as labelled lines, and the weakest link is drawn red and dashed. No layout
library and no script: the drawing is static markup that any browser shows.
"""

from __future__ import annotations

import math
from html import escape

from idgraph.insights import CustomerGraph
from idgraph.insights.data import match_weight
from idgraph.insights.graphs import GraphEdge
from idgraph.match.scored import SCORED_RULE

#: Past this many edges only the weakest link is labelled on the drawing.
_LABELLED_EDGES = 12
_PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#b279a2", "#9d755d", "#eeca3b", "#72b7b2")


def customer_svg(customer: CustomerGraph, *, size: int = 360) -> str:
    """The graph of one customer as an `<svg>` element."""
    n = len(customer.nodes)
    centre = size / 2
    radius = 0 if n == 1 else size / 2 - 60
    at = {
        node.key: (
            centre + radius * math.cos(2 * math.pi * i / n - math.pi / 2),
            centre + radius * math.sin(2 * math.pi * i / n - math.pi / 2),
        )
        for i, node in enumerate(customer.nodes)
    }
    sources = sorted({node.source for node in customer.nodes})
    colour = {s: _PALETTE[i % len(_PALETTE)] for i, s in enumerate(sources)}
    parts = [
        f'<svg class="identity-graph" width="{size}" '
        f'height="{size}" viewBox="0 0 {size} {size}" role="img" '
        f'aria-label="identity graph of {escape(customer.customer_id)}">'
    ]
    for edge in customer.edges:
        (x1, y1), (x2, y2) = at[edge.a], at[edge.b]
        style = (
            'stroke="#d62728" stroke-width="3" stroke-dasharray="6 4"'
            if edge.weakest
            else f'stroke="{"#1f77b4" if edge.kind == "match" else "#888"}" stroke-width="1.5"'
        )
        text = _edge_text(edge)
        if edge.weakest:
            text = f"weakest: {text}"
        parts.append(
            f'<line class="edge{" weakest" if edge.weakest else ""}" x1="{x1:.1f}" '
            f'y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" {style}>'
            f"<title>{escape(edge.a)} – {escape(edge.b)}: {escape(text)}</title></line>"
        )
        if not edge.weakest and len(customer.edges) > _LABELLED_EDGES:
            continue  # too many labels to read: the tooltip keeps them
        parts.append(
            f'<text x="{(x1 + x2) / 2:.1f}" y="{(y1 + y2) / 2 - 3:.1f}" font-size="10" '
            f'text-anchor="middle" fill="{"#d62728" if edge.weakest else "#444"}">'
            f"{escape(text)}</text>"
        )
    for node in customer.nodes:
        x, y = at[node.key]
        parts.append(
            f'<g class="node"><circle cx="{x:.1f}" cy="{y:.1f}" r="9" '
            f'fill="{colour[node.source]}"><title>{escape(node.key)} {escape(node.label)}'
            f"</title></circle>"
            f'<text x="{x:.1f}" y="{y + 22:.1f}" font-size="10" text-anchor="middle">'
            f"{escape(node.key)}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _edge_text(edge: GraphEdge) -> str:
    """The identifier kind; a match's rule and score, the model's as a match weight."""
    if edge.kind == "identifier":
        return edge.label
    if edge.label == SCORED_RULE:
        return f"{edge.label} w {match_weight(edge.score):.1f}"
    return f"{edge.label} {edge.score:.2f}"
