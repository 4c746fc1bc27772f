"""Where a resolution goes wrong on generator data: missed and wrong pairs per failure mode.

Usage:
    python bench/error_breakdown.py DATA [--shape people|sources] [--labels CSV] [--json OUT]

DATA is a bench/generate.py folder (people.csv, failure_modes.csv, and sources_truth.csv for the
sources shape). --labels is a `record_key,customer_id` CSV (`idgraph export clusters`); without
it the shape's files go through `idgraph ingest` into a fresh store in a temporary folder first.

For every true pair (two records of one person) the report counts how many were missed and
which failure modes touched either record, and which identifiers the two records still share
(email, phone, national id, name, birth date). For every wrong pair (two persons' records in one
predicted customer) it says how the two persons relate (twins, other household members,
strangers) and which identifiers they share. A predicted customer of more than --max-cluster
records is not enumerated pair by pair; its wrong pairs are counted as "giant".
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.synth.vec import fold  # noqa: E402

Ints = npt.NDArray[np.int64]
#: The identifiers compared between the two records of a pair, in report order.
FIELDS: tuple[str, ...] = ("email", "phone", "national_id", "name", "dob")
SOURCE_FILES = ("crm.csv", "support.csv", "pos.csv", "web.jsonl")


@dataclass
class Units:
    """The scored units (record keys) with their truth, failure modes and predicted customer."""

    person: Ints
    household: Ints
    twin: npt.NDArray[np.bool_]
    modes: Ints
    mode_names: list[str]
    predicted: Ints
    keys: dict[str, Ints] = field(default_factory=dict)


def _codes(values: pd.Series) -> Ints:
    """Dense codes; an empty value gets -1 (never equal to anything)."""
    codes, _ = pd.factorize(values)
    out = np.asarray(codes, dtype=np.int64)
    out[(values == "").to_numpy()] = -1
    return out


def _keys(people: pd.DataFrame) -> dict[str, Ints]:
    """Loosely normalised comparison keys per people.csv row (independent of idgraph)."""

    def per_value(column: pd.Series, func: Any) -> pd.Series:
        uniques = column.unique()
        table = {u: func(u) for u in uniques}
        return column.map(table)

    email = per_value(people["email"], lambda e: e.strip().lower())
    phone = per_value(people["phone"], lambda p: "".join(ch for ch in p if ch.isdigit())[-9:])
    name = per_value(
        people["given_name"] + "|" + people["surname"],
        lambda n: "" if n.startswith("|") or n.endswith("|") else fold(n).lower(),
    )
    return {
        "email": _codes(email),
        "phone": _codes(phone),
        "national_id": _codes(people["national_id"]),
        "name": _codes(name),
        "dob": _codes(people["dob"]),
    }


def load_units(data: Path, shape: str, labels: dict[str, str]) -> Units:
    """Join record keys, truth, failure modes and predicted labels into unit arrays."""
    people = pd.read_csv(data / "people.csv", dtype=str, keep_default_na=False)
    modes = pd.read_csv(data / "failure_modes.csv", dtype=str, keep_default_na=False)
    if not (modes["record_id"].to_numpy() == people["record_id"].to_numpy()).all():
        raise ValueError(f"{data}: failure_modes.csv and people.csv rows differ")
    if shape == "people":
        keys = ("people:" + people["record_id"]).to_numpy()
        row = np.arange(len(people))
    else:
        truth = pd.read_csv(data / "sources_truth.csv", dtype=str, keep_default_na=False)
        keys = truth["record_key"].to_numpy()
        position = pd.Series(np.arange(len(people)), index=people["record_id"])
        row = position.loc[truth["record_id"]].to_numpy()
    names = sorted({m for text in modes["modes"].unique() for m in text.split(";") if m})
    bit = {name: i for i, name in enumerate(names)}
    distinct = modes["modes"].unique()
    as_bits = {text: sum(1 << bit[m] for m in text.split(";") if m) for text in distinct.tolist()}
    mode_bits = modes["modes"].map(as_bits).to_numpy(dtype=np.int64)
    twin = modes["modes"].str.contains(r"(?:^|;)twin(?:;|$)", regex=True).to_numpy()
    predicted = pd.Series([labels.get(k, f"missing:{k}") for k in keys.tolist()], dtype=object)
    field_keys = _keys(people)
    return Units(
        person=_codes(people["person_id"])[row],
        household=_codes(modes["household_id"])[row],
        twin=twin[row],
        modes=mode_bits[row],
        mode_names=names,
        predicted=_codes(predicted),
        keys={name: codes[row] for name, codes in field_keys.items()},
    )


def pairs_within(groups: Ints, limit: int | None = None) -> tuple[Ints, Ints]:
    """Every pair (i < j) of units that share a group; groups larger than `limit` are skipped."""
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    sizes = np.diff(np.r_[starts, groups.size])
    keep = sizes > 1
    if limit is not None:
        keep &= sizes <= limit
    left: list[Ints] = []
    right: list[Ints] = []
    for size in np.unique(sizes[keep]).tolist():
        first = starts[keep & (sizes == size)]
        i, j = np.triu_indices(size, k=1)
        left.append(order[(first[:, None] + i[None, :]).ravel()])
        right.append(order[(first[:, None] + j[None, :]).ravel()])
    if not left:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    return np.concatenate(left), np.concatenate(right)


def _agreement(units: Units, a: Ints, b: Ints) -> pd.Series:
    """Per pair, the identifiers both records carry with the same value ("none" if none)."""
    text = np.full(a.size, "", dtype=object)
    for name in FIELDS:
        codes = units.keys[name]
        same = (codes[a] == codes[b]) & (codes[a] >= 0)
        text[same] = text[same] + ("+" + name)
    labels = pd.Series(text, dtype=object).str.lstrip("+")
    return labels.where(labels != "", "none")


def _per_mode(units: Units, bits: Ints, missed: npt.NDArray[np.bool_]) -> list[dict[str, Any]]:
    rows = []
    for i, name in enumerate(units.mode_names):
        touched = (bits >> i & 1).astype(bool)
        total = int(touched.sum())
        if total:
            lost = int((touched & missed).sum())
            rows.append({"mode": name, "pairs": total, "missed": lost, "miss_rate": lost / total})
    return sorted(rows, key=lambda r: -r["missed"])


def breakdown(units: Units, *, max_cluster: int = 200) -> dict[str, Any]:
    """The missed-pair and wrong-pair tables (see the module docstring)."""
    a, b = pairs_within(units.person)
    missed = units.predicted[a] != units.predicted[b]
    ma, mb = a[missed], b[missed]
    agree_missed = _agreement(units, ma, mb).value_counts()
    report: dict[str, Any] = {
        "true_pairs": int(a.size),
        "missed_pairs": int(missed.sum()),
        "missed_by_mode": _per_mode(units, units.modes[a] | units.modes[b], missed),
        "missed_by_shared_identifiers": {str(k): int(v) for k, v in agree_missed.items()},
    }
    pa, pb = pairs_within(units.predicted, max_cluster)
    wrong = units.person[pa] != units.person[pb]
    wa, wb = pa[wrong], pb[wrong]
    sizes = np.bincount(units.predicted)
    giant = sizes > max_cluster
    giant_pairs = 0
    for cluster in np.flatnonzero(giant).tolist():
        members = units.person[units.predicted == cluster]
        counts = np.bincount(pd.factorize(pd.Series(members))[0])
        giant_pairs += int((counts.sum() ** 2 - (counts**2).sum()) // 2)
    household = units.household[wa] == units.household[wb]
    twins = household & units.twin[wa] & units.twin[wb]
    relation = np.where(twins, "twins", np.where(household, "household", "strangers"))
    agree_wrong = _agreement(units, wa, wb)
    combined = pd.Series(relation, dtype=object) + ": " + agree_wrong
    report |= {
        "wrong_pairs": int(wa.size) + giant_pairs,
        "wrong_pairs_in_giant_clusters": giant_pairs,
        "wrong_by_relation": {
            str(k): int(v) for k, v in pd.Series(relation).value_counts().items()
        },
        "wrong_by_relation_and_shared_identifiers": {
            str(k): int(v) for k, v in combined.value_counts().head(15).items()
        },
    }
    return report


def markdown(report: dict[str, Any]) -> str:
    """The report as markdown tables."""
    lines = [
        f"true pairs {report['true_pairs']:,}, missed {report['missed_pairs']:,}; "
        f"wrong pairs {report['wrong_pairs']:,} "
        f"({report['wrong_pairs_in_giant_clusters']:,} in giant clusters)",
        "",
        "| failure mode (either record) | true pairs | missed | miss rate | share of missed |",
        "|---|---:|---:|---:|---:|",
    ]
    total_missed = max(report["missed_pairs"], 1)
    for row in report["missed_by_mode"]:
        lines.append(
            f"| {row['mode']} | {row['pairs']:,} | {row['missed']:,} | {row['miss_rate']:.3f} "
            f"| {row['missed'] / total_missed:.3f} |"
        )
    lines += ["", "| missed pairs: identifiers the two records share | pairs |", "|---|---:|"]
    for key, value in list(report["missed_by_shared_identifiers"].items())[:12]:
        lines.append(f"| {key} | {value:,} |")
    lines += ["", "| wrong pairs: relation: identifiers shared | pairs |", "|---|---:|"]
    for key, value in report["wrong_by_relation_and_shared_identifiers"].items():
        lines.append(f"| {key} | {value:,} |")
    return "\n".join(lines)


def ingest_labels(data: Path, shape: str, scratch: Path) -> dict[str, str]:
    """Resolve the shape's files with `idgraph ingest` (default config); record key -> customer."""
    from bench.scale import PEOPLE_MAPPING
    from idgraph.pipeline import run_ingest

    if shape == "people":
        (data / "people.mapping.yaml").write_text(PEOPLE_MAPPING, encoding="utf-8")
        files = [str(data / "people.csv")]
    else:
        files = [str(data / name) for name in SOURCE_FILES]
    store = scratch / "idgraph.db"
    run_ingest(files, store=str(store), rejects_path=scratch / "rejects.jsonl", as_of_ms=0)
    out = scratch / "clusters.csv"
    command = [sys.executable, "-m", "idgraph", "export", "clusters", "--store", str(store)]
    subprocess.run(
        [*command, "--output", str(out)],
        check=True,
        capture_output=True,
    )
    return read_labels(out)


def read_labels(path: Path) -> dict[str, str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["record_key"]: row["customer_id"] for row in csv.DictReader(handle)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="a bench/generate.py output folder")
    parser.add_argument("--shape", choices=("people", "sources"), default="people")
    parser.add_argument("--labels", type=Path, help="record_key,customer_id CSV")
    parser.add_argument("--max-cluster", type=int, default=200)
    parser.add_argument("--json", type=Path, help="also write the report as JSON")
    args = parser.parse_args(argv)
    if not (args.data / "failure_modes.csv").is_file():
        parser.error(f"{args.data}: no failure_modes.csv (write it with bench/generate.py)")
    if args.labels:
        labels = read_labels(args.labels)
    else:
        with tempfile.TemporaryDirectory() as scratch:
            labels = ingest_labels(args.data, args.shape, Path(scratch))
    report = breakdown(load_units(args.data, args.shape, labels), max_cluster=args.max_cluster)
    print(markdown(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
