"""The plain baseline: deterministic rules and a union-find in standard-library Python.

Usage: python bench/rules_baseline.py PEOPLE_CSV --labels OUT.csv

Reads bench/generate.py's people.csv and joins two records when they share a cleaned email,
a phone (its last nine digits) or first name + surname + date of birth, exactly as a data
engineer would script it in an afternoon: no fuzzy matching, no guards. It imports nothing
from idgraph; bench/scale.py runs it beside idgraph and Splink on the same file, for the
ratio of what idgraph's resolution costs over the simplest thing that could work.
Writes record_id,cluster_id and prints its wall time as JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import time
from pathlib import Path

_NOT_DIGIT = re.compile(r"\D")


def _keys(row: dict[str, str]) -> list[str]:
    keys = []
    email = row["email"].strip().lower()
    if "@" in email:
        keys.append("e:" + email)
    digits = _NOT_DIGIT.sub("", row["phone"])
    if len(digits) >= 9:
        keys.append("p:" + digits[-9:])
    first, last, dob = (row[c].strip().lower() for c in ("given_name", "surname", "dob"))
    if first and last and dob:
        keys.append(f"n:{first}|{last}|{dob}")
    return keys


def resolve(path: Path) -> tuple[list[str], list[int]]:
    """Record ids and, aligned, the index of the cluster's first record."""
    parent: list[int] = []

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    ids: list[str] = []
    owner: dict[str, int] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for index, row in enumerate(csv.DictReader(handle)):
            ids.append(row["record_id"])
            parent.append(index)
            for key in _keys(row):
                seen = owner.setdefault(key, index)
                if seen != index:
                    a, b = find(seen), find(index)
                    if a != b:
                        parent[max(a, b)] = min(a, b)
    return ids, [find(i) for i in range(len(ids))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("people", type=Path)
    parser.add_argument("--labels", type=Path, required=True)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    ids, roots = resolve(args.people)
    with args.labels.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["record_id", "cluster_id"])
        writer.writerows((i, ids[r]) for i, r in zip(ids, roots, strict=True))
    print(json.dumps({"seconds": round(time.perf_counter() - started, 3), "records": len(ids)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
