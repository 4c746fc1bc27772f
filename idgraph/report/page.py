"""The report page: one HTML file with its styles, chart specs and scripts inlined.

The vega, vega-lite and vega-embed JavaScript comes from vl-convert's offline bundle, so the
file opens with no network; tables are plain HTML, identity graphs inline SVG.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from idgraph.insights import RunInsights
from idgraph.report import charts
from idgraph.report.svg import customer_svg

#: Draws every chart container from the JSON specs; marks each drawn one for tests and
#: says on the page when one fails, instead of leaving a blank. vl-convert bundles it with
#: the libraries it names (`vegaEmbed`).
DRAW = """
const specs = JSON.parse(document.getElementById("idgraph-specs").textContent);
for (const [id, spec] of Object.entries(specs)) {
  const el = document.getElementById(id);
  vegaEmbed(el, spec, {actions: false, renderer: "svg"})
    .then(() => { el.dataset.rendered = "true"; })
    .catch((error) => { el.textContent = "chart failed: " + error; console.error(error); });
}
"""

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#222;
background:#fafafa}
header{background:#1f3b57;color:#fff;padding:16px 32px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;opacity:.85}
nav{padding:8px 32px;background:#eef2f6;position:sticky;top:0;z-index:2}
nav a{margin-right:14px;color:#1f3b57;text-decoration:none}
main{padding:8px 32px 48px;max-width:1200px}
section{background:#fff;border:1px solid #e3e6ea;border-radius:6px;padding:12px 20px;
margin:16px 0}
h2{margin:4px 0 8px;font-size:18px}h3{font-size:15px;margin:14px 0 6px}
table{border-collapse:collapse;margin:6px 0}td,th{border-bottom:1px solid #e8e8e8;
padding:3px 10px;text-align:left;vertical-align:top}th{background:#f4f6f8}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#8a5a00;background:#fff6e0;padding:4px 8px;border-radius:4px}
.muted{color:#666}.chart{margin:8px 0}code,pre{font-size:12px}
pre{white-space:pre-wrap;word-break:break-all;max-width:900px;margin:2px 0}
.graphs{display:flex;flex-wrap:wrap;gap:16px}.graph{border:1px solid #eee;padding:8px;
border-radius:6px;max-width:380px}
"""


def _when(ts: int | None) -> str:
    if ts is None:
        return "—"
    return datetime.fromtimestamp(ts / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], numeric: set[int]) -> str:
    head = "".join(
        f'<th class="n">{escape(h)}</th>' if i in numeric else f"<th>{escape(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{_num(v)}</td>' if i in numeric else f"<td>{_cell(v)}</td>"
            for i, v in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}"
    return f"{value:,}" if isinstance(value, int) else escape(str(value))


def _cell(value: Any) -> str:
    return "—" if value is None else escape(str(value))


class _Page:
    """Collects sections and chart specs, then writes the page."""

    def __init__(self) -> None:
        self.sections: list[tuple[str, str, str]] = []
        self.specs: dict[str, dict[str, Any]] = {}

    def chart(self, name: str, spec: dict[str, Any] | None, empty: str) -> str:
        if spec is None:
            return f'<p class="muted">{escape(empty)}</p>'
        chart_id = f"chart-{name}"
        self.specs[chart_id] = spec
        return f'<div class="chart" id="{chart_id}"></div>'

    def section(self, anchor: str, title: str, body: str) -> None:
        self.sections.append((anchor, title, body))


def render(insights: RunInsights, *, bundle: str) -> str:
    """The report as one HTML document.

    Args:
        insights: what to show (`idgraph.insights.run_insights`).
        bundle: the JavaScript that draws the charts: `DRAW` with vega-embed and the
            libraries it needs (vl-convert's `javascript_bundle(DRAW)`), inlined as is.
    """
    page = _Page()
    for build in _SECTIONS:
        build(page, insights)
    specs = json.dumps(page.specs, separators=(",", ":")).replace("</", "<\\/")
    nav = "".join(f'<a href="#{a}">{escape(t)}</a>' for a, t, _ in page.sections)
    body = "".join(
        f'<section id="{a}"><h2>{escape(t)}</h2>{html}</section>' for a, t, html in page.sections
    )
    run = insights.run
    subtitle = (
        f"run {insights.run_number} of {insights.runs} ({run.mode}, {_when(run.ts)})"
        if run
        else "no ingest run recorded in this store: run sections are empty"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>idgraph report: {escape(insights.store)}</title><style>{_STYLE}</style></head>"
        f"<body><header><h1>idgraph run report</h1><p>store {escape(insights.store)} · "
        f"{escape(subtitle)}</p></header><nav>{nav}</nav><main>{body}</main>"
        f'<script type="application/json" id="idgraph-specs">{specs}</script>'
        f'<script type="module">{bundle}</script></body></html>'
    )


