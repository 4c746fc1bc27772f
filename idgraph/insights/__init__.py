"""Aggregates for pictures: what a run did and what the store holds, as typed answers.

`idgraph report` draws these, and the web page and the API read the same functions, so
they never disagree. Every function reads through a `GraphStore` and returns pydantic models
of counts, histograms and top-N lists, never one row per record.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from idgraph.cluster.review import review_customers
from idgraph.errors import NotFoundError
from idgraph.insights.data import (
    ALL,
    REVIEW_THRESHOLD,
    BlockingFunnel,
    ClusterSummary,
    IdentifiersOff,
    LinkSummary,
    ModelSummary,
    RejectsSummary,
    SegmentsSummary,
    blocking_funnel,
    cluster_summary,
    identifiers_off,
    link_summary,
    model_summary,
    rejects_summary,
    segments_summary,
)
from idgraph.insights.graphs import CustomerGraph, doubtful_graphs
from idgraph.query import IdentityGraph
from idgraph.run_record import RunRecord, ingest_runs

__all__ = [
    "REVIEW_THRESHOLD",
    "BlockingFunnel",
    "ClusterSummary",
    "CustomerGraph",
    "IdentifiersOff",
    "LinkSummary",
    "ModelSummary",
    "RejectsSummary",
    "RunInsights",
    "RunRecord",
    "SegmentsSummary",
    "blocking_funnel",
    "cluster_summary",
    "doubtful_graphs",
    "identifiers_off",
    "ingest_runs",
    "link_summary",
    "model_summary",
    "rejects_summary",
    "run_insights",
    "segments_summary",
]


class RunInsights(BaseModel):
    """Everything `idgraph report` draws, for one store and one of its runs."""

    model_config = ConfigDict(frozen=True)

    store: str
    #: The run shown (1 = the first recorded), and how many the store keeps; None and 0 for
    #: a store with no run record (written before they existed, or only by the service).
    run_number: int | None
    runs: int
    run: RunRecord | None
    rejects: RejectsSummary | None
    clusters: ClusterSummary
    links: LinkSummary
    identifiers_off: IdentifiersOff
    model: ModelSummary
    funnel: BlockingFunnel | None
    doubtful: list[CustomerGraph]
    segments: SegmentsSummary


def run_insights(
    graph: IdentityGraph, *, run: int | None = None, top: int = 10, doubtful: int = 6
) -> RunInsights:
    """Every section of the report: the store as it is, and one ingest run's record.

    Args:
        graph: the store to read.
        run: the run to show, 1 for the first recorded, -1 (or None) for the last.
        top: how many of the largest, most doubtful and most shared to list.
        doubtful: how many doubtful customers to draw as graphs.

    Raises:
        NotFoundError: the store keeps no run numbered `run`.
    """
    store = graph.store
    runs = ingest_runs(store)
    queue = review_customers(store, limit=ALL)
    chosen: RunRecord | None = None
    number: int | None = None
    if runs or run is not None:
        index = len(runs) - 1 if run is None or run == -1 else (run - 1 if run > 0 else run)
        if not -len(runs) <= index < len(runs):
            raise NotFoundError(
                f"no ingest run {run}: the store keeps {len(runs)} run record(s) "
                "(`idgraph report --list-runs` lists them)"
            )
        chosen, number = runs[index], index % len(runs) + 1
    return RunInsights(
        store=store.location,
        run_number=number,
        runs=len(runs),
        run=chosen,
        rejects=rejects_summary(chosen) if chosen else None,
        clusters=cluster_summary(store, top=top, review=queue),
        links=link_summary(store, chosen),
        identifiers_off=identifiers_off(store, top=top),
        model=model_summary(store),
        funnel=blocking_funnel(chosen) if chosen else None,
        doubtful=doubtful_graphs(graph, limit=doubtful, review=queue),
        segments=segments_summary(store),
    )
