"""idgraph against Splink 4 on the same people.csv and machine: accuracy and wall time.

Usage:
    python bench/compare_splink.py DIR_OR_CSV [--config YAML] [--truth-column person_id]
        [--threshold 0.9] [--seed 0] [--generate N] [--max-pairs 1e7] [--splink-only]
        [--markdown FILE]

Splink runs in its own virtual environment, bench/.venv-splink (git-ignored), made on first use
with `python -m venv` and the pinned SPLINK_REQUIREMENTS from PyPI, so idgraph's environment
never carries Splink. bench/splink_run.py is the Splink side; it sees only the CSV. Prints one
table with both tools' metrics, wall times and pairs compared; --markdown writes it as markdown.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.accuracy import (
    DEFAULT_CONFIG,
    generate_people,
    people_csv_path,
    read_people,
    run_idgraph,
)
from bench.metrics import ClusterMetrics, evaluate, metric_rows

BENCH = Path(__file__).resolve().parent
SPLINK_VENV = BENCH / ".venv-splink"
SPLINK_SCRIPT = BENCH / "splink_run.py"
SPLINK_REQUIREMENTS = ["splink==4.0.17", "duckdb==2.0.1", "pandas==3.1.1"]

__all__ = [
    "SPLINK_REQUIREMENTS",
    "SPLINK_VENV",
    "ToolRun",
    "comparison_table",
    "ensure_splink_venv",
    "markdown_table",
    "run_splink",
]


@dataclass(frozen=True)
class ToolRun:
    """One tool's result on the data: labels aligned with it, times and pair counts."""

    tool: str
    labels: pd.Series
    train_s: float
    link_s: float
    wall_s: float
    pairs_compared: int | None
    extra: dict[str, Any]


