"""The match config: which identifiers link, which fuzzy rules may link, and the guards.

Matching is configuration, not code: this pydantic model is loaded from YAML, validated with
every problem reported at once, and compiled by `block` and `match` into fast functions.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from idgraph.config_file import problems_message, read_config_mapping, validation_problems
from idgraph.errors import ConfigError
from idgraph.types import IdentifierKind

#: Fields a fuzzy rule can block on or compare. `full_name` and `email_local` are derived;
#: `customer_id` is the record's customer id identifier (the smallest, when it holds several).
MatchField = Literal[
    "full_name",
    "first_name",
    "last_name",
    "birth_date",
    "postcode",
    "email_local",
    "city",
    "street",
    "phone",
    "country",
    "customer_id",
]
NAME_FIELDS: frozenset[str] = frozenset({"full_name", "first_name", "last_name"})
StrongAttribute = Literal["birth_date", "first_name", "postcode", "country"]
KeyTransform = Literal[
    "exact", "phonetic", "initials", "prefix3", "initial", "year", "front", "back"
]  # fmt: skip
_BLOCK_PART = re.compile(r"^(?P<field>[a-z_]+)(?::(?P<transform>[a-z0-9]+))?$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IdentifierRule(_Strict):
    """A deterministic key and how many records may share one value before it stops linking."""

    kind: IdentifierKind
    link: bool = True
    max_records: Annotated[int, Field(ge=2)] = 8
    #: Holders with more first names than this (nicknames and typos count as one name) share
    #: the value without being one person: a shop's email typed at the till, a family phone.
    max_names: Annotated[int, Field(ge=1)] | None = None
    #: The value is issued to one person (a customer number, a login, a national id), never
    #: shared by a household: two holders that agree on the full name are one person even
    #: when their birth dates (any strong attribute) disagree beyond a typo.
    personal: bool = False


class Comparison(_Strict):
    """One field compared between two records; passes when similarity >= threshold."""

    field: MatchField
    method: Literal["exact", "jaro_winkler", "levenshtein", "phonetic"] = "exact"
    threshold: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0


class BlockPart(_Strict):
    field: MatchField
    transform: KeyTransform = "exact"


ScoredField = Literal[
    "first_name", "last_name", "birth_date", "address", "email_local", "phone", "customer_id"
]  # fmt: skip
_SCORED_FIELDS: tuple[ScoredField, ...] = (
    "first_name", "last_name", "birth_date", "address", "email_local", "phone", "customer_id"
)  # fmt: skip


class Scoring(_Strict):
    """The match model that judges the scored rules' candidate pairs (docs/matching.md).

    Weights are learned from the records being resolved (EM, no labels) on every full run and
    kept in the store; incremental runs reuse them.
    """

    fields: list[ScoredField] = Field(default_factory=lambda: list(_SCORED_FIELDS))
    #: A pair links when its match probability reaches this.
    threshold: Annotated[float, Field(gt=0.5, lt=1)] = 0.99
    #: Fields whose plain disagreement (both known, neither equal nor a typo apart) stops a
    #: scored link whatever the rest says: a household shares a surname and an address, not
    #: a first name.
    must_agree: list[ScoredField] = Field(default_factory=lambda: [_SCORED_FIELDS[0]])
    #: Lift the first-name veto, and `birth_date` as a strong attribute, when the records
    #: show no households: most pairs at one address under one surname with different
    #: first names share a birth date (one person's records with the first name replaced,
    #: not a family). Decided where the model is learned, and kept with it.
    lift_without_households: bool = True
    #: Random pairs sampled to learn how often strangers agree (u).
    random_pairs: Annotated[int, Field(ge=1000)] = 300_000
    #: Fewer records than this: too few to learn from, the shipped weights are used. On
    #: generated data a model learned from 1,000-1,999 records beat the shipped weights (F1
    #: +0.002 to +0.011) and one learned from 500-800 did not (docs/accuracy.md).
    min_records: Annotated[int, Field(ge=2)] = 1000
    max_iterations: Annotated[int, Field(ge=1)] = 30

    @model_validator(mode="after")
    def _known_fields(self) -> Scoring:
        unknown = sorted(set(self.must_agree) - set(self.fields))
        if unknown:
            raise ValueError(f"must_agree names fields not scored: {', '.join(unknown)}")
        if len(set(self.fields)) != len(self.fields):
            raise ValueError("a scored field is listed twice")
        return self


class FuzzyRule(_Strict):
    """Pairs sharing every `block_on` key part are candidates: the match model scores them,
    or, for a fixed rule (`compare` given), they link when every comparison passes."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
    block_on: Annotated[list[BlockPart], Field(min_length=1)]
    compare: Annotated[list[Comparison], Field(min_length=2)] | None = None
    max_block_size: Annotated[int, Field(ge=2)] | None = None
    #: Whether the match model learns from this rule's pairs as well as scoring them. A rule
    #: whose pairs are mostly another rule's (the swapped-name rule) should not: the model
    #: would count those pairs twice, and every weight would move with a rule added.
    train: bool = True

    @property
    def scored(self) -> bool:
        """Whether the match model judges this rule's pairs (no fixed comparisons)."""
        return self.compare is None

    def blocked_fields(self) -> frozenset[str]:
        """The scored fields this rule's pairs agree on by construction, which the model must
        not learn from them."""
        found: set[str] = set()
        for part in self.block_on:
            name = str(part.field)
            if name == "full_name":
                found |= {"first_name", "last_name"}
            elif name in ("street", "postcode", "city"):
                found.add("address")
            else:
                found.add(name)
        return frozenset(found)

    @field_validator("block_on", mode="before")
    @classmethod
    def _parse_parts(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        parts: list[Any] = []
        for item in value:
            if isinstance(item, str):
                found = _BLOCK_PART.match(item)
                if not found:
                    raise ValueError(f"block key part {item!r} is not 'field' or 'field:transform'")
                parts.append({"field": found["field"], "transform": found["transform"] or "exact"})
            else:
                parts.append(item)
        return parts

    @model_validator(mode="after")
    def _name_alone_never_merges(self) -> FuzzyRule:
        if self.compare is not None and all(c.field in NAME_FIELDS for c in self.compare):
            raise ValueError(
                f"rule {self.name!r} compares only names; add a second field "
                "(birth_date, postcode, email_local, ...): a name alone never merges"
            )
        return self


class Survivorship(_Strict):
    """Source priority per golden field; within one priority the most recent value wins."""

    default: list[str] = Field(default_factory=list)
    fields: dict[str, list[str]] = Field(default_factory=dict)

    def priority(self, field: str) -> list[str]:
        return self.fields.get(field, self.default)


def _default_strong() -> list[StrongAttribute]:
    return ["birth_date"]


class MatchConfig(_Strict):
    """Everything that decides which records become one customer."""

    identifiers: list[IdentifierRule]
    limits: dict[IdentifierKind, Annotated[int, Field(ge=1)]] = Field(default_factory=dict)
    strong_attributes: list[StrongAttribute] = Field(default_factory=_default_strong)
    fuzzy: list[FuzzyRule] = Field(default_factory=list)
    scoring: Scoring = Field(default_factory=Scoring)
    max_block_size: Annotated[int, Field(ge=2)] = 200
    flag_component_records: Annotated[int, Field(ge=2)] = 50
    #: Split components over `flag_component_records` by dropping their weakest links.
    split_oversized: bool = True
    survivorship: Survivorship = Field(default_factory=Survivorship)

    @model_validator(mode="after")
    def _unique_names(self) -> MatchConfig:
        kinds = [r.kind for r in self.identifiers]
        if len(set(kinds)) != len(kinds):
            raise ValueError("an identifier kind is listed twice under 'identifiers'")
        names = [r.name for r in self.fuzzy]
        if len(set(names)) != len(names):
            raise ValueError("two fuzzy rules share a name")
        return self

    @property
    def personal_kinds(self) -> dict[str, int]:
        """The linking identifier kinds issued to one person (`IdentifierRule.personal`),
        with their `max_records`."""
        return {str(r.kind): r.max_records for r in self.identifiers if r.personal and r.link}

    def block_cap(self, rule: str) -> int:
        """The most records a block of fuzzy rule `rule` may hold and still be compared: the
        rule's own `max_block_size`, else the config's."""
        found = next((r for r in self.fuzzy if r.name == rule), None)
        if found is not None and found.max_block_size is not None:
            return found.max_block_size
        return self.max_block_size

    def identifier_rule(self, kind: str) -> IdentifierRule | None:
        return next((r for r in self.identifiers if r.kind == kind), None)

    def to_yaml(self) -> str:
        """The config as YAML, so a run's exact settings can be saved beside its results."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def load_match_config(path: Path | str | None = None) -> MatchConfig:
    """Load and validate a match config; `None` gives the shipped default.

    Raises:
        ConfigError: the file is missing, not YAML, or invalid (every problem listed).
    """
    where, data = read_config_mapping(path, package="idgraph.match", what="match config")
    try:
        return MatchConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(problems_message(validation_problems(exc)), path=where) from exc
