"""Cost of adding 1,000 new records to stores of growing size (issue 6, point 1).

Usage: python bench/incremental_ingest.py [--sizes 10000,100000,1000000] [--repeats 3]
       [--seed 11] [--chunk 100000] [--work DIR] [--reuse-store]

For each size N it generates N + 1,000 records (bench/generate.py, all four sources) and holds
the last 1,000 people.csv rows back: their CRM, support and POS rows and web calls go to files of
their own, with the same names and mapping sidecars. The other N records are ingested in chunks
into a store that is built once per version of idgraph's code and kept under --work
(git-ignored), so later runs reuse the data and the store. Each repeat then copies the built
store (flushed to disk) and ingests the held-back batch into the copy, in a fresh process so
that its peak RSS is its own; the repeats go round the sizes, so a drift in the machine's
speed weighs on all of them. If ingest is incremental, the add time stays flat as N grows; a
full re-resolve makes it grow with N. Numbers go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import multiprocessing
import resource
import shutil
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generate import run as generate_files  # noqa: E402
from bench.store_copy import copy_store  # noqa: E402

BATCH = 1000
#: Trait windows are measured from a fixed instant, so repeated runs do the same work.
AS_OF_MS = 1_793_491_200_000  # 2026-11-01T00:00:00Z
SOURCE_FILES = ("crm.csv", "support.csv", "pos.csv", "web.jsonl")
DEFAULT_WORK = ROOT / "bench" / ".cache" / "incremental_ingest"


@dataclass
class AddResult:
    """One size's figures: the build, then the median add over the repeats."""

    size: int
    build_seconds: float
    add_seconds: float
    add_runs: list[float]
    add_cpu_seconds: float
    #: Of the add, closing the store: LadybugDB's checkpoint of what the add wrote.
    close_seconds: float
    peak_rss_mb: float
    records_new: int
    customers: int
    #: Records the add re-resolved: the batch and the stored records it could touch.
    records_resolved: int


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="10000,100000,1000000", help="store sizes in records, comma-separated"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed adds per size (median)")
    parser.add_argument("--seed", type=int, default=11, help="generator seed (default 11)")
    parser.add_argument("--chunk", type=int, default=100_000, help="records per build ingest")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="cache for data, stores")
    parser.add_argument(
        "--reuse-store",
        action="store_true",
        help="time the add on the newest cached store of each size, whatever code built it "
        "(for profiling the add path when the store's layout has not changed)",
    )
    args = parser.parse_args(argv)
    try:
        args.sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error("--sizes takes whole numbers separated by commas, e.g. 10000,100000")
    if not args.sizes or min(args.sizes) < 1:
        parser.error("--sizes needs at least one size of 1 or more")
    if args.repeats < 1 or args.chunk < 1:
        parser.error("--repeats and --chunk must be at least 1")
    return args


def _work_dir(work: Path) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    ignore = work / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n", encoding="utf-8")  # the cache ignores itself
    return work


def _record_keys(name: str, row_id: str | None, line: str) -> list[str]:
    """The idgraph record keys of a CSV row (by its id) or of a JSONL call."""
    source = Path(name).stem
    if row_id is not None:
        return [f"{source}:{row_id}"]
    call = json.loads(line)
    keys = [f"{source}:user:{call['userId']}"] if call.get("userId") else []
    if call.get("anonymousId"):
        keys.append(f"{source}:anon:{call['anonymousId']}")
    return keys


def _held_back_keys(data: Path) -> set[str]:
    with (data / "people.csv").open(newline="", encoding="utf-8") as handle:
        rows = [row["record_id"] for row in csv.DictReader(handle)]
    held = set(rows[-BATCH:])
    with (data / "sources_truth.csv").open(newline="", encoding="utf-8") as handle:
        return {row["record_key"] for row in csv.DictReader(handle) if row["record_id"] in held}


