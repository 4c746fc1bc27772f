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

#: Fields a fuzzy rule can block on or compare. `full_name` and `email_local` are derived.
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
]
NAME_FIELDS: frozenset[str] = frozenset({"full_name", "first_name", "last_name"})
StrongAttribute = Literal["birth_date", "postcode", "country"]
KeyTransform = Literal["exact", "phonetic", "prefix3", "initial", "year"]
_BLOCK_PART = re.compile(r"^(?P<field>[a-z_]+)(?::(?P<transform>[a-z0-9]+))?$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IdentifierRule(_Strict):
    """A deterministic key and how many records may share one value before it stops linking."""

    kind: IdentifierKind
    link: bool = True
    max_records: Annotated[int, Field(ge=2)] = 8


class Comparison(_Strict):
    """One field compared between two records; passes when similarity >= threshold."""

    field: MatchField
    method: Literal["exact", "jaro_winkler", "levenshtein", "phonetic"] = "exact"
    threshold: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0


class BlockPart(_Strict):
    field: MatchField
    transform: KeyTransform = "exact"


class ProbabilisticMatching(_Strict):
    """Fellegi-Sunter evidence from `idgraph.link` (docs/linking.md), beside the fuzzy rules.

    Pairs whose match probability reaches the threshold become `probabilistic` links, applied
    after identifiers and fuzzy rules under the same guards and identity limits.
    """

    #: A shipped link config name (`customers`) or the path of one over the record fields.
    config: str = "customers"
    #: A model saved by `idgraph model train`; without one, each ingest trains on the records.
    model: str | None = None
    threshold: Annotated[float, Field(gt=0, lt=1)] | None = None
    #: Fewer records than this and no saved model: too little data to train on, so no links.
    min_records: Annotated[int, Field(ge=2)] = 100


class FuzzyRule(_Strict):
    """Pairs sharing every `block_on` key part link when all `compare` comparisons pass."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
    block_on: Annotated[list[BlockPart], Field(min_length=1)]
    compare: Annotated[list[Comparison], Field(min_length=2)]

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
        if all(c.field in NAME_FIELDS for c in self.compare):
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
    probabilistic: ProbabilisticMatching | None = None
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