def venv_python(venv: Path) -> Path:
    """The interpreter inside a virtual environment."""
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def ensure_splink_venv(venv: Path = SPLINK_VENV) -> Path:
    """Create the Splink environment once (venv + pinned pip install) and return its python.

    An environment whose python already imports the pinned Splink is reused as it is.

    Raises:
        subprocess.CalledProcessError: If venv creation or the install fails.
    """
    python = venv_python(venv)
    if python.is_file():
        check = [str(python), "-c", "import splink, duckdb; print(splink.__version__)"]
        found = subprocess.run(check, capture_output=True, text=True, check=False)
        if found.returncode == 0 and f"splink=={found.stdout.strip()}" in SPLINK_REQUIREMENTS:
            return python
    else:
        print(f"creating {venv} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = [str(python), "-m", "pip", "install", "--quiet", *SPLINK_REQUIREMENTS]
    subprocess.run(install, check=True)
    return python


def run_splink(
    python: Path,
    csv_path: Path,
    record_ids: pd.Series,
    *,
    threshold: float,
    seed: int,
    max_pairs: float,
) -> ToolRun:
    """Run bench/splink_run.py under the Splink python; labels come back aligned with the ids.

    Raises:
        subprocess.CalledProcessError: If the Splink run fails.
        ValueError: If Splink's output does not label every record exactly once.
    """
    with tempfile.TemporaryDirectory() as tmp:
        labels_csv, timings_json = Path(tmp) / "labels.csv", Path(tmp) / "timings.json"
        command = [str(python), str(SPLINK_SCRIPT), str(csv_path)]
        command += ["--labels", str(labels_csv), "--timings", str(timings_json)]
        command += ["--threshold", str(threshold), "--seed", str(seed)]
        command += ["--max-pairs", str(max_pairs)]
        started = time.perf_counter()
        subprocess.run(command, check=True)
        wall_s = time.perf_counter() - started
        timings: dict[str, Any] = json.loads(timings_json.read_text())
        clusters = pd.read_csv(labels_csv, dtype=str, keep_default_na=False)
    by_id = clusters.set_index("record_id")["cluster_id"]
    if not by_id.index.is_unique or len(by_id) != len(record_ids):
        raise ValueError(f"Splink labelled {len(by_id)} rows for {len(record_ids)} records")
    labels = by_id.reindex(record_ids.to_numpy())
    if labels.isna().any():
        raise ValueError(f"Splink left {int(labels.isna().sum())} records without a cluster")
    return ToolRun(
        tool=f"Splink {timings.get('splink_version', '?')}",
        labels=pd.Series(labels.to_numpy(), index=record_ids.index),
        train_s=float(timings["train_s"]),
        link_s=float(timings["link_s"]),
        wall_s=wall_s,
        pairs_compared=int(timings["pairs_compared"]),
        extra=timings,
    )


def _idgraph_run(
    df: pd.DataFrame, *, config: Path, truth_column: str, threshold: float, seed: int
) -> ToolRun:
    started = time.perf_counter()
    run = run_idgraph(
        df, config_path=config, truth_column=truth_column, threshold=threshold, seed=seed
    )
    return ToolRun(
        tool="idgraph",
        labels=run.labels,
        train_s=run.train_s,
        link_s=run.link_s,
        wall_s=time.perf_counter() - started,
        pairs_compared=run.pairs_compared,
        extra={"links": run.links},
    )


def comparison_table(runs: list[tuple[ToolRun, ClusterMetrics]]) -> list[list[str]]:
    """Header row (metric, tool...) then one row per metric, time and pair count."""
    header = ["metric", *(run.tool for run, _ in runs)]
    columns = [
        [
            *metric_rows(metrics),
            ("train s", f"{run.train_s:.2f}"),
            ("link s", f"{run.link_s:.2f}"),
            ("wall s (end to end)", f"{run.wall_s:.2f}"),
            ("pairs compared", "n/a" if run.pairs_compared is None else f"{run.pairs_compared:,}"),
        ]
        for run, metrics in runs
    ]
    rows = [header]
    for i, (label, _) in enumerate(columns[0]):
        rows.append([label, *(column[i][1] for column in columns)])
    return rows


def text_table(rows: list[list[str]]) -> str:
    """Aligned plain text: labels left, values right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            row[0].ljust(widths[0]),
            *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)),
        ]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def markdown_table(rows: list[list[str]]) -> str:
    """A GitHub markdown table with the values right-aligned."""
    lines = ["| " + " | ".join(rows[0]) + " |"]
    lines.append("| --- | " + " | ".join("---:" for _ in rows[0][1:]) + " |")
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines) + "\n"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="people.csv, or a folder holding one")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="idgraph link config")
    parser.add_argument("--truth-column", default="person_id")
    parser.add_argument("--threshold", type=float, default=0.9, help="match probability, both")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--generate", type=int, metavar="N", help="first generate N records")
    parser.add_argument("--max-pairs", type=float, default=1e7, help="Splink u-sampling pairs")
    parser.add_argument("--splink-only", action="store_true", help="skip idgraph")
    parser.add_argument("--markdown", type=Path, help="write the table as markdown here")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Command-line entry."""
    args = _parser().parse_args(argv)
    if args.generate:
        csv_path = generate_people(args.generate, seed=args.seed, out_dir=args.data)
    else:
        csv_path = people_csv_path(args.data)
    df = read_people(csv_path, truth_column=args.truth_column)
    if "record_id" not in df.columns:
        raise SystemExit(f"{csv_path}: Splink's side needs a record_id column")
    truth = df[args.truth_column]
    runs: list[ToolRun] = []
    if not args.splink_only:
        runs.append(
            _idgraph_run(
                df,
                config=args.config,
                truth_column=args.truth_column,
                threshold=args.threshold,
                seed=args.seed,
            )
        )
    python = ensure_splink_venv()
    runs.append(
        run_splink(
            python,
            csv_path,
            df["record_id"],
            threshold=args.threshold,
            seed=args.seed,
            max_pairs=args.max_pairs,
        )
    )
    rows = comparison_table([(run, evaluate(run.labels, truth)) for run in runs])
    print(f"{csv_path}: {len(df):,} records, threshold {args.threshold}")
    print(text_table(rows))
    if args.markdown:
        args.markdown.write_text(markdown_table(rows))


if __name__ == "__main__":
    main()
