"""The Spark engine beside the local one: time, memory and the same customers.

Usage:
    python bench/spark_scale.py [--sizes 100000,300000,1000000] [--masters local[1],local[2]]
        [--data DIR] [--driver-memory 8g] [--seed 7] [--markdown FILE] [--store-runs]

For each size, bench/generate.py's people.csv (cached under --data; bench/scale.py makes
the same folders) is resolved by `idgraph ingest` into a fresh embedded store, then by
`idgraph.spark.resolve_files` on each master, each in a fresh process. Memory is the peak
of the summed resident memory of the process and all its children (the JVM and Spark's
Python workers), sampled every 0.2 s. Each Spark run's customers are compared with the
local run's: the same partition of the records, and the same customer ids.

With --store-runs, the local store is then re-resolved whole (on copies): by `idgraph
resolve` (local) and by `idgraph.spark.resolve_store` on each master, written back into the
store; the stores' customers and ids are compared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.scale import DEFAULT_WORK, data  # noqa: E402
from bench.store_copy import copy_store  # noqa: E402


def _tree_rss_mb(root: int) -> float:
    """Resident memory of `root` and every descendant, in MB."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        rss[int(entry)] = int(fields[21]) * page
    members = {root}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in members and pid not in members:
                members.add(pid)
                grew = True
    return sum(rss.get(pid, 0) for pid in members) / 1e6


def measured(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak summed RSS (MB) of the process tree, and stdout."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, env=env)
        peak = [0.0]

        def sample() -> None:
            while process.poll() is None:
                peak[0] = max(peak[0], _tree_rss_mb(process.pid))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        process.wait()
        seconds = time.perf_counter() - started
        sampler.join()
        out.seek(0)
        text = out.read().decode()
    if process.returncode != 0:
        raise RuntimeError(f"{command[:4]} failed with status {process.returncode}")
    return seconds, peak[0], text


def child_local(store: str, csv: str) -> None:
    from idgraph.pipeline import run_ingest

    report = run_ingest(
        [csv], store=store, rejects_path=Path(store).with_name("r.jsonl"), as_of_ms=0
    )
    print(json.dumps({"records": report.records_total, "customers": report.customers}))


def child_spark(output: str, csv: str, master: str, memory: str) -> None:
    from idgraph.spark.job import resolve_files

    report = resolve_files(
        [csv], output, master=master, conf={"spark.driver.memory": memory}, as_of_ms=0
    )
    print(json.dumps(report.model_dump(mode="json")))


def child_resolve(store: str, master: str, memory: str) -> None:
    if master == "local":
        from idgraph.pipeline import run_ingest

        local = run_ingest([], store=store, full=True, as_of_ms=0)
        print(json.dumps({"records": local.records_total, "customers": local.customers}))
        return
    from idgraph.spark.store_run import resolve_store

    report = resolve_store(store, master=master, conf={"spark.driver.memory": memory}, as_of_ms=0)
    print(json.dumps(report.model_dump(mode="json")))


def store_runs(
    store: Path, size: int, masters: list[str], memory: str, env: dict[str, str]
) -> list[str]:
    """Rows of re-resolving the local store whole: locally, then on each Spark master."""
    rows: list[str] = []
    expected: set[tuple[str, str]] | None = None
    for master in ["local", *masters]:
        copy = copy_store(store, store.parent / f"resolve-{len(rows)}" / store.name)
        seconds, peak, text = measured(
            [sys.executable, __file__, "--child", "resolve", str(copy), master, memory], env
        )
        report = json.loads(text.strip().splitlines()[-1])
        members = members_of_store(copy)
        expected = members if expected is None else expected
        same = "" if master == "local" else ("yes" if members == expected else "NO")
        engine = "resolve (local)" if master == "local" else f"resolve --engine spark {master}"
        row = (
            f"| {size:,} | {engine} | {seconds:.1f} | {peak / 1000:.2f} | "
            f"{report['customers']:,} | {same} |"
        )
        print(row, f"stages {report.get('stage_seconds', '')}", flush=True)
        rows.append(row)
        shutil.rmtree(copy.parent, ignore_errors=True)
    return rows


def members_of_store(store: Path) -> set[tuple[str, str]]:
    from idgraph.settings import open_store

    with open_store(store, read_only=True) as graph:
        found = graph.query_columns(
            "members", "MATCH (c:Customer)-[:HAS_RECORD]->(r:Record) RETURN c.id AS c, r.key AS k"
        )
    return set(zip(found["c"], found["k"], strict=True))


def members_of_output(folder: Path) -> set[tuple[str, str]]:
    import polars as pl

    frame = pl.read_parquet(folder / "records" / "*.parquet", columns=["customer", "key"])
    return set(frame.iter_rows())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,300000,1000000")
    parser.add_argument("--masters", default="local[1],local[2]")
    parser.add_argument("--data", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--driver-memory", default="8g")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--store-runs", action="store_true", help="also re-resolve the store")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        children = {"local": child_local, "spark": child_spark, "resolve": child_resolve}
        children[kind](*rest)  # type: ignore[operator]
        return 0
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    lines = [
        "| records | engine | seconds | peak memory (GB) | customers | same customers as local |",
        "|---|---|---|---|---|---|",
    ]
    for size in [int(s) for s in args.sizes.split(",")]:
        folder = data(args.data, size, args.seed, "people")
        csv = str(folder / "people.csv")
        scratch = Path(tempfile.mkdtemp(prefix="spark-scale-"))
        try:
            store = scratch / "local.db"
            seconds, peak, text = measured(
                [sys.executable, __file__, "--child", "local", str(store), csv], env
            )
            local = json.loads(text.strip().splitlines()[-1])
            expected = members_of_store(store)
            customers = local["customers"]
            row = f"| {size:,} | local | {seconds:.1f} | {peak / 1000:.2f} | {customers:,} | |"
            print(row, flush=True)
            lines.append(row)
            for master in args.masters.split(","):
                output = scratch / f"out-{len(lines)}"
                seconds, peak, text = measured(
                    [
                        sys.executable,
                        __file__,
                        "--child",
                        "spark",
                        str(output),
                        csv,
                        master,
                        args.driver_memory,
                    ],
                    env,
                )
                report = json.loads(text.strip().splitlines()[-1])
                same = "yes" if members_of_output(output) == expected else "NO"
                row = (
                    f"| {size:,} | spark {master} | {seconds:.1f} | {peak / 1000:.2f} | "
                    f"{report['customers']:,} | {same} |"
                )
                print(row, f"stages {report['stage_seconds']}", flush=True)
                lines.append(row)
                shutil.rmtree(output, ignore_errors=True)
            if args.store_runs:
                lines += store_runs(store, size, args.masters.split(","), args.driver_memory, env)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    if args.markdown:
        args.markdown.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
