"""The shape of the population and of the sources: what makes real customer data hard to resolve
even when no value is mistyped.

These are not corruptions, so `--noise` does not scale them: households that share a landline,
an email and a device, twins, a second mailbox at another domain, name frequencies, and sources
that each capture only some fields. Each one can be turned up or down (`--set NAME=VALUE`), and
each person or record it touches is tagged in failure_modes.csv (see docs/generator.md).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class World:
    """Population and source settings (defaults: the realistic CDP-shaped set)."""

    #: Share of households with 2 to 5 members (the rest are people living alone).
    households: float = 0.10
    #: Share of households of four or five whose first two children are twins.
    twins: float = 0.35
    #: Share of household members whose phone is the shared home landline (twins: always).
    landline: float = 0.30
    #: Share of multi-person households with a family mailbox (`famiglia.rossi@...`).
    family_email: float = 0.20
    #: Share of a family-mailbox member's records that give the family mailbox.
    family_email_records: float = 0.5
    #: Share of persons with a second mailbox: the same local part at another domain.
    second_email: float = 0.10
    #: Share of a person's records that give the second mailbox (if they have one).
    second_email_records: float = 0.5
    #: Rare built given names per country and gender, behind the ~22 common ones.
    given_tail: int = 120
    #: Rare built surnames per country, behind the 30 common ones (at most 8,000-12,000 exist).
    surname_tail: int = 8000
    #: Share of records whose fields are cut to what their source captures (0: every record full).
    source_coverage: float = 1.0
    #: Most records one person has (the realistic set's largest true person has 6).
    max_records: int = 6

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type == "int" and value < 0:
                raise ValueError(f"{f.name} must be >= 0, got {value}")
            if f.type == "float" and not 0 <= value <= 1:
                raise ValueError(f"{f.name} is a share and must be in [0, 1], got {value}")

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def world_field_kinds() -> dict[str, type]:
    """Each setting's name and type (int or float), for the command line."""
    return {f.name: int if f.type == "int" else float for f in dataclasses.fields(World)}
