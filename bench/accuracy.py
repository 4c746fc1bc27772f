"""Accuracy of idgraph's default matcher against ground truth, beside Splink, with error sources.

Usage:
    python bench/accuracy.py [--sizes 100000,1000000] [--shape people|sources|both]
        [--seed 7] [--no-splink] [--no-febrl] [--no-generated] [--work DIR]
        [--markdown FILE] [--json FILE]

What `idgraph ingest` does is what is measured: each data set goes through
`idgraph.pipeline.run_ingest` (the call the CLI makes, default match config) into a fresh
embedded store in a temporary folder, in a fresh process (wall time and peak RSS from wait4);
then every record's customer id, the `MATCHED` edges with their rule and the identifiers with
their verdict are read back from the store, scored against the truth (bench/metrics.py) and
broken down by where the errors come from (bench/breakdown.py).

Data: bench/generate.py at each size (the `people` shape is people.csv as one source, which
Splink reads too, via bench/splink_run.py in its own environment bench/.venv-splink, created on
first use; the `sources` shape is the four CDP-shaped sources), cached under --work; and the
four Febrl sets (bench/febrl.py) as regression figures. A record the ingest rejected counts as
a customer of its own.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.breakdown import (  # noqa: E402
    FIELDS,
    Breakdown,
    Evidence,
    IdentifierUse,
    breakdown,
    breakdown_rows,
    edge_label,
)
from bench.febrl import FEBRL_SETS, prepare  # noqa: E402
from bench.metrics import ClusterMetrics, evaluate  # noqa: E402
from bench.scale import SOURCES, _truth, data, markdown, measured  # noqa: E402
from bench.splink_env import SPLINK_SCRIPT, ensure_splink_venv  # noqa: E402

DEFAULT_WORK = ROOT / "bench" / ".cache" / "accuracy"
MACHINE = "2 cores, 24 GiB"

__all__ = [
    "DataSet",
    "Result",
    "read_back",
    "result_rows",
    "score",
]


@dataclass(frozen=True)
class DataSet:
    """Files to ingest together and the truth by idgraph record key."""

    name: str
    files: list[Path]
    truth: dict[str, str]
    people_csv: Path | None = None
    """The people.csv Splink reads (generated people shape only)."""


@dataclass
class Result:
    """One tool on one data set."""

    data: str
    tool: str
    records: int
    wall_s: float
    peak_mb: float
    metrics: ClusterMetrics
    ingest_s: float | None = None
    rejected: int = 0
    pairs_compared: int | None = None
    links_blocked: int | None = None
    errors: Breakdown | None = field(default=None, repr=False)


def score(truth: dict[str, str], labels: dict[str, str]) -> ClusterMetrics:
    """Scores over every record of the truth; one without a label is a customer of its own."""
    keys = sorted(truth)
    return evaluate([labels.get(k, f"missing:{k}") for k in keys], [truth[k] for k in keys])


def read_back(store: Path) -> tuple[dict[str, str], Evidence]:
    """Every record's customer id, and the evidence the store keeps, from an embedded store."""
    from idgraph.settings import open_store

    with open_store(store, read_only=True) as graph:
        members = graph.query_columns(
            "bench_members",
            "MATCH (c:Customer)-[:HAS_RECORD]->(r:Record) "
            "RETURN r.key AS record, c.id AS customer, "
            + ", ".join(f"r.{name} AS {name}" for name in FIELDS),
        )
        matched = graph.query_columns(
            "bench_matched",
            "MATCH (a:Record)-[m:MATCHED]->(b:Record) "
            "RETURN a.key AS a, b.key AS b, m.rule AS rule, m.fields AS fields",
        )
        held = graph.query_columns(
            "bench_identifiers",
            "MATCH (r:Record)-[:HAS_IDENTIFIER]->(i:Identifier) RETURN r.key AS record, "
            "i.key AS identifier, i.kind AS kind, i.linking AS linking, i.reason AS reason",
        )
    labels = dict(zip(members.get("record", []), members.get("customer", []), strict=True))
    records = members.get("record", [])
    columns = [members.get(name, [None] * len(records)) for name in FIELDS]
    fields = {
        record: tuple(value or "" for value in values)
        for record, *values in zip(records, *columns, strict=True)
    }
    edges = [
        (a, b, edge_label(rule, fields))
        for a, b, rule, fields in zip(
            *(matched.get(c, []) for c in ("a", "b", "rule", "fields")), strict=True
        )
    ]
    uses = [
        IdentifierUse(record, identifier, kind, bool(linking), reason or "")
        for record, identifier, kind, linking, reason in zip(
            *(held.get(c, []) for c in ("record", "identifier", "kind", "linking", "reason")),
            strict=True,
        )
    ]
    return labels, Evidence(matched=edges, identifiers=uses, fields=fields)


