"""Which failure modes touched each record: the truth behind an error breakdown.

A record is tagged with the person-level modes of its person (a household member, a twin, a
namesake, a mailbox local part someone else also uses, a phone that is the family landline) and
with every record-level change it got (a nickname, a date typo, a move, a family or second
mailbox, fields its source does not capture, ...). failure_modes.csv writes them per record, so
bench/error_breakdown.py can count missed and wrong pairs per mode.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .vec import Bools, Ints, Strings, concat, digits, fold, map_values, strings

if TYPE_CHECKING:
    from . import Dataset

#: Modes that belong to the person, so every record of the person carries them.
PERSON_MODES: tuple[str, ...] = (
    "household",
    "twin",
    "shared_landline",
    "namesake",
    "email_local_shared",
)


def _shared(values: Strings) -> Bools:
    """True where the (non-empty) value occurs more than once."""
    series = pd.Series(values, dtype=object)
    return np.asarray(series.duplicated(keep=False).to_numpy() & (values != ""), dtype=bool)


def person_modes(data: Dataset) -> dict[str, Bools]:
    """Per person: whether each person-level mode applies."""
    people = data.people
    family = np.bincount(people.household)[people.household] > 1
    name = map_values(concat(people.given, " ", people.surname), lambda x: fold(x).lower())
    local = map_values(people.email, lambda e: e.partition("@")[0])
    return {
        "household": family,
        "twin": people.twin.copy(),
        "shared_landline": people.uses_landline.copy(),
        "namesake": _shared(name),
        "email_local_shared": _shared(local),
    }


def mode_names(data: Dataset) -> tuple[str, ...]:
    """Every mode, person-level first, then record-level in the order they are applied."""
    return PERSON_MODES + tuple(data.records.applied)


def mode_bits(data: Dataset) -> Ints:
    """Per record, a bit mask over `mode_names(data)`."""
    rec = data.records
    bits = np.zeros(rec.size, dtype=np.int64)
    names = mode_names(data)
    for i, (name, mask) in enumerate(person_modes(data).items()):
        assert names[i] == name
        bits |= mask[rec.person].astype(np.int64) << i
    for i, mask in enumerate(rec.applied.values(), start=len(PERSON_MODES)):
        bits |= mask.astype(np.int64) << i
    return bits


def mode_labels(data: Dataset) -> Strings:
    """Per record, its modes joined with `;` (empty for an untouched record)."""
    bits = mode_bits(data)
    names = mode_names(data)
    uniques, codes = np.unique(bits, return_inverse=True)
    labels = strings(
        [";".join(n for i, n in enumerate(names) if int(u) >> i & 1) for u in uniques.tolist()]
    )
    out: Strings = labels[codes]
    return out


def household_ids(data: Dataset) -> Strings:
    """Per record, its person's household label (`H0000001`...)."""
    width = max(7, len(str(int(data.people.household.max()) + 1)))
    labels = concat("H", digits(data.people.household + 1, width))
    out: Strings = labels[data.records.person]
    return out
