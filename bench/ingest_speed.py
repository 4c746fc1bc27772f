"""Ingest throughput and peak memory on synthetic CRM rows (a seeded duplicate rate).

Usage: python bench/ingest_speed.py [--rows 20000 50000] [--seed 7]
Prints one line per size: rows, seconds, rows/s, customers, peak RSS. Numbers go to
docs/benchmarks.md with the machine they ran on.
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import tempfile
import time
from pathlib import Path

from idgraph.normalize.record import NormalizeOptions
from idgraph.pipeline import run_ingest

FIRST = [
    "Maria",
    "Luca",
    "Giulia",
    "Marco",
    "Anna",
    "Paolo",
    "Sofia",
    "Giuseppe",
    "Laura",
    "Jan",
    "Hanna",
    "Pierre",
    "Claire",
    "James",
    "Emma",
    "Carlos",
    "Lucia",
    "Robert",
    "Elena",
    "Tom",
]
LAST = [
    "Rossi",
    "Bianchi",
    "Ferrari",
    "Esposito",
    "Romano",
    "Colombo",
    "Ricci",
    "Marino",
    "Greco",
    "Bruno",
    "Gallo",
    "Conti",
    "Mueller",
    "Schmidt",
    "Martin",
    "Bernard",
    "Smith",
    "Jones",
    "Garcia",
    "Lopez",
]
MAPPING = """source: crm
id: id
columns: {first_name: first, last_name: last, email: email, phone: phone, birth_date: dob,
          postcode: zip, country: country, updated_at: updated}
traits: {lifetime_value: {column: ltv, type: number}}
default_region: IT
"""


def write_rows(path: Path, rows: int, seed: int) -> None:
    rng = random.Random(seed)
    people = max(1, int(rows * 0.8))
    births = [
        f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(1940, 2005)}"
        for _ in range(people)
    ]
    names = [(rng.choice(FIRST), rng.choice(LAST)) for _ in range(people)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(
            ["id", "first", "last", "email", "phone", "dob", "zip", "country", "ltv", "updated"]
        )
        for i in range(rows):
            p = i if i < people else rng.randrange(people)
            first, last = names[p]
            email = f"{first}.{last}.{p}@mail.it".lower()
            phone = f"+39 3{p % 100:02d} {p % 1000000:07d}"
            dob = births[p]
            if i >= people and rng.random() < 0.5:
                email = ""  # a duplicate that must match on phone or name + birth date
            out.writerow(
                [
                    f"c{i}",
                    first,
                    last,
                    email,
                    phone,
                    dob,
                    f"{10000 + p % 89999}",
                    "IT",
                    f"{rng.random() * 1000:.2f}",
                    "2026-01-01T00:00:00Z",
                ]
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10000, 50000])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    for rows in args.rows:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            table = folder / "crm.csv"
            write_rows(table, rows, args.seed)
            (folder / "crm.mapping.yaml").write_text(MAPPING, encoding="utf-8")
            started = time.perf_counter()
            report = run_ingest(
                [table],
                store=folder / "bench.db",
                options=NormalizeOptions(default_region="IT"),
                rejects_path=folder / "rejects.jsonl",
            )
            seconds = time.perf_counter() - started
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"rows={rows} seconds={seconds:.2f} rows_per_s={rows / seconds:.0f} "
                f"customers={report.customers} rejected={report.rejected} "
                f"pairs_compared={report.pairs_compared} peak_rss_mb={peak_mb:.0f}"
            )


if __name__ == "__main__":
    main()