def run_idgraph(dataset: DataSet, scratch: Path) -> Result:
    """Ingest in a fresh process into a fresh store; score and break down what it stored."""
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    store = scratch / "idgraph.db"
    child = [sys.executable, __file__, "--child", str(store), *map(str, dataset.files)]
    env = dict(os.environ)
    from idgraph.memory import ALLOCATOR_SETTINGS

    env.setdefault(*ALLOCATOR_SETTINGS)  # as the `idgraph` command runs
    seconds, peak, out = measured(child, env=env)
    report = json.loads(out.strip().splitlines()[-1])
    labels, evidence = read_back(store)
    shutil.rmtree(scratch, ignore_errors=True)
    return Result(
        data=dataset.name,
        tool="idgraph",
        records=len(dataset.truth),
        wall_s=seconds,
        peak_mb=peak,
        metrics=score(dataset.truth, labels),
        ingest_s=report["seconds"],
        rejected=report["rejected"],
        pairs_compared=report["pairs_compared"],
        links_blocked=report["links_blocked"],
        errors=breakdown(labels, dataset.truth, evidence),
    )


def run_splink(dataset: DataSet, scratch: Path) -> Result:
    """bench/splink_run.py on the same people.csv, under Splink's own python."""
    if dataset.people_csv is None:
        raise ValueError(f"{dataset.name}: Splink reads only the people shape")
    python = ensure_splink_venv()
    scratch.mkdir(parents=True, exist_ok=True)
    labels_csv, timings = scratch / "splink.csv", scratch / "splink.json"
    command = [str(python), str(SPLINK_SCRIPT), str(dataset.people_csv)]
    command += ["--labels", str(labels_csv), "--timings", str(timings), "--threshold", "0.9"]
    seconds, peak, _ = measured(command)
    with labels_csv.open(newline="", encoding="utf-8") as handle:
        labels = {f"people:{r['record_id']}": r["cluster_id"] for r in csv.DictReader(handle)}
    version = json.loads(timings.read_text()).get("splink_version", "?")
    return Result(
        data=dataset.name,
        tool=f"Splink {version}",
        records=len(dataset.truth),
        wall_s=seconds,
        peak_mb=peak,
        metrics=score(dataset.truth, labels),
    )


def child(store: str, files: list[str]) -> int:
    """Ingest in this process, as `idgraph ingest` does, and print the report's figures."""
    from idgraph.pipeline import run_ingest

    report = run_ingest(files, store=store, rejects_path=Path(store).with_name("rejects.jsonl"))
    figures = {
        "seconds": report.seconds,
        "rejected": report.rejected,
        "pairs_compared": report.pairs_compared,
        "links_blocked": report.links_blocked,
    }
    print(json.dumps(figures))
    return 0


def generated(work: Path, size: int, seed: int, shape: str) -> DataSet:
    """bench/generate.py data (cached) as one of the two shapes."""
    folder = data(work, size, seed, shape)
    files = [folder / "people.csv"] if shape == "people" else [folder / f for f in SOURCES]
    people = folder / "people.csv" if shape == "people" else None
    return DataSet(f"generated {size:,} ({shape})", files, _truth(folder, shape), people)


def _f(value: float) -> str:
    return f"{value:.4f}"


