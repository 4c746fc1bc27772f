"""What one LadybugDB checkpoint costs after small writes, by store size (issue 6, point 1).

Usage: python bench/store_checkpoint.py [--sizes 100000,1000000] [--repeats 3] [--work DIR]
       [--cases NAME,...]

The incremental-ingest benchmark shows that a 1,000-record add spends a growing share of its time
closing the store, where LadybugDB folds the commit's log into the file. This script isolates
that engine cost from idgraph: it builds a plain LadybugDB store of N nodes shaped like idgraph's
records (two relationship tables between them, one with properties, and one to a block table),
then on a fresh copy for each case writes a few rows in one transaction, commits, and times
`CHECKPOINT`. Writes that touch only new rows cost the same at every size; writes scattered over
old rows cost about what rewriting the touched tables costs, whether they are 1,000 rows or
10,000. That is the part of an incremental add that grows with the store. Numbers go to
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import ladybug
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WORK = ROOT / "bench" / ".cache" / "store_checkpoint"
#: LadybugDB's storage group: a column or adjacency list is stored in chunks of this many nodes.
GROUP_ROWS = 131_072
WRITES = 1000

Step = tuple[str, pa.Table | None]


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    steps: Callable[[int, random.Random], list[Step]]


def _key(i: int) -> str:
    return f"r{i:09d}"


def _new_keys(count: int) -> list[str]:
    return [f"n{i:09d}" for i in range(count)]


def _edges(table: str, src: list[str], dst: list[str], target: str = "R") -> Step:
    props = " {rule: 'fuzzy', score: 0.5}" if table == "P" else ""
    statement = (
        f"LOAD FROM _rows MATCH (a:R {{key: src}}) MATCH (b:{target} {{key: dst}}) "
        f"CREATE (a)-[:{table}{props}]->(b)"
    )
    return statement, pa.table({"src": src, "dst": dst})


def _new_nodes(count: int) -> Step:
    return "LOAD FROM _rows CREATE (:R {key: key, x: 'new'})", pa.table({"key": _new_keys(count)})


def _scattered(n: int, rng: random.Random, count: int) -> list[str]:
    return [_key(rng.randrange(n)) for _ in range(count)]


def _per_group(n: int) -> tuple[list[str], list[str]]:
    starts = range(0, n, GROUP_ROWS)
    return [_key(s + 1) for s in starts], [_key(s + 2) for s in starts]


CASES = (
    Case("nothing", "an empty transaction", lambda n, rng: []),
    Case(
        "new_nodes",
        f"{WRITES:,} new nodes",
        lambda n, rng: [_new_nodes(WRITES)],
    ),
    Case(
        "new_to_new",
        f"{WRITES:,} new nodes and {WRITES:,} edges among them",
        lambda n, rng: [
            _new_nodes(WRITES),
            _edges("E", _new_keys(WRITES), _new_keys(WRITES)[1:] + _new_keys(1)),
        ],
    ),
    Case(
        "new_to_old_block",
        f"{WRITES:,} new nodes, each linked to an old block",
        lambda n, rng: [
            _new_nodes(WRITES),
            _edges(
                "IB",
                _new_keys(WRITES),
                [f"b{rng.randrange(max(1, n // 2)):09d}" for _ in range(WRITES)],
                "B",
            ),
        ],
    ),
    Case(
        "one_old_edge",
        "1 edge with properties between two old nodes",
        lambda n, rng: [_edges("P", [_key(n // 2)], [_key(n // 3)])],
    ),
    Case(
        "edge_per_group",
        "1 edge with properties in each storage group",
        lambda n, rng: [_edges("P", *_per_group(n))],
    ),
    Case(
        "old_edges_plain",
        f"{WRITES:,} edges without properties between random old nodes",
        lambda n, rng: [
            _edges("E", _scattered(n, rng, WRITES), _scattered(n, rng, WRITES)),
        ],
    ),
    Case(
        "old_edges",
        f"{WRITES:,} edges with properties between random old nodes",
        lambda n, rng: [
            _edges("P", _scattered(n, rng, WRITES), _scattered(n, rng, WRITES)),
        ],
    ),
    Case(
        "old_edges_10x",
        f"{10 * WRITES:,} edges with properties between random old nodes",
        lambda n, rng: [
            _edges("P", _scattered(n, rng, 10 * WRITES), _scattered(n, rng, 10 * WRITES)),
        ],
    ),
    Case(
        "old_property",
        f"a string property set on {WRITES:,} random old nodes",
        lambda n, rng: [
            (
                "LOAD FROM _rows MATCH (a:R {key: key}) SET a.x = 'changed'",
                pa.table({"key": sorted(set(_scattered(n, rng, WRITES)))}),
            )
        ],
    ),
    Case(
        "old_nodes_deleted",
        f"{WRITES:,} random old nodes deleted with their edges",
        lambda n, rng: [
            (
                "LOAD FROM _rows MATCH (a:R {key: key}) DETACH DELETE a",
                pa.table({"key": sorted(set(_scattered(n, rng, WRITES)))}),
            )
        ],
    ),
)


def build(path: Path, n: int) -> None:
    """N nodes, two edges each in `E` and in `P` (with properties), one block each in `IB`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = ladybug.Database(str(path))
    conn = ladybug.Connection(db)
    for ddl in (
        "CREATE NODE TABLE R(key STRING, x STRING, PRIMARY KEY(key))",
        "CREATE NODE TABLE B(key STRING, PRIMARY KEY(key))",
        "CREATE REL TABLE E(FROM R TO R)",
        "CREATE REL TABLE P(FROM R TO R, rule STRING, score DOUBLE)",
        "CREATE REL TABLE IB(FROM R TO B)",
    ):
        conn.execute(ddl)
    rng = random.Random(1)
    keys = [_key(i) for i in range(n)]
    blocks = max(1, n // 2)
    src = [k for k in keys for _ in range(2)]
    dst = [keys[rng.randrange(n)] for _ in src]
    tables = {
        "R": pa.table({"key": keys, "x": [f"v{i % 97}" for i in range(n)]}),
        "B": pa.table({"key": [f"b{i:09d}" for i in range(blocks)]}),
        "E": pa.table({"from": src, "to": dst}),
        "P": pa.table(
            {"from": src, "to": dst, "rule": ["email"] * len(src), "score": [1.0] * len(src)}
        ),
        "IB": pa.table({"from": keys, "to": [f"b{rng.randrange(blocks):09d}" for _ in keys]}),
    }
    for name, _table in tables.items():
        # COPY reads the Arrow table from a local variable of the calling frame, by name.
        conn.execute(f"COPY {name} FROM _table")
    conn.close()
    db.close()


def counts(conn: ladybug.Connection) -> dict[str, int]:
    """Rows of each table: what the tests compare before and after a case's writes."""
    out: dict[str, int] = {}
    for name, pattern in (
        ("R", "(x:R)"),
        ("changed", "(x:R) WHERE x.x = 'changed'"),
        ("E", "()-[x:E]->()"),
        ("P", "()-[x:P]->()"),
        ("IB", "()-[x:IB]->()"),
    ):
        result = conn.execute(f"MATCH {pattern} RETURN count(x)")
        assert not isinstance(result, list)
        out[name] = int(result.get_next()[0])
    return out


@dataclass
class Timing:
    write: float
    checkpoint: float
    before: dict[str, int]
    after: dict[str, int]


def run_case(base: Path, work: Path, n: int, case: Case, seed: int) -> Timing:
    """Copy the built store, write the case's rows in one transaction, time the checkpoint."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    target = work / "store.db"
    shutil.copy2(base, target)
    # A checkpoint syncs the file: without this it would also write out the fresh copy.
    os.sync()
    db = ladybug.Database(str(target))
    conn = ladybug.Connection(db)
    before = counts(conn)
    steps = case.steps(n, random.Random(seed))
    started = time.perf_counter()
    conn.execute("BEGIN TRANSACTION")
    for statement, _rows in steps:
        conn.execute(statement)
    conn.execute("COMMIT")
    written = time.perf_counter()
    conn.execute("CHECKPOINT")
    done = time.perf_counter()
    after = counts(conn)
    conn.close()
    db.close()
    shutil.rmtree(work, ignore_errors=True)
    return Timing(written - started, done - written, before, after)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="store sizes in nodes")
    parser.add_argument("--repeats", type=int, default=3, help="timed checkpoints per case")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="cache for built stores")
    parser.add_argument(
        "--cases",
        default=",".join(case.name for case in CASES),
        help="comma-separated case names (default: all)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    by_name = {case.name: case for case in CASES}
    unknown = [name for name in args.cases.split(",") if name not in by_name]
    if unknown:
        raise SystemExit(f"unknown case(s): {', '.join(unknown)}; known: {', '.join(by_name)}")
    cases = [by_name[name] for name in args.cases.split(",")]
    bases = {}
    for n in sizes:
        base = args.work / f"base-{n}" / "store.db"
        if not base.exists():
            started = time.perf_counter()
            build(base, n)
            print(f"built {n:,} nodes in {time.perf_counter() - started:.1f} s", flush=True)
        bases[n] = base
    medians: dict[tuple[str, int], float] = {}
    for case in cases:
        for n in sizes:
            runs = [
                run_case(bases[n], args.work / "run", n, case, seed).checkpoint
                for seed in range(args.repeats)
            ]
            medians[case.name, n] = statistics.median(runs)
            print(f"{case.name:18} {n:>10,}  checkpoint {medians[case.name, n]:.2f} s", flush=True)
    head = " | ".join(f"{n:,} nodes" for n in sizes)
    print(f"\n| writes, then one checkpoint | {head} |")
    print("|---|" + "---:|" * len(sizes))
    for case in cases:
        cells = " | ".join(f"{medians[case.name, n]:.2f} s" for n in sizes)
        print(f"| {case.description} | {cells} |")


if __name__ == "__main__":
    main()
