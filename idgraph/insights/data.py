"""Reject, cluster, link, model and segment aggregates of a store and of its ingest runs.

Each function answers one section of `idgraph report` (and of the web page) from the store
or from a run record (`idgraph.run_record`); none loops over records in Python.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Final, Literal

import orjson
from pydantic import BaseModel, ConfigDict

from idgraph.cluster.review import ReviewItem, review_customers
from idgraph.insights.reads import READS
from idgraph.match.config import MatchConfig, load_match_config
from idgraph.match.levels import FIELD_LEVELS
from idgraph.match.model import MatchModel
from idgraph.match.scored import MODEL_KEY, SCORED_RULE, shipped_model
from idgraph.run_record import BlockingRow, RefusedRow, RunRecord
from idgraph.store.base import GraphStore
from idgraph.store.queries import READS as STORE_READS

__all__ = [
    "REVIEW_THRESHOLD",
    "WEIGHT_CAP",
    "BlockingFunnel",
    "ClusterSummary",
    "FieldWeight",
    "FunnelStep",
    "IdentifiersOff",
    "LargeCustomer",
    "LinkSummary",
    "ModelSummary",
    "OffIdentifier",
    "OffReason",
    "RejectExample",
    "RejectReason",
    "RejectsSummary",
    "RuleLinks",
    "ScoreBin",
    "SegmentOverlap",
    "SegmentRunPoint",
    "SegmentSize",
    "SegmentsSummary",
    "SourceCounts",
    "blocking_funnel",
    "cluster_summary",
    "identifiers_off",
    "link_summary",
    "match_weight",
    "model_summary",
    "rejects_summary",
    "segments_summary",
]

#: A customer whose review score (`cluster.review`) reaches this is counted for review:
#: two dates of birth (5), a flagged group (4), or first names that are not variants (2)
#: each do alone; a last name or one shared identifier (1 each) needs a second doubt.
REVIEW_THRESHOLD: Final = 2.0
#: A `limit` that lists the whole review queue.
ALL: Final = 2**31
#: Digits in reasons, so that "shared by 14 records" and "shared by 12 records" group.
_NUMBER = re.compile(r"\d+")
#: Quoted values in reasons (they carry the rejected value, which is not a reason).
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def _reason(text: str | None) -> str:
    return _NUMBER.sub("N", _QUOTED.sub("…", text or "")) or "(no reason)"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class SourceCounts(_Frozen):
    """Lines of one source in one run: read = ingested + rejected; bad values dropped from
    ingested lines are `values_dropped`."""

    source: str
    files: list[str]
    read: int
    ingested: int
    rejected: int
    values_dropped: int = 0


class RejectExample(_Frozen):
    file: str
    line: int
    field: str | None
    raw: str


class RejectReason(_Frozen):
    """Rejects of one source for one reason (counts in the reason read `N`): whole lines
    (`kind` "line") or single values dropped from an ingested line ("field")."""

    source: str
    reason: str
    rejected: int
    examples: list[RejectExample]
    kind: str = "line"


class RejectsSummary(_Frozen):
    """What one run read, ingested and rejected, per source and per reject reason."""

    run_ts: int
    sources: list[SourceCounts]
    reasons: list[RejectReason]
    rejects_path: str | None
    #: Why the reasons are missing or partial (no rejects file kept, file gone or rewritten).
    note: str | None = None


def rejects_summary(run: RunRecord, *, examples: int = 3) -> RejectsSummary:
    """Per source and per reject reason, with a few example lines from the run's rejects file.

    The counts per source come from the run record; the reasons from the rejects file the
    run wrote, when it is still there (a later ingest with the same `--rejects` path
    replaces it, which `note` then says).
    """
    sources: dict[str, SourceCounts] = {}
    source_of = {}
    for f in run.files:
        source_of[f.path] = f.source
        seen = sources.get(f.source)
        sources[f.source] = SourceCounts(
            source=f.source,
            files=[*(seen.files if seen else []), f.path],
            read=f.read + (seen.read if seen else 0),
            ingested=f.ingested + (seen.ingested if seen else 0),
            rejected=f.rejected + (seen.rejected if seen else 0),
            values_dropped=f.values_dropped + (seen.values_dropped if seen else 0),
        )
    note = None
    counts: Counter[tuple[str, str, str]] = Counter()
    samples: dict[tuple[str, str, str], list[RejectExample]] = defaultdict(list)
    path = Path(run.rejects_path) if run.rejects_path else None
    dropped = sum(f.values_dropped for f in run.files)
    if (run.rejected or dropped) and path is None:
        note = "the run kept no rejects file, so reasons are unknown"
    elif path is not None and not path.is_file():
        note = f"the rejects file {path} is gone, so reasons are unknown"
    elif path is not None:
        with path.open("rb") as handle:
            for line in handle:
                row = orjson.loads(line)
                kind = str(row.get("kind", "line"))
                where = (source_of.get(row["file"], row["file"]), kind, _reason(row["reason"]))
                counts[where] += 1
                if len(samples[where]) < examples:
                    samples[where].append(
                        RejectExample(
                            file=row["file"], line=row["line"], field=row["field"], raw=row["raw"]
                        )
                    )
        lines = sum(n for (_, kind, _), n in counts.items() if kind == "line")
        values = sum(counts.values()) - lines
        if lines != run.rejected or values != dropped:
            note = (
                f"the rejects file {path} holds {lines} rejected lines and {values} dropped "
                f"values, the run rejected {run.rejected} and dropped {dropped}: a later run "
                "has rewritten it"
            )
    return RejectsSummary(
        run_ts=run.ts,
        sources=sorted(sources.values(), key=lambda s: s.source),
        reasons=[
            RejectReason(
                source=src,
                reason=why,
                rejected=n,
                examples=samples[(src, kind, why)],
                kind=kind,
            )
            for (src, kind, why), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        rejects_path=run.rejects_path,
        note=note,
    )


class LargeCustomer(_Frozen):
    id: str
    records: int
    sources: list[str]


class ClusterSummary(_Frozen):
    """Customers by size, the largest ones, and those a person should review."""

    records: int
    customers: int
    #: Records per customer -> customers of that size.
    sizes: dict[int, int]
    largest: list[LargeCustomer]
    flagged: int
    review_threshold: float
    #: Customers whose review score reaches `review_threshold`.
    for_review: int
    #: The most doubtful customers, worst first (at most `top`).
    review: list[ReviewItem]


def cluster_summary(
    store: GraphStore,
    *,
    top: int = 10,
    review_threshold: float = REVIEW_THRESHOLD,
    review: list[ReviewItem] | None = None,
) -> ClusterSummary:
    """The cluster-size histogram, the `top` largest customers and the review queue.

    Args:
        top: how many of the largest and of the most doubtful customers to list.
        review_threshold: the review score (`IdentityGraph.review`) counted as doubtful.
        review: the whole review queue when the caller has it already (`review_customers`
            reads every customer with more than one record).
    """
    largest = [
        LargeCustomer(
            id=row["id"],
            records=int(row["size"] or 0),
            sources=_sources(row["sources"]),
        )
        for row in store.query(
            "largest_customers", STORE_READS["largest_customers"], {"limit": top}
        )
    ]
    if review is None:
        review = review_customers(store, limit=ALL)
    doubtful = [item for item in review if item.score >= review_threshold]
    sizes = {
        int(r["size"] or 0): int(r["n"])
        for r in store.query("cluster_sizes", STORE_READS["cluster_sizes"])
    }
    return ClusterSummary(
        records=_one(store, "count_records", STORE_READS),
        customers=sum(sizes.values()),
        sizes=sizes,
        largest=largest,
        flagged=_one(store, "flagged_customers", READS),
        review_threshold=review_threshold,
        for_review=len(doubtful),
        review=doubtful[:top],
    )


def _sources(value: str | list[str] | None) -> list[str]:
    """A customer's sources, stored as comma-separated text."""
    if isinstance(value, list):
        return sorted(value)
    return sorted(s for s in (value or "").split(",") if s)


