"""Accuracy of idgraph's linker on data with ground truth: train unsupervised, link, score.

Usage:
    python bench/accuracy.py DIR_OR_CSV [--config YAML] [--truth-column person_id]
        [--threshold P] [--seed 0] [--generate N] [--json OUT]

DIR_OR_CSV is a people.csv or a folder holding one. With --generate N the data is made first by
bench/generate.py (N records, --seed) into that folder. Any CSV works when a link config names
its columns; the truth column is dropped before the linker sees the data. Prints pairwise and
B-cubed scores, cluster counts, wall times of training and linking, and pairs compared.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.metrics import ClusterMetrics, evaluate, metric_rows

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "idgraph" / "link" / "configs" / "people.yaml"
GENERATOR = ROOT / "bench" / "generate.py"

__all__ = [
    "DEFAULT_CONFIG",
    "IdgraphRun",
    "generate_people",
    "people_csv_path",
    "read_people",
    "run_idgraph",
]


@dataclass(frozen=True)
class IdgraphRun:
    """Labels and costs of one idgraph train-and-link run."""

    labels: pd.Series
    train_s: float
    link_s: float
    pairs_compared: int | None
    links: int | None


def people_csv_path(path: Path) -> Path:
    """The CSV itself, or the people.csv inside a folder.

    Raises:
        FileNotFoundError: If there is no such file.
    """
    csv_path = path / "people.csv" if path.is_dir() else path
    if not csv_path.is_file():
        raise FileNotFoundError(
            f"{csv_path}: no such file (give a CSV or a folder with people.csv)"
        )
    return csv_path


def generate_people(records: int, *, seed: int, out_dir: Path, noise: int = 1) -> Path:
    """Write a seeded people.csv with bench/generate.py and return its path.

    Raises:
        FileNotFoundError: If bench/generate.py is not there.
        subprocess.CalledProcessError: If the generator fails.
    """
    if not GENERATOR.is_file():
        raise FileNotFoundError(f"{GENERATOR}: the data generator is missing")
    command = [sys.executable, str(GENERATOR), "--records", str(records), "--seed", str(seed)]
    command += ["--noise", str(noise), "--out", str(out_dir)]
    subprocess.run(command, check=True)
    return people_csv_path(out_dir)


def read_people(path: Path, *, truth_column: str) -> pd.DataFrame:
    """Read every column as text, empty meaning missing, as the linker expects.

    Raises:
        KeyError: If the truth column is absent.
    """
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    if truth_column not in df.columns:
        raise KeyError(f"{path}: no truth column {truth_column!r}; columns are {list(df.columns)}")
    return df


def run_idgraph(
    df: pd.DataFrame,
    *,
    config_path: Path = DEFAULT_CONFIG,
    truth_column: str = "person_id",
    threshold: float | None = None,
    seed: int = 0,
) -> IdgraphRun:
    """Train idgraph's model without labels, link, and time both steps.

    Args:
        df: The records, every column text; the truth column is dropped before linking.
        config_path: The link config (YAML) naming the columns to compare.
        truth_column: The ground-truth column, hidden from the linker.
        threshold: Match probability to link at; None keeps the config's.
        seed: Seed for the training's random sampling.

    Returns:
        Cluster labels aligned with `df`, wall times, and the pairs the linker compared.
    """
    from idgraph.link import link, load_link_config, train_model

    config = load_link_config(config_path)
    records = df.drop(columns=[truth_column])
    started = time.perf_counter()
    model = train_model(records, config, labels=None, seed=seed)
    train_s = time.perf_counter() - started
    started = time.perf_counter()
    result = link(records, model, threshold=threshold)
    link_s = time.perf_counter() - started
    report = result.report
    return IdgraphRun(
        labels=pd.Series(list(result.labels), index=df.index, name="cluster"),
        train_s=train_s,
        link_s=link_s,
        pairs_compared=None if report is None else int(report.candidate_pairs),
        links=None if report is None else int(report.links),
    )


def _count(value: int | None) -> str:
    return "n/a" if value is None else f"{value:,}"


def report_rows(run: IdgraphRun, metrics: ClusterMetrics) -> list[tuple[str, str]]:
    """The printed report: metrics, then wall times and pair counts."""
    return [
        *metric_rows(metrics),
        ("train s", f"{run.train_s:.2f}"),
        ("link s", f"{run.link_s:.2f}"),
        ("pairs compared", _count(run.pairs_compared)),
        ("links above threshold", _count(run.links)),
    ]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="people.csv, or a folder holding one")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="link config YAML")
    parser.add_argument("--truth-column", default="person_id")
    parser.add_argument("--threshold", type=float, default=None, help="match probability")
    parser.add_argument("--seed", type=int, default=0, help="training seed (and --generate)")
    parser.add_argument("--generate", type=int, metavar="N", help="first generate N records")
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Command-line entry."""
    args = _parser().parse_args(argv)
    if args.generate:
        csv_path = generate_people(args.generate, seed=args.seed, out_dir=args.data)
    else:
        csv_path = people_csv_path(args.data)
    df = read_people(csv_path, truth_column=args.truth_column)
    run = run_idgraph(
        df,
        config_path=args.config,
        truth_column=args.truth_column,
        threshold=args.threshold,
        seed=args.seed,
    )
    metrics = evaluate(run.labels, df[args.truth_column])
    rows = report_rows(run, metrics)
    width = max(len(label) for label, _ in rows)
    print(f"idgraph on {csv_path} ({len(df):,} records)")
    for label, value in rows:
        print(f"  {label:<{width}}  {value:>12}")
    if args.json:
        numbers: dict[str, Any] = {
            **metrics.as_dict(),
            "train_s": run.train_s,
            "link_s": run.link_s,
            "pairs_compared": run.pairs_compared,
            "links": run.links,
        }
        args.json.write_text(json.dumps(numbers, indent=2) + "\n")


if __name__ == "__main__":
    main()