def result_rows(results: list[Result]) -> list[list[str]]:
    """The main table: one row per tool and data set."""
    rows = [
        [
            "data",
            "tool",
            "records",
            "wall s",
            "ingest s",
            "peak RSS MB",
            "pairwise P",
            "R",
            "F1",
            "B-cubed P",
            "R",
            "F1",
            "largest predicted / true",
            "rejected",
        ]
    ]
    for r in results:
        m = r.metrics
        rows.append(
            [
                r.data,
                r.tool,
                f"{r.records:,}",
                f"{r.wall_s:.1f}",
                "" if r.ingest_s is None else f"{r.ingest_s:.2f}",
                f"{r.peak_mb:,.0f}",
                *map(_f, (m.pairwise_precision, m.pairwise_recall, m.pairwise_f1)),
                *map(_f, (m.bcubed_precision, m.bcubed_recall, m.bcubed_f1)),
                f"{m.largest_predicted_cluster} / {m.largest_true_cluster}",
                f"{r.rejected:,}",
            ]
        )
    return rows


def text_table(rows: list[list[str]]) -> str:
    """Aligned columns for the terminal."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows
    )


def report(results: list[Result], *, as_markdown: bool) -> str:
    """The main table, then each idgraph run's error breakdown."""
    render = markdown if as_markdown else text_table
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    parts = [
        f"Measured {stamp} on {MACHINE} ({platform.python_implementation()} "
        f"{platform.python_version()}), default match config.",
        render(result_rows(results)),
    ]
    for r in results:
        if r.errors is None:
            continue
        wrong, missed = breakdown_rows(r.errors)
        m = r.metrics
        parts.append(
            f"{r.data}: {m.predicted_pairs - m.correct_pairs:,} wrong pairs, "
            f"{m.true_pairs - m.correct_pairs:,} missed pairs; {r.pairs_compared:,} candidate "
            f"pairs compared, {r.links_blocked:,} links refused by guards"
        )
        parts += [render(table) if len(table) > 1 else "(none)" for table in (wrong, missed)]
    return "\n\n".join(parts) + "\n"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000", help="generated records, comma-separated")
    parser.add_argument("--shape", choices=("people", "sources", "both"), default="people")
    parser.add_argument("--seed", type=int, default=7, help="generator seed")
    parser.add_argument("--no-splink", action="store_true", help="skip Splink")
    parser.add_argument("--no-febrl", action="store_true", help="skip the Febrl sets")
    parser.add_argument("--no-generated", action="store_true", help="only the Febrl sets")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="data cache folder")
    parser.add_argument("--markdown", type=Path, help="also write the tables as markdown")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command-line entry."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--child":
        return child(argv[1], argv[2:])
    args = _parser().parse_args(argv)
    shapes = ("people", "sources") if args.shape == "both" else (args.shape,)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="idgraph-accuracy-") as tmp:
        scratch = Path(tmp)
        if not args.no_generated:
            for size in (int(s) for s in args.sizes.split(",") if s):
                for shape in shapes:
                    dataset = generated(args.work, size, args.seed, shape)
                    results.append(run_idgraph(dataset, scratch / "store"))
                    print(text_table(result_rows(results[-1:])), flush=True)
                    if shape == "people" and not args.no_splink:
                        results.append(run_splink(dataset, scratch / "splink"))
                        print(text_table(result_rows(results[-1:])), flush=True)
        if not args.no_febrl:
            for name in FEBRL_SETS:
                febrl = prepare(name, scratch / name)
                dataset = DataSet(name, febrl.files, febrl.truth)
                results.append(run_idgraph(dataset, scratch / "store"))
                print(text_table(result_rows(results[-1:])), flush=True)
    print()
    print(report(results, as_markdown=False))
    if args.markdown:
        args.markdown.write_text(report(results, as_markdown=True), encoding="utf-8")
    if args.json:
        figures: list[dict[str, Any]] = []
        for r in results:
            entry = {k: v for k, v in asdict(r).items() if k not in ("metrics", "errors")}
            entry["metrics"] = r.metrics.as_dict()
            if r.errors is not None:
                entry["wrong_pairs"] = dict(r.errors.wrong_pairs)
                entry["missed_pairs"] = dict(r.errors.missed_pairs)
            figures.append(entry)
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
