"""Personas: who a segment is, and how to speak to them, beside the live figures.

A persona is a small YAML file a marketer writes — name, description, goals, the channel and
content format the people prefer (e.g. "written product descriptions rather than video") — and
the saved segments it describes. `persona show` puts it next to each segment's size, share of
all customers and a summary of their traits, so the description can be checked against data.

    name: loyal_lucia
    title: Loyal Lucia
    description: A long-standing loyalty member who reads every newsletter.
    goals: [early access to new collections, use her points]
    channel: email
    content_format: written product descriptions rather than video
    segments: [engaged_loyalty_members]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from idgraph.config_file import problems_message, read_yaml_mapping, validation_problems
from idgraph.errors import ConfigError, NotFoundError
from idgraph.segment.analytics import (
    TraitSummary,
    customers_table,
    default_traits,
    member_ids,
    trait_summary,
)
from idgraph.segment.definition import SEGMENT_NAME_PATTERN
from idgraph.segment.saved import get_segment
from idgraph.store.base import GraphStore

__all__ = [
    "PERSONAS_ENV",
    "Persona",
    "PersonaReport",
    "PersonaSegment",
    "load_persona",
    "load_personas",
    "persona_report",
]

PERSONAS_ENV = "IDGRAPH_PERSONAS"
DEFAULT_DIR = "personas"
#: Traits summarised for a persona's segments when none are asked for, where present.
KEY_TRAITS = ("country", "age_band", "lifecycle_stage", "loyalty_tier", "rfm_score")

Channel = str


class Persona(BaseModel):
    """A persona file, validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=f"^{SEGMENT_NAME_PATTERN.pattern}$", max_length=63)
    title: str | None = None
    description: str = Field(min_length=1)
    goals: list[str] = []
    channel: Channel = Field(min_length=1)
    content_format: str = Field(min_length=1)
    tone: str | None = None
    segments: list[str] = Field(min_length=1)


class PersonaSegment(BaseModel):
    """One of a persona's segments, as of its last run."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str | None
    size: int | None
    share: float | None
    last_run_ts: int | None
    traits: list[TraitSummary]


class PersonaReport(BaseModel):
    """A persona beside the live data of its segments."""

    model_config = ConfigDict(frozen=True)

    persona: Persona
    customers: int
    segments: list[PersonaSegment]


def personas_dir(folder: Path | str | None = None) -> Path:
    """`folder`, else `$IDGRAPH_PERSONAS`, else `./personas`."""
    return Path(folder or os.environ.get(PERSONAS_ENV) or DEFAULT_DIR)


def load_persona(path: Path | str) -> Persona:
    """Read and validate one persona file.

    Raises:
        ConfigError: unreadable YAML or invalid fields, every problem named with the file.
    """
    data = read_yaml_mapping(Path(path), what="persona")
    try:
        return Persona.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(problems_message(validation_problems(exc)), path=path) from None


def load_personas(folder: Path | str | None = None) -> dict[str, Persona]:
    """Every `*.yaml` persona in the folder, by name.

    Raises:
        ConfigError: the folder is missing, a file is invalid, or two files share a name.
    """
    where = personas_dir(folder)
    if not where.is_dir():
        raise ConfigError(f"no persona folder {where}: pass --personas DIR or set {PERSONAS_ENV}")
    found: dict[str, Persona] = {}
    for path in sorted([*where.glob("*.yaml"), *where.glob("*.yml")]):
        persona = load_persona(path)
        if persona.name in found:
            raise ConfigError(f"{path}: persona {persona.name!r} is defined twice")
        found[persona.name] = persona
    return found


def find_persona(name: str, folder: Path | str | None = None) -> Persona:
    """The persona called `name` in the folder.

    Raises:
        NotFoundError: no such persona (the message lists those there are).
    """
    personas = load_personas(folder)
    if name not in personas:
        known = ", ".join(sorted(personas)) or "none"
        raise NotFoundError(f"no persona {name!r} in {personas_dir(folder)}; there are: {known}")
    return personas[name]


def persona_report(
    store: GraphStore, persona: Persona, *, traits: Sequence[str] | None = None
) -> PersonaReport:
    """The persona with each segment's size, share and trait summary (as of its last run).

    Raises:
        NotFoundError: a segment the persona names is not saved.
    """
    table = customers_table(store)
    known = default_traits(table)
    chosen = list(traits) if traits else [t for t in KEY_TRAITS if t in known]
    segments = []
    for name in persona.segments:
        try:
            saved = get_segment(store, name)
        except NotFoundError as exc:
            raise NotFoundError(f"persona {persona.name}: {exc}") from None
        members = member_ids(store, name)
        ran = saved.last_run_ts is not None
        segments.append(
            PersonaSegment(
                name=name,
                description=saved.description,
                size=len(members) if ran else None,
                share=len(members) / len(table) if ran and table else None,
                last_run_ts=saved.last_run_ts,
                traits=trait_summary([table[c] for c in sorted(members) if c in table], chosen),
            )
        )
    return PersonaReport(persona=persona, customers=len(table), segments=segments)
