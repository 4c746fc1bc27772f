"""The link config: how to clean, block, compare and decide, for records of any schema.

A `LinkConfig` is loaded from YAML, validated with every problem listed at once (file, location
inside it, what was expected), and compiled by `prepare`, `block` and `compare` into array code.
Short YAML forms (`exact`, `{jaro_winkler: 0.92}`, `surname:soundex`) are parsed here into
explicit models, which is also the form a saved model file holds.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from idgraph.config_file import problems_message, read_yaml_mapping, validation_problems
from idgraph.errors import ConfigError

__all__ = [
    "BlockPart",
    "CleanStep",
    "Comparison",
    "ConflictGuard",
    "FieldSpec",
    "Guards",
    "KeyTransform",
    "Level",
    "LevelKind",
    "LinkConfig",
    "Training",
    "load_link_config",
    "shipped_link_config",
]

CleanStep = Literal[
    "lower", "upper", "ascii", "strip", "collapse_spaces", "digits_only", "alnum_only",
    "letters_only",
]  # fmt: skip
KeyTransform = Literal["exact", "soundex", "metaphone", "first", "last", "year", "month_day"]
LevelKind = Literal[
    "exact", "else", "jaro_winkler", "jaro", "levenshtein", "damerau_levenshtein", "phonetic",
    "nickname", "date", "days_within", "numeric_within", "absolute_within", "swapped",
]  # fmt: skip
DateRule = Literal["one_digit_off", "day_month_swapped", "same_year", "same_year_month"]
PhoneticCode = Literal["soundex", "metaphone"]

_SIMILARITY = {"jaro_winkler", "jaro"}
_DISTANCE = {"levenshtein", "damerau_levenshtein"}
_TOLERANCE = {"numeric_within", "absolute_within", "days_within"}
_FLAGS = {"nickname", "swapped"}
_WITH_ARGUMENT = {"first", "last"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Strict):
    """How one column is cleaned before blocking and comparing; an empty result is a null."""

    clean: list[CleanStep] = Field(default_factory=list)
    null_values: list[str] = Field(default_factory=list)
    date_format: str = "%Y-%m-%d"


class BlockPart(_Strict):
    """One key of a blocking rule: a column and the transform applied to its cleaned value."""

    column: str
    transform: KeyTransform = "exact"
    n: Annotated[int, Field(ge=1, le=64)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _parse_short_form(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        column, _, rest = value.partition(":")
        if not column or not rest:
            return {"column": column or value}
        transform, _, argument = rest.partition(":")
        if transform in _WITH_ARGUMENT:
            if not argument.isdigit():
                raise ValueError(
                    f"{value!r}: '{transform}' needs a length, e.g. '{column}:first:3'"
                )
            return {"column": column, "transform": transform, "n": int(argument)}
        if argument:
            raise ValueError(f"{value!r}: '{transform}' takes no argument")
        if transform not in get_args(KeyTransform):
            raise ValueError(
                f"{value!r}: unknown key transform {transform!r}; expected one of "
                f"{', '.join(get_args(KeyTransform))} (first:N and last:N take a length)"
            )
        return {"column": column, "transform": transform}

    @model_validator(mode="after")
    def _length_when_needed(self) -> BlockPart:
        if (self.transform in _WITH_ARGUMENT) != (self.n is not None):
            raise ValueError(f"key transform {self.transform!r}: n is required for first/last only")
        return self

    @property
    def label(self) -> str:
        if self.transform == "exact":
            return self.column
        suffix = f":{self.n}" if self.n is not None else ""
        return f"{self.column}:{self.transform}{suffix}"


class Level(_Strict):
    """One comparison level. `value` is the threshold, distance, tolerance or rule of the kind."""

    kind: LevelKind
    value: bool | int | float | str | None = None

    @model_validator(mode="before")
    @classmethod
    def _parse_short_form(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"kind": value}
        if isinstance(value, dict) and "kind" not in value:
            if len(value) != 1:
                raise ValueError(
                    f"a level is one key and its value, e.g. {{jaro_winkler: 0.9}}; got {value!r}"
                )
            ((kind, argument),) = value.items()
            if kind not in get_args(LevelKind):
                raise ValueError(
                    f"unknown level {kind!r}; expected one of {', '.join(get_args(LevelKind))}"
                )
            return {"kind": kind, "value": argument}
        return value

    @property
    def number(self) -> float:
        """The numeric argument (threshold, distance, tolerance); 0.0 for other kinds."""
        value = self.value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        return 0.0

    @model_validator(mode="after")
    def _argument_fits_kind(self) -> Level:
        kind, value, number = self.kind, self.value, self.number
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if kind in ("exact", "else"):
            if value is not None:
                raise ValueError(f"level {kind!r} takes no value")
        elif kind in _SIMILARITY:
            if not numeric or not 0.0 < number <= 1.0:
                raise ValueError(f"level {kind!r} needs a similarity in (0, 1], got {value!r}")
        elif kind in _DISTANCE:
            if not numeric or number != int(number) or number < 1:
                raise ValueError(f"level {kind!r} needs an edit distance >= 1, got {value!r}")
        elif kind in _TOLERANCE:
            if not numeric or number < 0:
                raise ValueError(f"level {kind!r} needs a tolerance >= 0, got {value!r}")
        elif kind in _FLAGS:
            if value is not True:
                raise ValueError(f"level {kind!r} is written {{{kind}: true}}")
        elif kind == "phonetic" and value not in get_args(PhoneticCode):
            raise ValueError(f"level 'phonetic' needs soundex or metaphone, got {value!r}")
        elif kind == "date" and value not in get_args(DateRule):
            raise ValueError(
                f"level 'date' needs one of {', '.join(get_args(DateRule))}, got {value!r}"
            )
        return self

    @property
    def label(self) -> str:
        if self.value is None:
            return self.kind
        if self.kind in _SIMILARITY:
            return f"{self.kind}>={self.number:g}"
        if self.kind in _DISTANCE:
            return f"{self.kind}<={int(self.number)}"
        if self.kind in _TOLERANCE:
            return f"{self.kind}:{self.number:g}"
        if self.value is True:
            return self.kind
        return f"{self.kind}:{self.value}"


class Comparison(_Strict):
    """Levels for one column (or several joined by a space); the first level that holds wins.

    A pair whose value is missing on either side gets the implicit null level (weight 0). An
    `else` level is appended when the list does not end with one.
    """

    column: str | None = None
    columns: Annotated[list[str], Field(min_length=2)] | None = None
    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")] | None = None
    levels: Annotated[list[Level], Field(min_length=1)]
    term_frequency: bool = False

    @field_validator("levels", mode="after")
    @classmethod
    def _else_last(cls, levels: list[Level]) -> list[Level]:
        kinds = [level.kind for level in levels]
        if "else" in kinds[:-1]:
            raise ValueError("'else' must be the last level")
        return levels if kinds[-1] == "else" else [*levels, Level(kind="else")]

    @model_validator(mode="after")
    def _consistent(self) -> Comparison:
        if (self.column is None) == (self.columns is None):
            raise ValueError("give exactly one of 'column' or 'columns'")
        kinds = [level.kind for level in self.levels]
        if len(self.levels) < 2:
            raise ValueError("a comparison needs at least one level besides 'else'")
        labels = self.level_labels
        for label in sorted({x for x in labels if labels.count(x) > 1}):
            raise ValueError(f"level {label!r} is listed twice")
        if self.term_frequency and "exact" not in kinds:
            raise ValueError("term_frequency adjusts the 'exact' level, which is missing")
        if "swapped" in kinds and self.columns is None:
            raise ValueError("the 'swapped' level needs 'columns' (two or more)")
        return self

    @property
    def source_columns(self) -> list[str]:
        return list(self.columns) if self.columns is not None else [str(self.column)]

    @property
    def output_name(self) -> str:
        """The suffix of this comparison's `level_*` and `weight_*` columns."""
        return self.name or "_".join(self.source_columns)

    @property
    def level_labels(self) -> list[str]:
        return [level.label for level in self.levels]


