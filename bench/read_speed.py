"""Read-stage speed: the readers and the columnar normalizer on the generator's source files.

Usage: python bench/read_speed.py --data DIR [--repeats 3] [--files crm.csv pos.csv ...]

DIR holds `bench/generate.py --sources` output (crm.csv, pos.csv, support.csv with their
mappings, web.jsonl; people.csv is read when people.mapping.yaml is beside it, as
bench/scale.py writes it, and skipped otherwise). Each file is read with
`idgraph.ingest.read_inputs` (split, parse, check, normalize, rejects written to a scratch
file), --repeats times; printed per file: lines read, lines rejected, values dropped (field
rejects), the median and each run's wall seconds, the median CPU seconds (steadier on a
shared machine), and at the end the peak RSS of the process. It imports `idgraph` from the
environment, so running it with `PYTHONPATH=/path/to/other/checkout` times that checkout's
readers on the same files.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

from idgraph.ingest import RejectsWriter, read_inputs
from idgraph.normalize.record import NormalizeOptions

DEFAULT_FILES = ("people.csv", "crm.csv", "pos.csv", "support.csv", "web.jsonl")


def _read_once(path: Path, scratch: Path) -> tuple[float, float, tuple[int, int, int]]:
    """Wall and CPU seconds of one read (CPU time is steadier on a shared machine)."""
    started, cpu = time.perf_counter(), time.process_time()
    with RejectsWriter(scratch / "rejects.jsonl") as rejects:
        (batch,) = read_inputs([path], options=NormalizeOptions(), rejects=rejects)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    counts = batch.counts
    return seconds, cpu, (counts.read, counts.rejected, getattr(counts, "field_rejects", 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--files", nargs="+", default=list(DEFAULT_FILES))
    args = parser.parse_args()
    print("| file | lines | rejected lines | values dropped | median s | runs s | median CPU s |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.files:
            path = args.data / name
            if path.suffix == ".csv" and not path.with_suffix(".mapping.yaml").is_file():
                print(f"| {name} | skipped: no {path.with_suffix('.mapping.yaml').name} |")
                continue
            times: list[float] = []
            cpus: list[float] = []
            counts = (0, 0, 0)
            for _ in range(args.repeats):
                seconds, cpu, counts = _read_once(path, Path(scratch))
                times.append(seconds)
                cpus.append(cpu)
            runs = ", ".join(f"{t:.2f}" for t in times)
            read, rejected, dropped = counts
            print(
                f"| {name} | {read:,} | {rejected:,} | {dropped:,} | "
                f"{statistics.median(times):.2f} | {runs} | {statistics.median(cpus):.2f} |"
            )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak_mb:,.0f} MiB")


if __name__ == "__main__":
    main()