def _inputs(page: _Page, insights: RunInsights) -> None:
    rejects = insights.rejects
    if rejects is None:
        page.section("inputs", "Read, ingested, rejected", '<p class="muted">No run record.</p>')
        return
    parts = [
        page.chart("sources", charts.sources_chart(rejects), "No input lines in this run."),
        _table(
            ["source", "files", "read", "ingested", "rejected", "values dropped"],
            [
                (s.source, ", ".join(s.files), s.read, s.ingested, s.rejected, s.values_dropped)
                for s in rejects.sources
            ],
            {2, 3, 4, 5},
        ),
    ]
    if rejects.note:
        parts.append(f'<p class="note">{escape(rejects.note)}</p>')
    if rejects.reasons:
        parts.append("<h3>Reject reasons</h3>")
        parts.append(page.chart("reasons", charts.reasons_chart(rejects), ""))
        parts.append(
            _table(
                ["source", "kind", "reason", "count", "examples (file:line field: raw)"],
                [
                    (
                        r.source,
                        "line" if r.kind == "line" else "value dropped",
                        r.reason,
                        r.rejected,
                        " | ".join(
                            f"{e.file}:{e.line} {e.field or ''}: {e.raw[:160]}" for e in r.examples
                        ),
                    )
                    for r in rejects.reasons
                ],
                {3},
            )
        )
    elif not rejects.note:
        parts.append('<p class="muted">Nothing was rejected.</p>')
    page.section("inputs", "Read, ingested, rejected", "".join(parts))


def _clusters(page: _Page, insights: RunInsights) -> None:
    c = insights.clusters
    parts = [
        f"<p>{c.records:,} records in {c.customers:,} customers; {c.flagged:,} flagged "
        f"(oversized); {c.for_review:,} at or over the review score {c.review_threshold:g}.</p>",
        page.chart("sizes", charts.sizes_chart(c), "No customers."),
        "<h3>Largest customers</h3>",
        _table(
            ["customer", "records", "sources"],
            [(x.id, x.records, ", ".join(x.sources)) for x in c.largest],
            {1},
        ),
        "<h3>Customers over the review threshold</h3>",
        _table(
            ["customer", "records", "score", "reasons"],
            [(r.customer_id, r.record_count, r.score, "; ".join(r.reasons)) for r in c.review],
            {1, 2},
        )
        if c.review
        else '<p class="muted">None.</p>',
    ]
    page.section("clusters", "Customers and cluster sizes", "".join(parts))


def _links(page: _Page, insights: RunInsights) -> None:
    links, off = insights.links, insights.identifiers_off
    parts = [
        "<p>Candidate links of the run per rule, accepted (made) or refused by a guard; "
        "stored = evidence edges of that rule the store holds now (identifier links are "
        "kept as shared identifiers, not edges).</p>",
        page.chart("links", charts.links_chart(links), "No run record: no link counts."),
        _table(
            ["rule", "made", "refused", "stored"],
            [(r.rule, r.made, r.refused, r.stored) for r in links.rules],
            {1, 2, 3},
        ),
        "<p>Pairs over the threshold kept apart before clustering: "
        + (", ".join(f"{escape(k)} {n:,}" for k, n in sorted(links.kept_apart.items())) or "none")
        + " (households: a shared contact whose holders' first names are two people; "
        "must_agree: a field that must agree does not).</p>",
        "<h3>Refused per guard</h3>",
        _table(
            ["rule", "guard", "links"],
            [(r.rule, r.guard, r.links) for r in links.refused],
            {2},
        )
        if links.refused
        else '<p class="muted">No link was refused in this run.</p>',
        "<h3>Identifiers switched off</h3>",
        page.chart("off", charts.identifiers_off_chart(off), "Every identifier links."),
        _table(
            ["kind", "value", "records", "reason"],
            [(i.kind, i.value, i.records, i.reason) for i in off.widest],
            {2},
        ),
        f'<p class="muted">{escape(off.junk_note)}</p>',
    ]
    page.section("links", "Links, guards, identifiers switched off", "".join(parts))


