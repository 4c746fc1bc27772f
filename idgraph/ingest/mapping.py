"""Per-source mapping configs: which column holds what, read from YAML.

A CSV export is only meaningful with its mapping (which column is the id, the email, the traits);
an event stream needs one only to rename its source or change how its phones and dates read.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, TypeAlias

import phonenumbers
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from idgraph.config_file import read_yaml_mapping, validation_problems
from idgraph.errors import ConfigError
from idgraph.normalize.record import NormalizeOptions
from idgraph.types import IdentifierKind, TraitType

#: Names that become graph property names: checked here, before any Cypher sees them.
PROPERTY_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
SOURCE_NAME_PATTERN = r"^[a-z][a-z0-9_]*$"

PropertyName: TypeAlias = Annotated[str, StringConstraints(pattern=PROPERTY_NAME_PATTERN)]
ColumnName: TypeAlias = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]

#: What a mapped column can feed: a golden field, an extra identifier, or the row's recency.
MappedField: TypeAlias = Literal[
    "email",
    "phone",
    "first_name",
    "last_name",
    "full_name",
    "birth_date",
    "street",
    "city",
    "postcode",
    "country",
    "customer_id",
    "user_id",
    "anonymous_id",
    "device_id",
    "updated_at",
]
#: Mapped fields that are identifiers rather than golden fields.
IDENTIFIER_COLUMNS: dict[str, IdentifierKind] = {
    "customer_id": "customer_id",
    "user_id": "user_id",
    "anonymous_id": "anonymous_id",
    "device_id": "device_id",
}
#: Keys an event-stream sidecar may set; the rest only make sense for tables.
STREAM_KEYS = frozenset({"source", "default_region", "date_order"})


class TypedColumn(BaseModel):
    """A column read as a trait or event property of a declared type.

    A bare column name is accepted as shorthand for a string column.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: ColumnName
    type: TraitType = "string"

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"column": value} if isinstance(value, str) else value


class EventMapping(BaseModel):
    """Every row of the table is also an event (e.g. a POS transaction)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    timestamp: ColumnName
    id: ColumnName | None = None
    properties: dict[PropertyName, TypedColumn] = Field(default_factory=dict)


class SourceMapping(BaseModel):
    """How one input file maps onto records (see `load_mapping` for the YAML form).

    Examples:
        >>> m = SourceMapping(source="crm", id="no", columns={"email": "mail"})
        >>> m.columns["email"], m.delimiter
        ('mail', ',')
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: Annotated[str, StringConstraints(pattern=SOURCE_NAME_PATTERN)] | None = None
    id: ColumnName | None = None
    columns: dict[MappedField, ColumnName] = Field(default_factory=dict)
    traits: dict[PropertyName, TypedColumn] = Field(default_factory=dict)
    event: EventMapping | None = None
    default_region: str | None = None
    date_order: Literal["DMY", "MDY"] | None = None
    delimiter: str = ","

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.strip().upper()
        if code not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError("expected an ISO 3166 alpha-2 region code such as US, GB, IT or DE")
        return code

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str) -> str:
        if len(value) != 1 or value in '\r\n"':
            raise ValueError("must be one character, not a quote or line break")
        return value

    def source_name(self, path: Path) -> str:
        """The source name: the mapping's `source`, else one derived from the file name."""
        return self.source or default_source_name(path)

    def options(self, base: NormalizeOptions) -> NormalizeOptions:
        """The run's normalization options with this source's overrides applied."""
        update: dict[str, Any] = {}
        if self.default_region is not None:
            update["default_region"] = self.default_region
        if self.date_order is not None:
            update["date_order"] = self.date_order
        return base.model_copy(update=update) if update else base

    def required_columns(self) -> dict[str, str]:
        """Every column the table must have, mapped to what it feeds (for error messages)."""
        needed: dict[str, str] = {}
        if self.id is not None:
            needed[self.id] = "id"
        for field_name, column in self.columns.items():
            needed.setdefault(column, field_name)
        for trait, spec in self.traits.items():
            needed.setdefault(spec.column, f"trait {trait}")
        if self.event is not None:
            needed.setdefault(self.event.timestamp, "event timestamp")
            if self.event.id is not None:
                needed.setdefault(self.event.id, "event id")
            for prop, spec in self.event.properties.items():
                needed.setdefault(spec.column, f"event property {prop}")
        return needed


def default_source_name(path: Path) -> str:
    """A source name from a file name: `Web Events-2024.jsonl` -> `web_events_2024`.

    Examples:
        >>> default_source_name(Path("in/Web Events-2024.jsonl"))
        'web_events_2024'
        >>> default_source_name(Path("2024.csv"))
        's_2024'
    """
    name = re.sub(r"[^a-z0-9_]", "_", path.stem.lower())
    return name if re.match(r"[a-z]", name) else f"s_{name}"


def sidecar_path(path: Path) -> Path:
    """Where the mapping of `X.csv` or `X.jsonl` sits by default: `X.mapping.yaml` beside it."""
    return path.with_name(f"{path.stem}.mapping.yaml")


def load_mapping(path: Path | str, *, stream: bool = False) -> SourceMapping:
    """Read and validate a source mapping YAML file.

    Args:
        path: the YAML file.
        stream: the mapping is for an event stream, where only `source`, `default_region`
            and `date_order` apply.

    Returns:
        The validated mapping.

    Raises:
        ConfigError: the file cannot be read or parsed, or is invalid; the message has one
            `path: field: message` line per problem, all of them at once.
    """
    path = Path(path)
    data = read_yaml_mapping(path, what="mapping")
    problems: list[str] = []
    if stream:
        problems += [
            f"{path}: {key}: not used for event streams (allowed: {', '.join(sorted(STREAM_KEYS))})"
            for key in data
            if key not in STREAM_KEYS
        ]
    try:
        mapping = SourceMapping.model_validate(data)
    except ValidationError as exc:
        problems += [f"{path}: {problem}" for problem in validation_problems(exc)]
        mapping = None
    if problems or mapping is None:
        raise ConfigError(
            f"invalid source mapping ({len(problems)} problem{'s' * (len(problems) > 1)}):\n"
            + "\n".join(problems),
            path=path,
        )
    return mapping
