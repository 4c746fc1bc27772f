"""What one ingest run did, kept in the store so a report can show it later.

Most of a run's story (how many candidate pairs the blocking rules made, which links the
guards refused and why) is gone once the run ends: the store holds the result, not the
decisions. So each file ingest writes a compact record, aggregates only (never one row per
record), as a `Meta` row `run:<epoch ms>` in the run's own transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, Protocol

import orjson
from pydantic import BaseModel, ConfigDict

from idgraph.store.base import GraphStore

if TYPE_CHECKING:
    from idgraph.ingest.rejects import FileCounts
    from idgraph.resolve import PlanStats

__all__ = [
    "RUN_PREFIX",
    "BlockingRow",
    "FileRow",
    "RefusedRow",
    "RunRecord",
    "ingest_runs",
    "make_run_record",
]

#: `Meta` keys of run records start with this, followed by the run's epoch ms (13 digits, so
#: keys sort in time order).
RUN_PREFIX: Final = "run:"

READS: Final[dict[str, str]] = {
    "ingest_runs": (
        "MATCH (m:Meta) WHERE m.key STARTS WITH $prefix "
        "RETURN m.key AS key, m.value AS value ORDER BY key"
    ),
}


class _Lines(Protocol):
    read: int
    ingested: int
    rejected: int


class LineTotals:
    """A run's lines summed over its files (read = ingested + rejected holds per file): one
    definition for the ingest report and the run record the store keeps."""

    if TYPE_CHECKING:
        files: Sequence[_Lines]

    @property
    def read(self) -> int:
        return sum(f.read for f in self.files)

    @property
    def ingested(self) -> int:
        return sum(f.ingested for f in self.files)

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)


class FileRow(BaseModel):
    """One input file of the run: read = ingested + rejected lines; `values_dropped` counts
    the bad values dropped from ingested lines (field rejects)."""

    model_config = ConfigDict(frozen=True)

    path: str
    source: str
    read: int
    ingested: int
    rejected: int
    values_dropped: int = 0
    note: str | None = None


class BlockingRow(BaseModel):
    """What one fuzzy rule's blocking made: blocks, candidate pairs, and blocks skipped for
    holding more records than `max_block_size`."""

    model_config = ConfigDict(frozen=True)

    rule: str
    blocks: int
    pairs: int
    oversized_blocks: int
    oversized_records: int


class RefusedRow(BaseModel):
    """Candidate links of one rule that one guard refused (counts in the reason read `N`)."""

    model_config = ConfigDict(frozen=True)

    rule: str
    guard: str
    links: int


class RunRecord(LineTotals, BaseModel):
    """The aggregates of one file ingest (`idgraph ingest`, `run_ingest`)."""

    model_config = ConfigDict(frozen=True)

    ts: int
    #: "full" (everything re-resolved) or "incremental" (the batch and what it may touch).
    mode: str
    files: list[FileRow]
    #: The rejects file as written by the run (absolute), None when nothing was rejected.
    rejects_path: str | None
    records_new: int
    records_resolved: int
    customers_touched: int
    pairs_compared: int
    blocking: list[BlockingRow]
    #: Candidate links accepted per rule (`same_email`, a fuzzy rule, `match_model`, `alias`).
    links: dict[str, int]
    refused: list[RefusedRow]
    #: Pairs over the threshold kept apart, per reason: `households` (a shared contact whose
    #: holders' first names are two people), `must_agree` (a field that must agree does not).
    kept_apart: dict[str, int] = {}
    #: Identifier values judged not to link, per kind (shared too widely, conflicting).
    not_linking: dict[str, int]
    components_split: int

    @property
    def key(self) -> str:
        """The `Meta` key the record is stored under."""
        return f"{RUN_PREFIX}{self.ts:013d}"


def make_run_record(
    *,
    ts: int,
    full: bool,
    files: Sequence[FileCounts],
    rejects_path: str | None,
    stats: PlanStats,
    records_new: int,
    customers_touched: int,
) -> RunRecord:
    """The record of a run from what resolving it found (`resolve.plan_changes`)."""
    return RunRecord(
        ts=ts,
        mode="full" if full else "incremental",
        files=[
            FileRow(
                path=f.path,
                source=f.source,
                read=f.read,
                ingested=f.ingested,
                rejected=f.rejected,
                values_dropped=f.field_rejects,
                note=f.note,
            )
            for f in files
        ],
        rejects_path=rejects_path,
        records_new=records_new,
        records_resolved=stats.records_total,
        customers_touched=customers_touched,
        pairs_compared=stats.pairs,
        blocking=[
            BlockingRow(
                rule=b.rule,
                blocks=b.blocks,
                pairs=b.pairs,
                oversized_blocks=b.oversized_blocks,
                oversized_records=b.oversized_records,
            )
            for b in stats.blocking
        ],
        links=stats.links,
        refused=[
            RefusedRow(rule=rule, guard=guard, links=n)
            for (rule, guard), n in sorted(stats.refused.items(), key=lambda kv: -kv[1])
        ],
        kept_apart=stats.kept_apart,
        not_linking=stats.not_linking,
        components_split=len(stats.splits),
    )


def ingest_runs(store: GraphStore) -> list[RunRecord]:
    """Every run record the store keeps, oldest first (run number N is item N - 1).

    Stores written before run records existed, or only through `idgraph serve` (whose
    micro-batches are not recorded one by one), have none.
    """
    rows = store.query("ingest_runs", READS["ingest_runs"], {"prefix": RUN_PREFIX})
    return [RunRecord.model_validate(orjson.loads(row["value"])) for row in rows]