class ConflictGuard(_Strict):
    """Both values present and the pair below the first `allow_levels` levels: never link directly.

    `allow_levels` counts from the top of that column's comparison (1 = only `exact` is not a
    conflict, 2 = the first fuzzy level is tolerated too). Without a comparison on the column, a
    conflict is any difference of the cleaned values.
    """

    column: str
    allow_levels: Annotated[int, Field(ge=1)] = 1

    @model_validator(mode="before")
    @classmethod
    def _parse_short_form(cls, value: Any) -> Any:
        return {"column": value} if isinstance(value, str) else value


class Guards(_Strict):
    conflicting: list[ConflictGuard] = Field(default_factory=list)
    max_cluster_size: Annotated[int, Field(ge=2)] = 50


class Training(_Strict):
    """Training knobs: random pairs for u, EM iterations, and an optional fixed prior λ."""

    u_pairs: Annotated[int, Field(ge=1000)] = 1_000_000
    max_iterations: Annotated[int, Field(ge=1)] = 50
    tolerance: Annotated[float, Field(gt=0.0)] = 1e-4
    prior: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    floor: Annotated[float, Field(gt=0.0, lt=0.01)] = 1e-6


class LinkConfig(_Strict):
    """Everything that decides which records are one entity, for a table of any schema."""

    unique_id: str
    fields: dict[str, FieldSpec] = Field(default_factory=dict)
    blocking: Annotated[list[Annotated[list[BlockPart], Field(min_length=1)]], Field(min_length=1)]
    max_block_size: Annotated[int, Field(ge=2)] = 500
    comparisons: Annotated[list[Comparison], Field(min_length=1)]
    deterministic: list[str] = Field(default_factory=list)
    threshold: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.9
    guards: Guards = Field(default_factory=Guards)
    training: Training = Field(default_factory=Training)

    @field_validator("fields", mode="before")
    @classmethod
    def _none_is_default(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: {} if v is None else v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _coherent(self) -> LinkConfig:
        problems = []
        names = [c.output_name for c in self.comparisons]
        for name in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"two comparisons are named {name!r}; give one a 'name'")
        rules = ["[" + ", ".join(p.label for p in rule) + "]" for rule in self.blocking]
        for rule in sorted({r for r in rules if rules.count(r) > 1}):
            problems.append(f"blocking rule {rule} is listed twice")
        single_rules = {
            r[0].column for r in self.blocking if len(r) == 1 and r[0].transform == "exact"
        }
        for column in self.deterministic:
            if column not in single_rules:
                problems.append(
                    f"deterministic column {column!r} needs its own blocking rule [{column}]"
                )
        if self.unique_id in self.referenced_columns() - {self.unique_id}:
            problems.append(f"unique_id {self.unique_id!r} cannot be blocked on or compared")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def referenced_columns(self) -> set[str]:
        """Every input column the config reads (the id included)."""
        used = {self.unique_id, *self.fields, *self.deterministic}
        used |= {part.column for rule in self.blocking for part in rule}
        used |= {col for c in self.comparisons for col in c.source_columns}
        used |= {g.column for g in self.guards.conflicting}
        return used

    def field(self, column: str) -> FieldSpec:
        return self.fields.get(column, FieldSpec())

    def to_yaml(self) -> str:
        """The config as YAML (explicit forms), for saving beside a run's results."""
        data = self.model_dump(mode="json", exclude_none=True)
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _validate(data: dict[str, Any], where: str) -> LinkConfig:
    try:
        return LinkConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(problems_message(validation_problems(exc)), path=where) from exc


def load_link_config(path: Path | str) -> LinkConfig:
    """Load and validate a link config from a YAML (or JSON) file.

    Raises:
        ConfigError: the file is missing, not YAML, or invalid; every problem is listed with its
            location, e.g. `comparisons.0.levels.1: unknown level 'jw'; expected one of ...`.
    """
    return _validate(read_yaml_mapping(path, what="link config"), str(path))


def shipped_link_config(name: str) -> LinkConfig:
    """A config shipped in `idgraph/link/configs/`, e.g. `shipped_link_config("people")`."""
    where = f"shipped link config {name!r}"
    try:
        text = resources.files("idgraph.link.configs").joinpath(f"{name}.yaml").read_text("utf-8")
    except FileNotFoundError as exc:
        raise ConfigError("no such shipped link config", path=where) from exc
    return _validate(read_yaml_mapping(where, what="link config", text=text), where)