def _write_part(folder: Path, name: str, header: str | None, lines: list[str], data: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    body = ([header] if header is not None else []) + lines
    target.write_text("".join(f"{line}\n" for line in body), encoding="utf-8")
    mapping = data / f"{Path(name).stem}.mapping.yaml"
    shutil.copy(mapping, folder / mapping.name)
    return target


def prepare_data(
    work: Path, size: int, seed: int, chunk: int
) -> tuple[list[list[Path]], list[Path]]:
    """Generate N + 1,000 records once; return the build chunks' files and the batch's files."""
    root = work / f"data-{size}-seed{seed}"
    plan = root / "plan.json"
    if plan.exists():
        saved = json.loads(plan.read_text(encoding="utf-8"))
        return [[Path(p) for p in part] for part in saved["chunks"]], [
            Path(p) for p in saved["batch"]
        ]
    shutil.rmtree(root, ignore_errors=True)
    data = root / "all"
    started = time.perf_counter()
    generate_files(records=size + BATCH, seed=seed, noise=1.0, out=data, sources=True)
    held = _held_back_keys(data)
    parts = max(1, -(-size // chunk))
    chunks: list[list[Path]] = [[] for _ in range(parts)]
    batch: list[Path] = []
    for name in SOURCE_FILES:
        mapping = yaml.safe_load((data / f"{Path(name).stem}.mapping.yaml").read_text("utf-8"))
        id_column = str(mapping["id"]) if name.endswith(".csv") else None
        with (data / name).open(encoding="utf-8", newline="") as handle:
            lines = handle.read().splitlines()
        header: str | None = None
        ids: list[str] = []
        if id_column is not None:
            header = lines.pop(0)
            position = next(csv.reader([header])).index(id_column)
            ids = [row[position] for row in csv.reader(lines)]
        base: list[str] = []
        new: list[str] = []
        for i, line in enumerate(lines):
            keys = _record_keys(name, ids[i] if header is not None else None, line)
            (new if held.intersection(keys) else base).append(line)
        batch.append(_write_part(root / "batch", name, header, new, data))
        step = -(-len(base) // parts) if base else 1
        for n in range(parts):
            part = base[n * step : (n + 1) * step]
            if part:
                chunks[n].append(_write_part(root / f"chunk{n:03d}", name, header, part, data))
    plan.write_text(
        json.dumps(
            {"chunks": [[str(p) for p in c] for c in chunks], "batch": [str(p) for p in batch]}
        ),
        encoding="utf-8",
    )
    print(f"  generated {size + BATCH:,} records in {time.perf_counter() - started:.1f} s")
    return chunks, batch


def _ingest(paths: list[str], store: str, rejects: str) -> dict[str, Any]:
    """Run one ingest (in a worker process) and return its timing, peak RSS and report figures."""
    from idgraph.normalize.record import NormalizeOptions
    from idgraph.pipeline import run_ingest
    from idgraph.store.ladybug import LadybugStore

    # Closing the store is where LadybugDB folds the add's write-ahead log into the file.
    closing: list[float] = []
    close = LadybugStore.close

    def timed_close(self: LadybugStore) -> None:
        start = time.perf_counter()
        close(self)
        closing.append(time.perf_counter() - start)

    LadybugStore.close = timed_close  # type: ignore[method-assign]
    started, cpu_started = time.perf_counter(), time.process_time()
    report = run_ingest(
        [Path(p) for p in paths],
        store=store,
        options=NormalizeOptions(default_region="IT"),
        rejects_path=rejects,
        as_of_ms=AS_OF_MS,
    )
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    if report.read != report.ingested + report.rejected:
        raise AssertionError(f"read {report.read} != ingested + rejected for {paths}")
    return {
        "seconds": seconds,
        "close_seconds": sum(closing),
        "cpu_seconds": cpu_seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "records_new": report.records_new,
        "records_resolved": report.records_resolved,
        "records_total": report.records_total,
        "customers": report.customers,
        "rejected": report.rejected,
    }


def ingest_in_fresh_process(paths: list[Path], store: Path, rejects: Path) -> dict[str, Any]:
    """A spawned process per ingest, so each peak RSS is that ingest's alone."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        result: dict[str, Any] = pool.apply(
            _ingest, ([str(p) for p in paths], str(store), str(rejects))
        )
    return result


def code_version() -> str:
    """A hash of idgraph's code and Cypher: a store built by other code is built again.

    The store's layout (e.g. kept blocking keys) belongs to the code that wrote it, so timing
    an add with new code on an old store would measure the wrong thing.
    """
    digest = hashlib.sha256()
    for folder in (ROOT / "idgraph", ROOT / "cypher"):
        for path in sorted(folder.rglob("*")):
            if path.suffix in {".py", ".cypher", ".yaml", ".json"}:
                digest.update(path.relative_to(ROOT).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def build_store(
    work: Path, size: int, seed: int, chunks: list[list[Path]], *, reuse: bool = False
) -> tuple[Path, float]:
    """Ingest the base records chunk by chunk, once per code version; later runs reuse it."""
    folder = work / f"store-{size}-seed{seed}-code{code_version()}"
    built_before = sorted(
        work.glob(f"store-{size}-seed{seed}-code*/built.json"), key=lambda p: p.stat().st_mtime
    )
    if reuse and built_before:
        folder = built_before[-1].parent
    store, marker = folder / "idgraph.db", folder / "built.json"
    if marker.exists():
        built = json.loads(marker.read_text(encoding="utf-8"))
        print(f"  reusing store {store} (built in {built['seconds']:.1f} s)")
        return store, float(built["seconds"])
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    total = 0.0
    last: dict[str, Any] = {}
    for n, paths in enumerate(chunks):
        last = ingest_in_fresh_process(paths, store, folder / "rejects.jsonl")
        total += last["seconds"]
        print(
            f"  build chunk {n + 1}/{len(chunks)}: {last['seconds']:.1f} s, "
            f"records {last['records_total']:,}, peak RSS {last['peak_rss_mb']:.0f} MB"
        )
    marker.write_text(json.dumps({**last, "seconds": total}), encoding="utf-8")
    print(f"  built store of {size:,} records in {total:.1f} s")
    return store, total


@dataclass
class Prepared:
    """One size, ready to be added to: its built store and held-back batch."""

    size: int
    store: Path
    build_seconds: float
    batch: list[Path]
    runs: list[dict[str, Any]]


def prepare(work: Path, size: int, seed: int, chunk: int, *, reuse: bool = False) -> Prepared:
    chunks, batch = prepare_data(work, size, seed, chunk)
    store, build_seconds = build_store(work, size, seed, chunks, reuse=reuse)
    return Prepared(size, store, build_seconds, batch, [])


def add_once(work: Path, prepared: Prepared) -> None:
    """One add of the held-back batch into a fresh, flushed copy of the built store."""
    scratch = work / f"scratch-{prepared.size}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    copy = scratch / "idgraph.db"
    copy_store(prepared.store, copy, flush=True)
    run = ingest_in_fresh_process(prepared.batch, copy, scratch / "rejects.jsonl")
    prepared.runs.append(run)
    print(
        f"  {prepared.size:>9,} add {len(prepared.runs)}: {run['seconds']:.2f} s "
        f"(CPU {run['cpu_seconds']:.2f} s, closing {run['close_seconds']:.2f} s), "
        f"peak RSS {run['peak_rss_mb']:.0f} MB"
    )
    shutil.rmtree(scratch)


def result_of(prepared: Prepared) -> AddResult:
    runs = prepared.runs
    return AddResult(
        size=prepared.size,
        build_seconds=prepared.build_seconds,
        add_seconds=statistics.median(r["seconds"] for r in runs),
        add_runs=[r["seconds"] for r in runs],
        add_cpu_seconds=statistics.median(r["cpu_seconds"] for r in runs),
        close_seconds=statistics.median(r["close_seconds"] for r in runs),
        peak_rss_mb=max(r["peak_rss_mb"] for r in runs),
        records_new=runs[-1]["records_new"],
        customers=runs[-1]["customers"],
        records_resolved=runs[-1]["records_resolved"],
    )


def print_table(results: list[AddResult]) -> None:
    """One row per size; the last two columns divide by the smallest size's add."""
    base, base_cpu = results[0].add_seconds, results[0].add_cpu_seconds
    print(
        f"\n{'store':>10} {'build s':>8} {'add s':>7} {'close s':>7} {'add CPU s':>9} "
        f"{'records/s':>9} "
        f"{'peak RSS MB':>11} {'records_new':>11} {'re-resolved':>11} {'customers':>9} "
        f"{'x smallest':>10} {'CPU x':>6}"
    )
    for r in results:
        print(
            f"{r.size:>10,} {r.build_seconds:>8.1f} {r.add_seconds:>7.2f} {r.close_seconds:>7.2f} "
            f"{r.add_cpu_seconds:>9.2f} {BATCH / r.add_seconds:>9.0f} {r.peak_rss_mb:>11.0f} "
            f"{r.records_new:>11,} {r.records_resolved:>11,} {r.customers:>9,} "
            f"{r.add_seconds / base:>10.2f} {r.add_cpu_seconds / base_cpu:>6.2f}"
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = _work_dir(args.work)
    prepared = []
    for size in sorted(args.sizes):
        print(f"size {size:,}: preparing the store")
        prepared.append(prepare(work, size, args.seed, args.chunk, reuse=args.reuse_store))
    # Round-robin over the sizes, so a drift in the machine's speed during the run (a quarter
    # over an hour has been seen) weighs on every size alike and the ratios stay fair.
    print(f"adding {BATCH:,} new records, {args.repeats} rounds over the sizes")
    for _ in range(args.repeats):
        for one in prepared:
            add_once(work, one)
    print_table([result_of(one) for one in prepared])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
