"""Columnar normalization speed: `normalize_column` on 1,000,000 realistic values per field.

Usage: python bench/normalize_speed.py [--values 1000000] [--records 400000] [--seed 11]
       [--region IT] [--repeats 3] [--work DIR]

The values are every matching column of the generator's files (bench/generate.py with
--sources: people, crm, pos and support), topped up to --values by a seeded resample of the same
values. Prints, per field: the best of --repeats runs in seconds, the distinct raw values, and for
email and phone the share of values the fast path hands to the per-value normalizer.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generate import run  # noqa: E402
from idgraph.normalize.columns import fallback_share, normalize_column  # noqa: E402
from idgraph.normalize.record import NormalizeOptions  # noqa: E402

#: Field (or identifier kind) -> (file, column) pairs of the generator's output.
SOURCES: dict[str, tuple[tuple[str, str], ...]] = {
    "email": (("people", "email"), ("crm", "email"), ("pos", "email"), ("support", "email")),
    "phone": (("people", "phone"), ("crm", "phone"), ("pos", "phone"), ("support", "phone")),
    "first_name": (
        ("people", "given_name"),
        ("crm", "first_name"),
        ("pos", "first_name"),
        ("support", "first_name"),
    ),
    "last_name": (
        ("people", "surname"),
        ("crm", "last_name"),
        ("pos", "last_name"),
        ("support", "last_name"),
    ),
    "birth_date": (("people", "dob"), ("crm", "dob"), ("support", "dob")),
    "street": (("people", "street"), ("crm", "street")),
    "city": (("people", "suburb"), ("crm", "city")),
    "postcode": (("people", "postcode"), ("crm", "postcode"), ("support", "postcode")),
    "country": (("crm", "country"),),
    "customer_id": (
        ("people", "record_id"),
        ("crm", "customer_number"),
        ("pos", "card_number"),
        ("support", "contact_id"),
    ),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=1_000_000, help="values per field")
    parser.add_argument("--records", type=int, default=400_000, help="generator records")
    parser.add_argument("--seed", type=int, default=11, help="generator and resample seed")
    parser.add_argument("--region", default="IT", help="default phone region (IT)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per field (best is shown)")
    parser.add_argument("--work", type=Path, help="keep the generated files here")
    return parser.parse_args(argv)


def load_columns(folder: Path, values: int, seed: int) -> dict[str, pl.Series]:
    """`values` raw strings per field, read from the generator's CSVs in `folder`."""
    frames = {
        name: pl.read_csv(folder / f"{name}.csv", infer_schema=False)
        for name in ("people", "crm", "pos", "support")
    }
    columns: dict[str, pl.Series] = {}
    for field, pairs in SOURCES.items():
        raw = pl.concat([frames[file][column].alias(field) for file, column in pairs])
        if len(raw) < values:
            extra = raw.sample(values - len(raw), with_replacement=True, seed=seed)
            raw = pl.concat([raw, extra])
        columns[field] = raw.head(values)
    return columns


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    options = NormalizeOptions(default_region=args.region)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.work or Path(scratch)
        started = time.perf_counter()
        run(records=args.records, seed=args.seed, noise=1.0, out=folder, sources=True)
        columns = load_columns(folder, args.values, args.seed)
        print(f"generated and read in {time.perf_counter() - started:.1f} s")
    print(f"{'field':<12} {'values':>9} {'distinct':>9} {'seconds':>8}  fallback")
    for field, raw in columns.items():
        best = float("inf")
        for _ in range(args.repeats):
            started = time.perf_counter()
            normalize_column(field, raw, options)
            best = min(best, time.perf_counter() - started)
        share = ""
        if field in ("email", "phone"):
            share = f"{fallback_share(field, raw, options):.2%} of non-null values"
        print(f"{field:<12} {len(raw):>9} {raw.n_unique():>9} {best:>8.3f}  {share}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