def _one(store: GraphStore, name: str, reads: dict[str, str]) -> int:
    return int(store.query(name, reads[name])[0]["n"])


class RuleLinks(_Frozen):
    """Candidate links of one rule in a run: accepted, refused by guards; and the evidence
    edges of that rule the store holds now (fuzzy, model and alias rules keep theirs)."""

    rule: str
    made: int
    refused: int
    stored: int


class ScoreBin(_Frozen):
    """Stored links of one rule whose score (match weight for the model) falls in a bin."""

    rule: str
    low: float
    high: float
    links: int


class LinkSummary(_Frozen):
    run_ts: int | None
    rules: list[RuleLinks]
    #: Refused links per (rule, guard), from the run record.
    refused: list[RefusedRow]
    #: Pairs over the threshold kept apart before clustering, per reason (`households`,
    #: `must_agree`), from the run record.
    kept_apart: dict[str, int]
    #: Match weights (log2 odds) of the stored model links, in bins of one.
    weights: list[ScoreBin]
    #: Scores of the stored fixed-rule links, in bins of 0.05.
    scores: list[ScoreBin]


def link_summary(store: GraphStore, run: RunRecord | None) -> LinkSummary:
    """Links made and refused per rule and guard in `run`, and the stored links' scores."""
    stored: Counter[str] = Counter()
    weights: Counter[tuple[str, float]] = Counter()
    scores: Counter[tuple[str, float]] = Counter()
    for row in store.query("matched_scores", READS["matched_scores"]):
        rule, score, n = row["rule"], row["score"], int(row["n"])
        stored[rule] += n
        if score is None:
            continue
        if rule == SCORED_RULE:
            weights[(rule, math.floor(match_weight(float(score))))] += n
        else:
            scores[(rule, math.floor(float(score) * 20) / 20)] += n
    refused: Counter[str] = Counter()
    for refusal in run.refused if run else []:
        refused[refusal.rule] += refusal.links
    made = run.links if run else {}
    rules = sorted({*made, *refused, *stored})
    return LinkSummary(
        run_ts=run.ts if run else None,
        rules=[
            RuleLinks(rule=r, made=made.get(r, 0), refused=refused[r], stored=stored[r])
            for r in rules
        ],
        refused=list(run.refused) if run else [],
        kept_apart=dict(run.kept_apart) if run else {},
        weights=[
            ScoreBin(rule=r, low=low, high=low + 1, links=n)
            for (r, low), n in sorted(weights.items())
        ],
        scores=[
            ScoreBin(rule=r, low=low, high=round(low + 0.05, 2), links=n)
            for (r, low), n in sorted(scores.items())
        ],
    )