def _model(page: _Page, insights: RunInsights) -> None:
    model, links = insights.model, insights.links
    origin = (
        "learned from this store by its last full run"
        if model.origin == "store"
        else "the shipped weights (the store is under `scoring.min_records`)"
    )
    parts = [
        page.chart("weights", charts.weights_chart(links), "No stored model links."),
        page.chart("scores", charts.scores_chart(links), "No stored fixed-rule links."),
        f"<h3>Per-field weights</h3><p>Match model: {escape(origin)}; prior weight "
        f"{model.prior_weight:g} (log2 odds two records are one person before any field).</p>",
        page.chart("model", charts.model_chart(model), "The model scores no field."),
    ]
    page.section("model", "Match weights", "".join(parts))


def _funnel(page: _Page, insights: RunInsights) -> None:
    funnel = insights.funnel
    if funnel is None:
        page.section("blocking", "Blocking funnel", '<p class="muted">No run record.</p>')
        return
    parts = [
        f"<p>The {escape(funnel.mode)} run's fuzzy matching: records re-resolved, blocks "
        "(summed over the rules), pairs compared once, fuzzy and model links accepted.</p>",
        page.chart("funnel", charts.funnel_chart(funnel), ""),
        _table(
            ["rule", "blocks", "pairs", "oversized blocks", "records in them"],
            [
                (r.rule, r.blocks, r.pairs, r.oversized_blocks, r.oversized_records)
                for r in funnel.rules
            ],
            {1, 2, 3, 4},
        ),
    ]
    page.section("blocking", "Blocking funnel", "".join(parts))


def _doubtful(page: _Page, insights: RunInsights) -> None:
    if not insights.doubtful:
        page.section("doubtful", "Doubtful customers", '<p class="muted">None.</p>')
        return
    cards = []
    for g in insights.doubtful:
        cut = f" (first {len(g.nodes)} records)" if g.truncated else ""
        cards.append(
            f'<div class="graph"><b>{escape(g.customer_id)}</b> score {g.score:g}{cut}'
            f"{customer_svg(g)}<ul>"
            + "".join(f"<li>{escape(r)}</li>" for r in g.reasons)
            + "</ul></div>"
        )
    intro = (
        "<p>Records as dots (colour = source), evidence as lines (grey: a shared identifier, "
        "blue: a match with its score); the red dashed line is the weakest link, the least "
        "certain one whose removal would split the customer.</p>"
    )
    page.section(
        "doubtful", "Doubtful customers", intro + f'<div class="graphs">{"".join(cards)}</div>'
    )


def _segments(page: _Page, insights: RunInsights) -> None:
    s = insights.segments
    if not s.segments:
        page.section("segments", "Segments", '<p class="muted">No saved segment.</p>')
        return
    parts = [
        page.chart("segment-sizes", charts.segment_sizes_chart(s), ""),
        _table(
            ["segment", "members", "last run", "description"],
            [(x.name, x.size, _when(x.last_run_ts), x.description) for x in s.segments],
            {1},
        ),
        "<h3>Size over runs</h3>",
        page.chart("segment-history", charts.segment_history_chart(s), "No segment run yet."),
        "<h3>Entered and exited per run</h3>",
        page.chart("segment-changes", charts.segment_changes_chart(s), "No segment run yet."),
        "<h3>Overlap</h3>",
        page.chart("segment-overlap", charts.overlap_chart(s), ""),
    ]
    page.section("segments", "Segments", "".join(parts))


_SECTIONS: tuple[Callable[[_Page, RunInsights], None], ...] = (
    _inputs,
    _clusters,
    _links,
    _model,
    _funnel,
    _doubtful,
    _segments,
)
