"""How idgraph's ingest scales, beside a rules-only baseline and Splink on the same file.

Usage:
    python bench/scale.py [--sizes 100000,300000,1000000,3000000] [--repeats 3]
        [--shape people|sources|both] [--no-splink] [--no-baseline] [--seed 7]
        [--work DIR] [--markdown FILE]

For each size, bench/generate.py data (cached under --work, git-ignored) goes through
`idgraph ingest` into a fresh embedded store, in a fresh process, --repeats times (once at 3M
and above): wall time, peak resident memory (of the process, from wait4) and the per-stage
table idgraph reports. The `people` shape is the one CSV (people.csv with a mapping) that the
rules baseline (bench/rules_baseline.py) and Splink (bench/splink_run.py, in its own
environment) read too, so the three run on the same file in the same run; the `sources` shape
is the four CDP-shaped sources (CRM, support, POS tables and a web event stream). Accuracy
against the generator's truth is printed for every run (pairwise and B-cubed F1).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.metrics import evaluate  # noqa: E402
from bench.synth.writers import GENERATOR_VERSION  # noqa: E402
from idgraph.memory import ALLOCATOR_SETTINGS  # noqa: E402

DEFAULT_WORK = ROOT / "bench" / ".cache" / "scale"
SOURCES = ("crm.csv", "support.csv", "pos.csv", "web.jsonl")
PEOPLE_MAPPING = """\
# people.csv of bench/generate.py as one source (bench/scale.py writes this file).
source: people
id: record_id
columns:
  first_name: given_name
  last_name: surname
  street: street
  city: suburb
  postcode: postcode
  birth_date: dob
  email: email
  phone: phone
traits:
  state: state
  national_id: national_id
  origin: source
default_region: IT
"""


@dataclass
class Run:
    tool: str
    shape: str
    size: int
    seconds: float
    peak_mb: float
    stages: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    records: int = 0


def measured(command: list[str], *, env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run a command; its wall seconds, peak RSS in MB (the process and its children), stdout."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen must know
        seconds = time.perf_counter() - started
        out.seek(0)
        text = out.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{command[:3]} failed with status {status}")
    return seconds, usage.ru_maxrss / 1024, text


def _stale(folder: Path) -> bool:
    """No data yet, or data an older generator wrote (its failure modes differ)."""
    manifest = folder / "manifest.json"
    if not manifest.exists():
        return True
    written = json.loads(manifest.read_text(encoding="utf-8")).get("version")
    return bool(written != GENERATOR_VERSION)


def data(work: Path, size: int, seed: int, shape: str) -> Path:
    folder = work / f"data-{size}-seed{seed}"
    # The sources take longer to write than people.csv (10M records: 4 minutes without them).
    sources = shape != "people"
    stale = _stale(folder)
    if stale and folder.exists():
        shutil.rmtree(folder)
    if stale or (sources and not (folder / "crm.csv").exists()):
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "bench/generate.py"),
                *("--records", str(size), "--seed", str(seed)),
                *("--out", str(folder), *(["--sources"] if sources else [])),
            ],
            check=True,
        )
    (folder / "people.mapping.yaml").write_text(PEOPLE_MAPPING, encoding="utf-8")
    return folder


def _truth(folder: Path, shape: str) -> dict[str, str]:
    if shape == "people":
        with (folder / "truth.csv").open(newline="", encoding="utf-8") as handle:
            return {f"people:{r['record_id']}": r["person_id"] for r in csv.DictReader(handle)}
    with (folder / "sources_truth.csv").open(newline="", encoding="utf-8") as handle:
        return {r["record_key"]: r["person_id"] for r in csv.DictReader(handle)}


def _score(truth: dict[str, str], labels: dict[str, str]) -> dict[str, float]:
    keys = sorted(truth)
    found = evaluate([labels.get(k, f"missing:{k}") for k in keys], [truth[k] for k in keys])
    return {
        "precision": found.pairwise_precision,
        "recall": found.pairwise_recall,
        "f1": found.pairwise_f1,
        "bcubed_f1": found.bcubed_f1,
        "largest": float(found.largest_predicted_cluster),
    }


def run_idgraph(folder: Path, shape: str, size: int, scratch: Path) -> Run:
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    store = scratch / "idgraph.db"
    files = ["people.csv"] if shape == "people" else list(SOURCES)
    child = [sys.executable, __file__, "--child", str(store)] + [str(folder / f) for f in files]
    # The allocator settings the `idgraph` command runs with (idgraph.memory).
    env = dict(os.environ)
    env.setdefault(*ALLOCATOR_SETTINGS)
    seconds, peak, out = measured(child, env=env)
    report = json.loads(out.strip().splitlines()[-1])
    labels_csv = scratch / "clusters.csv"
    subprocess.run(
        [
            *(sys.executable, "-m", "idgraph", "export", "clusters"),
            *("--store", str(store), "--output", str(labels_csv)),
        ],
        check=True,
        capture_output=True,
    )
    with labels_csv.open(newline="", encoding="utf-8") as handle:
        labels = {r["record_key"]: r["customer_id"] for r in csv.DictReader(handle)}
    run = Run("idgraph", shape, size, seconds, peak, records=report["records"])
    run.stages = {t["stage"]: t["seconds"] for t in report["timings"]}
    run.metrics = _score(_truth(folder, shape), labels)
    shutil.rmtree(scratch, ignore_errors=True)
    return run


def run_baseline(folder: Path, size: int, scratch: Path) -> Run:
    scratch.mkdir(parents=True, exist_ok=True)
    labels_csv = scratch / "baseline.csv"
    command = [sys.executable, str(ROOT / "bench/rules_baseline.py"), str(folder / "people.csv")]
    seconds, peak, _ = measured([*command, "--labels", str(labels_csv)])
    with labels_csv.open(newline="", encoding="utf-8") as handle:
        labels = {f"people:{r['record_id']}": r["cluster_id"] for r in csv.DictReader(handle)}
    run = Run("rules union-find", "people", size, seconds, peak, records=len(labels))
    run.metrics = _score(_truth(folder, "people"), labels)
    return run


def run_splink(folder: Path, size: int, scratch: Path) -> Run:
    from bench.splink_env import SPLINK_SCRIPT, ensure_splink_venv

    python = ensure_splink_venv()
    scratch.mkdir(parents=True, exist_ok=True)
    labels_csv, timings = scratch / "splink.csv", scratch / "splink.json"
    command = [str(python), str(SPLINK_SCRIPT), str(folder / "people.csv")]
    command += ["--labels", str(labels_csv), "--timings", str(timings), "--threshold", "0.9"]
    seconds, peak, _ = measured(command)
    with labels_csv.open(newline="", encoding="utf-8") as handle:
        labels = {f"people:{r['record_id']}": r["cluster_id"] for r in csv.DictReader(handle)}
    run = Run("Splink", "people", size, seconds, peak, records=len(labels))
    run.metrics = _score(_truth(folder, "people"), labels)
    return run


def child(store: str, files: list[str]) -> int:
    """Ingest in this process and print the report's figures as JSON (for `measured`)."""
    from idgraph.pipeline import run_ingest

    report = run_ingest(
        files, store=store, rejects_path=Path(store).with_name("rejects.jsonl"), as_of_ms=0
    )
    print(
        json.dumps(
            {
                "records": report.records_total,
                "customers": report.customers,
                "timings": [t.model_dump() for t in report.timings],
            }
        )
    )
    return 0