#: Probabilities are stored with four decimals, so weights past log2(0.9999 / 0.0001) = 13.3
#: cannot be told apart: they count as this cap (the last bin reads "14 or more").
WEIGHT_CAP: Final = 14.0


def match_weight(probability: float) -> float:
    """log2 odds of a stored match probability, within ±`WEIGHT_CAP`."""
    if probability >= 1:
        return WEIGHT_CAP
    if probability <= 0:
        return -WEIGHT_CAP
    return max(-WEIGHT_CAP, min(WEIGHT_CAP, math.log2(probability / (1 - probability))))


class OffReason(_Frozen):
    kind: str
    reason: str
    values: int


class OffIdentifier(_Frozen):
    kind: str
    value: str
    reason: str | None
    records: int


class IdentifiersOff(_Frozen):
    """Identifier values that link nobody (shared too widely, conflicting, not linking)."""

    per_kind: dict[str, int]
    reasons: list[OffReason]
    widest: list[OffIdentifier]
    #: Junk values are dropped at ingest, never stored: the store cannot count them.
    junk_note: str = (
        "junk values (test@test.com, 0000000000, ...) are dropped at ingest and never stored, "
        "so they are not counted here; `idgraph profile VALUE` says whether a value is junk"
    )


def identifiers_off(store: GraphStore, *, top: int = 10) -> IdentifiersOff:
    """Identifiers switched off, per kind and reason, and the `top` most widely shared."""
    reasons: Counter[tuple[str, str]] = Counter()
    for row in store.query("identifiers_off", READS["identifiers_off"]):
        reasons[(row["kind"], _reason(row["reason"]))] += int(row["n"])
    per_kind: Counter[str] = Counter()
    for (kind, _), n in reasons.items():
        per_kind[kind] += n
    widest = [
        OffIdentifier(kind=r["kind"], value=r["value"], reason=r["reason"], records=int(r["n"]))
        for r in store.query("identifiers_off_top", READS["identifiers_off_top"], {"limit": top})
    ]
    return IdentifiersOff(
        per_kind=dict(sorted(per_kind.items())),
        reasons=[
            OffReason(kind=k, reason=why, values=n)
            for (k, why), n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        widest=widest,
    )


class FieldWeight(_Frozen):
    """One level of one field of the match model: m, u and the weight log2(m/u)."""

    field: str
    level: str
    m: float
    u: float
    weight: float


class ModelSummary(_Frozen):
    """The Fellegi-Sunter match model the store keeps (learned by its last full run)."""

    #: "store": learned from this store's records by its last full run; "shipped": the
    #: weights idgraph ships, which score stores under `scoring.min_records` records.
    origin: Literal["store", "shipped"]
    prior: float
    prior_weight: float
    fields: list[FieldWeight]
    notes: dict[str, Any]


def model_summary(store: GraphStore, config: MatchConfig | None = None) -> ModelSummary:
    """Per-field, per-level weights of the match model that scores the store's pairs.

    Args:
        config: the match config the store was resolved with (its `scoring` settings decide
            the shipped model's prior); default the shipped config.
    """
    rows = store.query("meta_value", READS["meta_value"], {"key": MODEL_KEY})
    if rows and rows[0]["value"]:
        model, origin = MatchModel.from_json(rows[0]["value"]), "store"
    else:
        model, origin = shipped_model(config or load_match_config(None)), "shipped"
    fields = []
    for name in model.fields:
        table = model.level_weights(name)
        levels = FIELD_LEVELS.get(name, tuple(str(i) for i in range(len(table))))
        for i, level in enumerate(levels[: len(table)]):
            fields.append(
                FieldWeight(
                    field=name,
                    level=level,
                    m=model.m[name][i],
                    u=model.u[name][i],
                    weight=round(float(table[i]), 3),
                )
            )
    return ModelSummary(
        origin=origin,  # type: ignore[arg-type]
        prior=model.prior,
        prior_weight=round(model.prior_weight, 3),
        fields=fields,
        notes=model.notes,
    )


class FunnelStep(_Frozen):
    step: str
    count: int


class BlockingFunnel(_Frozen):
    """Records -> blocks -> candidate pairs -> links in one run, and the blocks skipped."""

    run_ts: int
    mode: str
    steps: list[FunnelStep]
    #: Per fuzzy rule: blocks, pairs, oversized blocks and the records in them.
    rules: list[BlockingRow]


def blocking_funnel(run: RunRecord) -> BlockingFunnel:
    """The blocking funnel of one run (an incremental run counts the records it re-resolved).

    Candidate pairs are those compared once (a pair two rules both make counts once);
    links are the fuzzy and model links accepted.
    """
    fuzzy = {b.rule for b in run.blocking} | {SCORED_RULE}
    return BlockingFunnel(
        run_ts=run.ts,
        mode=run.mode,
        steps=[
            FunnelStep(step="records", count=run.records_resolved),
            FunnelStep(step="blocks", count=sum(b.blocks for b in run.blocking)),
            FunnelStep(step="candidate pairs", count=run.pairs_compared),
            FunnelStep(
                step="links", count=sum(n for rule, n in run.links.items() if rule in fuzzy)
            ),
        ],
        rules=list(run.blocking),
    )


class SegmentSize(_Frozen):
    name: str
    description: str | None
    size: int
    last_run_ts: int | None


class SegmentRunPoint(_Frozen):
    segment: str
    ts: int
    size: int
    entered: int
    exited: int


class SegmentOverlap(_Frozen):
    """Customers in both segments (`a == b`: the segment's size)."""

    a: str
    b: str
    customers: int


class SegmentsSummary(_Frozen):
    segments: list[SegmentSize]
    runs: list[SegmentRunPoint]
    overlap: list[SegmentOverlap]


def segments_summary(store: GraphStore) -> SegmentsSummary:
    """Saved segments' sizes now, every run's size and entered/exited, and the overlap."""
    segments = [
        SegmentSize(
            name=r["name"],
            description=r["description"],
            size=int(r["size"]),
            last_run_ts=r["last_run_ts"],
        )
        for r in store.query("segment_sizes", READS["segment_sizes"])
    ]
    runs = [
        SegmentRunPoint(
            segment=r["segment"],
            ts=int(r["ts"]),
            size=int(r["size"] or 0),
            entered=int(r["entered"] or 0),
            exited=int(r["exited"] or 0),
        )
        for r in store.query("segment_all_runs", READS["segment_all_runs"])
    ]
    overlap = [SegmentOverlap(a=s.name, b=s.name, customers=s.size) for s in segments]
    overlap += [
        SegmentOverlap(a=r["a"], b=r["b"], customers=int(r["n"]))
        for r in store.query("segment_overlap", READS["segment_overlap"])
    ]
    overlap.sort(key=lambda o: (o.a, o.b))
    return SegmentsSummary(segments=segments, runs=runs, overlap=overlap)
