"""Vega-Lite chart specs (built with Altair) for the sections of the report.

Each function takes one insights answer and returns a spec as a plain dict, or None when
there is nothing to draw; the page embeds the specs and draws them with the inlined
vega-embed, offline.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import altair as alt

from idgraph.insights import (
    BlockingFunnel,
    ClusterSummary,
    IdentifiersOff,
    LinkSummary,
    ModelSummary,
    RejectsSummary,
    SegmentsSummary,
)
from idgraph.insights.data import WEIGHT_CAP

Spec = dict[str, Any]
_WIDTH = 560
_RED = "#e45756"


def _spec(chart: alt.TopLevelMixin) -> Spec:
    spec: Spec = chart.to_dict()
    spec.pop("$schema", None)  # a URL; the page needs nothing from outside
    return spec


def _data(rows: list[dict[str, Any]]) -> alt.Data:
    return alt.Data(values=rows)  # type: ignore[no-untyped-call]


def _bars(
    rows: list[dict[str, Any]],
    *,
    label: str,
    count: str,
    title: str,
    colour: alt.Color | str = "#4c78a8",
    sort: str | alt.EncodingSortField | None = None,
    width: int = _WIDTH,
) -> Spec | None:
    """Horizontal bars, one per `label` (stacked by `colour` when it names a field)."""
    if not rows:
        return None
    fields = [f"{label}:N", f"{count}:Q"]
    if isinstance(colour, alt.Color):
        fields.insert(1, colour.shorthand)
    encoding: dict[str, Any] = {
        "y": alt.Y(f"{label}:N", title=None, sort=sort),
        "x": alt.X(f"{count}:Q", title=title),
        "tooltip": fields,
    }
    if isinstance(colour, alt.Color):
        encoding["color"] = colour
        chart = alt.Chart(_data(rows)).mark_bar().encode(**encoding)
    else:
        chart = alt.Chart(_data(rows)).mark_bar(color=colour).encode(**encoding)
    return _spec(chart.properties(width=width))


def _outcome(field: str, good: str, bad: str, colour: str) -> alt.Color:
    """Colour by an outcome field: `good` in `colour`, `bad` in red."""
    return alt.Color(f"{field}:N", scale=alt.Scale(domain=[good, bad], range=[colour, _RED]))


def sources_chart(rejects: RejectsSummary) -> Spec | None:
    rows = [
        {"source": s.source, "lines": n, "outcome": outcome}
        for s in rejects.sources
        for outcome, n in (("ingested", s.ingested), ("rejected", s.rejected))
    ]
    colour = _outcome("outcome", "ingested", "rejected", "#4c78a8")
    return _bars(rows, label="source", count="lines", title="lines read", colour=colour)


def reasons_chart(rejects: RejectsSummary) -> Spec | None:
    rows = [
        {
            "reason": f"{r.source}: {r.reason}"[:70] + ("" if r.kind == "line" else " (value)"),
            "rejects": r.rejected,
        }
        for r in rejects.reasons
    ]
    return _bars(
        rows[:20],
        label="reason",
        count="rejects",
        title="lines rejected and values dropped",
        colour=_RED,
        sort="-x",
        width=_WIDTH - 200,
    )


def links_chart(links: LinkSummary) -> Spec | None:
    rows = [
        {"rule": r.rule, "links": n, "outcome": outcome}
        for r in links.rules
        for outcome, n in (("made", r.made), ("refused", r.refused))
        if n
    ]
    colour = _outcome("outcome", "made", "refused", "#54a24b")
    return _bars(
        rows, label="rule", count="links", title="candidate links in the run", colour=colour
    )


def identifiers_off_chart(off: IdentifiersOff) -> Spec | None:
    rows = [{"kind": r.kind, "reason": r.reason, "values": r.values} for r in off.reasons]
    colour = alt.Color("reason:N", legend=alt.Legend(orient="bottom", columns=1, labelLimit=480))
    return _bars(
        rows, label="kind", count="values", title="identifier values not linking", colour=colour
    )


def funnel_chart(funnel: BlockingFunnel) -> Spec | None:
    rows = [
        {"step": s.step, "count": max(s.count, 0), "order": i} for i, s in enumerate(funnel.steps)
    ]
    return _bars(
        rows,
        label="step",
        count="count",
        title="count",
        sort=alt.EncodingSortField("order"),
    )


def segment_sizes_chart(segments: SegmentsSummary) -> Spec | None:
    rows = [{"segment": s.name, "customers": s.size} for s in segments.segments]
    return _bars(rows, label="segment", count="customers", title="members", sort="-x")


def sizes_chart(clusters: ClusterSummary) -> Spec | None:
    rows = [{"records": size, "customers": n} for size, n in sorted(clusters.sizes.items())]
    if not rows:
        return None
    chart = (
        alt.Chart(_data(rows))
        .mark_bar()
        .encode(
            x=alt.X("records:O", title="records per customer"),
            y=alt.Y("customers:Q", scale=alt.Scale(type="symlog"), title="customers (symlog)"),
            tooltip=["records:O", "customers:Q"],
        )
        .properties(width=_WIDTH)
    )
    return _spec(chart)


def weights_chart(links: LinkSummary) -> Spec | None:
    rows = [{"weight": b.low + 0.5, "links": b.links} for b in links.weights]
    if not rows:
        return None
    chart = (
        alt.Chart(_data(rows))
        .mark_bar(color="#72b7b2")
        .encode(
            x=alt.X(
                "weight:Q",
                bin=alt.Bin(step=1),
                title=f"match weight (log2 odds; the last bin is {WEIGHT_CAP:g} or more)",
            ),
            y=alt.Y("sum(links):Q", title="stored model links"),
            tooltip=[alt.Tooltip("weight:Q", title="weight bin centre"), "sum(links):Q"],
        )
        .properties(width=_WIDTH)
    )
    return _spec(chart)


def scores_chart(links: LinkSummary) -> Spec | None:
    rows = [{"rule": b.rule, "score": b.low + 0.025, "links": b.links} for b in links.scores]
    if not rows:
        return None
    chart = (
        alt.Chart(_data(rows))
        .mark_bar()
        .encode(
            x=alt.X("score:Q", bin=alt.Bin(step=0.05), title="score of stored fixed-rule links"),
            y=alt.Y("sum(links):Q", title="links"),
            color="rule:N",
            tooltip=["rule:N", "sum(links):Q"],
        )
        .properties(width=_WIDTH)
    )
    return _spec(chart)


def model_chart(model: ModelSummary) -> Spec | None:
    rows = [
        {"field": f.field, "level": f.level, "weight": f.weight, "m": f.m, "u": f.u}
        for f in model.fields
    ]
    if not rows:
        return None
    chart = (
        alt.Chart(_data(rows))
        .mark_bar()
        .encode(
            y=alt.Y("level:N", sort=None, title=None),
            x=alt.X("weight:Q", title="weight log2(m/u)"),
            color=alt.condition("datum.weight >= 0", alt.value("#54a24b"), alt.value("#e45756")),
            row=alt.Row("field:N", sort=None, title=None, header=alt.Header(labelAngle=0)),
            tooltip=["field:N", "level:N", "weight:Q", "m:Q", "u:Q"],
        )
        .properties(width=_WIDTH - 120)
        .resolve_scale(y="independent")
    )
    return _spec(chart)


def _day(ts: int) -> str:
    return datetime.fromtimestamp(ts / 1000, tz=UTC).isoformat(timespec="seconds")


def segment_history_chart(segments: SegmentsSummary) -> Spec | None:
    rows = [
        {
            "segment": r.segment,
            "run": _day(r.ts),
            "size": r.size,
            "entered": r.entered,
            "exited": r.exited,
        }
        for r in segments.runs
    ]
    if not rows:
        return None
    base = alt.Chart(_data(rows)).encode(
        x=alt.X("run:T", title="run"),
        color="segment:N",
        tooltip=["segment:N", "run:T", "size:Q", "entered:Q", "exited:Q"],
    )
    chart = (base.mark_line() + base.mark_point(filled=True)).encode(
        y=alt.Y("size:Q", title="members")
    )
    return _spec(chart.properties(width=_WIDTH))


def segment_changes_chart(segments: SegmentsSummary) -> Spec | None:
    rows = [
        {"segment": r.segment, "run": _day(r.ts), "change": change, "customers": n}
        for r in segments.runs
        for change, n in (("entered", r.entered), ("exited", -r.exited))
    ]
    if not rows:
        return None
    chart = (
        alt.Chart(_data(rows))
        .mark_bar()
        .encode(
            x=alt.X("run:O", title=None),
            y=alt.Y("customers:Q", title="entered (+) / exited (-)"),
            color=alt.Color(
                "change:N",
                scale=alt.Scale(domain=["entered", "exited"], range=["#54a24b", "#e45756"]),
            ),
            column=alt.Column("segment:N", title=None),
            tooltip=["segment:N", "run:O", "change:N", "customers:Q"],
        )
        .properties(width=max(80, _WIDTH // max(1, len(segments.segments))))
    )
    return _spec(chart)


def overlap_chart(segments: SegmentsSummary) -> Spec | None:
    rows = [{"a": o.a, "b": o.b, "customers": o.customers} for o in segments.overlap]
    if not rows:
        return None
    base = alt.Chart(_data(rows)).encode(x=alt.X("a:N", title=None), y=alt.Y("b:N", title=None))
    chart = base.mark_rect().encode(
        color=alt.Color("customers:Q", scale=alt.Scale(scheme="blues")),
        tooltip=["a:N", "b:N", "customers:Q"],
    ) + base.mark_text().encode(text="customers:Q")
    return _spec(chart.properties(width=min(_WIDTH, 60 * len(segments.segments) + 40)))