def _median(runs: list[Run]) -> Run:
    ordered = sorted(runs, key=lambda r: r.seconds)
    middle = ordered[len(ordered) // 2]
    middle.peak_mb = statistics.median(r.peak_mb for r in runs)
    return middle


def table(runs: list[Run], repeats: dict[tuple[str, str, int], int]) -> list[list[str]]:
    rows = [
        [
            "records",
            "shape",
            "tool",
            "runs",
            "wall s",
            "peak RSS MB",
            "stages (s)",
            "pairwise P / R / F1",
            "B-cubed F1",
            "largest",
        ]
    ]
    for run in runs:
        stages = ", ".join(f"{k} {v:.1f}" for k, v in run.stages.items() if v >= 0.05)
        m = run.metrics
        rows.append(
            [
                f"{run.size:,}",
                run.shape,
                run.tool,
                str(repeats[(run.tool, run.shape, run.size)]),
                f"{run.seconds:.1f}",
                f"{run.peak_mb:,.0f}",
                stages,
                f"{m['precision']:.3f} / {m['recall']:.3f} / {m['f1']:.3f}",
                f"{m['bcubed_f1']:.3f}",
                f"{m['largest']:.0f}",
            ]
        )
    return rows


def markdown(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--child":
        return child(argv[1], argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,300000,1000000,3000000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--shape", choices=("people", "sources", "both"), default="both")
    parser.add_argument("--no-splink", action="store_true")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args(argv)
    shapes = ("people", "sources") if args.shape == "both" else (args.shape,)
    results: list[Run] = []
    repeats: dict[tuple[str, str, int], int] = {}
    for size in [int(s) for s in args.sizes.split(",")]:
        folder = data(args.work, size, args.seed, args.shape)
        times = 1 if size >= 3_000_000 else args.repeats
        scratch = args.work / "scratch"
        for shape in shapes:
            runs = []
            for attempt in range(times):
                run = run_idgraph(folder, shape, size, scratch)
                print(
                    f"{size:,} {shape} idgraph #{attempt + 1}: {run.seconds:.1f} s, "
                    f"{run.peak_mb:,.0f} MB, F1 {run.metrics['f1']:.3f}",
                    flush=True,
                )
                runs.append(run)
            results.append(_median(runs))
            repeats[("idgraph", shape, size)] = times
        if "people" in shapes:
            others = []
            if not args.no_baseline:
                others.append(("rules union-find", run_baseline))
            if not args.no_splink:
                others.append(("Splink", run_splink))
            for name, runner in others:
                runs = []
                for _ in range(times):
                    run = runner(folder, size, scratch)
                    print(
                        f"{size:,} people {name}: {run.seconds:.1f} s, "
                        f"{run.peak_mb:,.0f} MB, F1 {run.metrics['f1']:.3f}",
                        flush=True,
                    )
                    runs.append(run)
                results.append(_median(runs))
                repeats[(name, "people", size)] = times
    rows = table(results, repeats)
    text = markdown(rows)
    print(text)
    if args.markdown:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d")
        args.markdown.write_text(f"Measured {stamp} (`bench/scale.py`).\n\n{text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
