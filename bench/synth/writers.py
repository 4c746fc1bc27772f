"""Write the flat files: people.csv, truth.csv and manifest.json."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import Dataset
from .modes import household_ids, mode_labels, person_modes
from .records import COLUMNS, SOURCES


def write_csv(path: Path, columns: dict[str, Any]) -> None:
    """A UTF-8 CSV with `\\n` line ends, minimal quoting, empty string for missing."""
    frame = pd.DataFrame(columns, dtype=object)
    frame.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")


def write_people(data: Dataset, out: Path) -> list[Path]:
    """people.csv (one row per record), truth.csv (`record_id,person_id`) and
    failure_modes.csv (`record_id,person_id,household_id,modes`)."""
    cols = data.records.columns
    people_csv, truth_csv = out / "people.csv", out / "truth.csv"
    modes_csv = out / "failure_modes.csv"
    write_csv(people_csv, {name: cols[name] for name in COLUMNS})
    write_csv(truth_csv, {"record_id": cols["record_id"], "person_id": cols["person_id"]})
    write_csv(
        modes_csv,
        {
            "record_id": cols["record_id"],
            "person_id": cols["person_id"],
            "household_id": household_ids(data),
            "modes": mode_labels(data),
        },
    )
    return [people_csv, truth_csv, modes_csv]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def summary(data: Dataset) -> dict[str, Any]:
    """Counts that describe the data: persons, households, sources, corruptions applied."""
    people, rec = data.people, data.records
    sizes = np.bincount(people.household)
    per_person = np.bincount(rec.person, minlength=people.size)
    source = rec.columns["source"]
    return {
        "records": rec.size,
        "people": people.size,
        "households": {
            "total": int(sizes.size),
            "multi_person": int((sizes > 1).sum()),
            "people_in_multi_person": int(sizes[sizes > 1].sum()),
            "twin_people": int(people.twin.sum()),
            "sharing_landline": int(people.uses_landline.sum()),
            "sizes": {str(k): int(v) for k, v in enumerate(np.bincount(sizes)) if k and v},
            "people_with_family_email": int((people.family_email != "").sum()),
        },
        "people_with_second_email": int((people.second_email != "").sum()),
        "person_modes": {k: int(v.sum()) for k, v in person_modes(data).items()},
        "national_id_holders": int((people.national_id != "").sum()),
        "sources": {name: int((source == name).sum()) for name in SOURCES},
        "records_per_person": {
            "mean": round(float(per_person.mean()), 4),
            "max": int(per_person.max()),
            "histogram": {str(k): int(v) for k, v in enumerate(np.bincount(per_person)) if k},
        },
        "corruptions": dict(sorted(rec.kinds.items())),
    }


#: Bumped whenever the same settings would write different data; caches of generated data
#: (bench/scale.py, bench/accuracy.py) regenerate when their manifest names another version.
GENERATOR_VERSION = 3


def write_manifest(
    data: Dataset, out: Path, files: Iterable[Path], *, elapsed: float, generated_at: str
) -> Path:
    """manifest.json: settings, counts, file checksums and (the only varying part) timing."""
    manifest = {
        "generator": "bench/generate.py",
        "version": GENERATOR_VERSION,
        "seed": data.seed,
        "noise": data.noise,
        "rates": data.rates.as_dict(),
        "world": data.world.as_dict(),
        "counts": summary(data),
        "files": {path.name: sha256(path) for path in sorted(files)},
        "generated_at": generated_at,
        "elapsed_seconds": round(elapsed, 3),
    }
    path = out / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
