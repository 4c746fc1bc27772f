"""The traits config: which computed traits every customer gets, validated before any work.

Computed traits are configuration, not code: a YAML list of aggregations over a customer's
events (count, sum, ... within a window) plus the built-ins (age, RFM, lifecycle stage). Every
problem is reported at once, located like `traits[3].within_days`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from idgraph.config_file import problems_message, read_config_mapping
from idgraph.errors import ConfigError
from idgraph.store.schema import NODE_TABLES, ColumnType, check_property_name

TraitKind = Literal[
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "distinct_count",
    "first_seen",
    "last_seen",
    "most_frequent",
    "days_since_last",
]
#: Kinds that aggregate one event property, and the ones that must not name one.
PROPERTY_KINDS: frozenset[str] = frozenset(
    {"sum", "avg", "min", "max", "distinct_count", "most_frequent"}
)
#: Kinds whose value is an epoch-millisecond timestamp, so their name must end in `_ts`.
TIMESTAMP_KINDS: frozenset[str] = frozenset({"first_seen", "last_seen"})
#: Column type per kind; `most_frequent` is typed from the values it finds (None).
KIND_COLUMNS: dict[str, ColumnType | None] = {
    "count": "INT64",
    "sum": "DOUBLE",
    "avg": "DOUBLE",
    "min": "DOUBLE",
    "max": "DOUBLE",
    "distinct_count": "INT64",
    "first_seen": "INT64",
    "last_seen": "INT64",
    "most_frequent": None,
    "days_since_last": "INT64",
}
#: What each built-in writes, and the column types.
AGE_TRAITS: dict[str, ColumnType] = {"age": "INT64", "age_band": "STRING"}
RFM_TRAITS: dict[str, ColumnType] = {
    "rfm_recency": "INT64",
    "rfm_frequency": "INT64",
    "rfm_monetary": "INT64",
    "rfm_score": "STRING",
    # The measures scored, kept so an incremental ingest can score against every customer.
    "rfm_last_order_ts": "INT64",
    "rfm_orders": "INT64",
    "rfm_spent": "DOUBLE",
}
LIFECYCLE_TRAITS: dict[str, ColumnType] = {"lifecycle_stage": "STRING"}

Days = Annotated[int, Field(strict=True, ge=1, le=36_600)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _event_names(value: Any) -> Any:
    """`event: A` or `event: [A, B]` -> a tuple of stripped, non-empty names."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        return value
    names: list[Any] = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"event names are non-empty strings, got {item!r}")
        names.append(item.strip())
    if not names:
        raise ValueError("list at least one event name")
    return tuple(dict.fromkeys(names))


def _property_name(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise ValueError("an event property name cannot be empty")
    return value.strip() if isinstance(value, str) else value


class TraitSpec(_Strict):
    """One computed trait: an aggregation over the customer's events of some names.

    `event` omitted means every event. `within_days` keeps events at or after the as-of instant
    minus that many days; events after the as-of instant never count.
    """

    name: str
    kind: TraitKind
    event: tuple[str, ...] | None = None
    property: str | None = None
    within_days: Days | None = None

    @field_validator("name")
    @classmethod
    def _allowed_name(cls, value: str) -> str:
        try:
            check_property_name(value, what="trait")
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        if value in NODE_TABLES["Customer"]:
            raise ValueError(f"{value!r} is a built-in Customer column; choose another name")
        return value

    _events = field_validator("event", mode="before")(_event_names)
    _property = field_validator("property", mode="before")(_property_name)

    @model_validator(mode="after")
    def _fits_kind(self) -> TraitSpec:
        if self.kind in PROPERTY_KINDS and self.property is None:
            raise ValueError(f"kind {self.kind} needs `property`: the event property it reads")
        if self.kind not in PROPERTY_KINDS and self.property is not None:
            raise ValueError(
                f"kind {self.kind} reads no property; remove `property` "
                f"(property kinds: {', '.join(sorted(PROPERTY_KINDS))})"
            )
        if self.kind in TIMESTAMP_KINDS and not self.name.endswith("_ts"):
            raise ValueError(
                f"a {self.kind} trait holds epoch milliseconds, so its name must end in _ts "
                f"(e.g. {self.name}_ts)"
            )
        return self

    def column_type(self) -> ColumnType | None:
        """The Customer column type this trait needs; None: typed from the values found."""
        return KIND_COLUMNS[self.kind]


class RfmConfig(_Strict):
    """Recency, frequency and monetary quintile scores over customers who bought."""

    event: tuple[str, ...]
    monetary: str
    within_days: Days | None = None

    _events = field_validator("event", mode="before")(_event_names)
    _monetary = field_validator("monetary", mode="before")(_property_name)


class LifecycleConfig(_Strict):
    """Stage by first and last purchase: new, active, lapsing, lapsed, or prospect."""

    event: tuple[str, ...]
    new_days: Days = 30
    active_days: Days = 90
    lapsing_days: Days = 180

    _events = field_validator("event", mode="before")(_event_names)

    @model_validator(mode="after")
    def _ordered(self) -> LifecycleConfig:
        if not self.new_days <= self.active_days < self.lapsing_days:
            raise ValueError(
                "need new_days <= active_days < lapsing_days, got "
                f"{self.new_days}, {self.active_days}, {self.lapsing_days}"
            )
        return self


def _off_is_none(value: Any) -> Any:
    return None if value is False else value


class Builtins(_Strict):
    """Traits with a fixed definition (see docs/traits.md); each is off unless configured."""

    age: Annotated[bool, Field(strict=True)] = False
    rfm: RfmConfig | None = None
    lifecycle: LifecycleConfig | None = None

    _rfm_off = field_validator("rfm", mode="before")(_off_is_none)
    _lifecycle_off = field_validator("lifecycle", mode="before")(_off_is_none)

    def columns(self) -> dict[str, ColumnType]:
        """The traits the enabled built-ins write, with their column types."""
        columns: dict[str, ColumnType] = {}
        if self.age:
            columns.update(AGE_TRAITS)
        if self.rfm is not None:
            columns.update(RFM_TRAITS)
        if self.lifecycle is not None:
            columns.update(LIFECYCLE_TRAITS)
        return columns


class TraitsConfig(_Strict):
    """Every computed trait, stored on each Customer at every ingest.

    Examples:
        >>> config = TraitsConfig.model_validate(
        ...     {"traits": [{"name": "order_count", "kind": "count", "event": "Order Completed"}]}
        ... )
        >>> config.traits[0].event
        ('Order Completed',)
        >>> config.columns()
        {'order_count': 'INT64'}
    """

    traits: list[TraitSpec] = Field(default_factory=list)
    builtins: Builtins = Field(default_factory=Builtins)

    @model_validator(mode="after")
    def _unique_names(self) -> TraitsConfig:
        problems: list[str] = []
        first: dict[str, int] = {}
        builtin = self.builtins.columns()
        for index, spec in enumerate(self.traits):
            if spec.name in first:
                problems.append(
                    f"traits[{index}].name: {spec.name!r} is already the name of "
                    f"traits[{first[spec.name]}]"
                )
            elif spec.name in builtin:
                problems.append(
                    f"traits[{index}].name: {spec.name!r} is written by an enabled built-in; "
                    "choose another name"
                )
            first.setdefault(spec.name, index)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def columns(self) -> dict[str, ColumnType | None]:
        """Every trait name this config writes, with its column type (None: from the values)."""
        columns: dict[str, ColumnType | None] = {t.name: t.column_type() for t in self.traits}
        columns.update(self.builtins.columns())
        return columns

    def property_reads(self) -> dict[str, frozenset[str] | None]:
        """Per event property the traits read, the event names it is read on (None: any).

        Examples:
            >>> spent = {"name": "spent", "kind": "sum", "event": "Paid", "property": "total"}
            >>> seen = {"name": "seen", "kind": "count"}
            >>> TraitsConfig.model_validate({"traits": [spent, seen]}).property_reads()
            {'total': frozenset({'Paid'})}
        """
        reads: dict[str, set[str] | None] = {}

        def add(prop: str, events: tuple[str, ...] | None) -> None:
            if events is None or (prop in reads and reads[prop] is None):
                reads[prop] = None
            else:
                reads.setdefault(prop, set()).update(events)  # type: ignore[union-attr]

        for spec in self.traits:
            if spec.property is not None:
                add(spec.property, spec.event)
        if self.builtins.rfm is not None:
            add(self.builtins.rfm.monetary, self.builtins.rfm.event)
        return {prop: None if on is None else frozenset(on) for prop, on in reads.items()}

    def to_yaml(self) -> str:
        """The config as YAML, so a run's exact settings can be saved beside its results."""
        data = self.model_dump(mode="json", exclude_none=True)
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def load_traits_config(path: Path | str | None = None) -> TraitsConfig:
    """Load and validate a traits config; `None` gives the shipped default.

    Raises:
        ConfigError: the file is missing, not YAML, or invalid; every problem is listed with
            its location, e.g. `traits[3].within_days: Input should be greater than or equal
            to 1`.
    """
    where, data = read_config_mapping(path, package="idgraph.traits", what="traits config")
    return parse_traits_config(data, where=where)


def parse_traits_config(data: Any, *, where: str | None = None) -> TraitsConfig:
    """Validate an already-parsed config (a dict), naming `where` in errors.

    Raises:
        ConfigError: every problem, located like `traits[3].within_days`.
    """
    try:
        return TraitsConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(problems_message(_problems(exc)), path=where) from exc


def _problems(exc: ValidationError) -> list[str]:
    """One `location: message` line per problem; cross-trait problems carry their own location."""
    problems: list[str] = []
    for error in exc.errors():
        location = _location(error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if location:
            problems.append(f"{location}: {message}")
            continue
        for line in message.splitlines():
            problems.append(line if line.startswith("traits[") else f"(top level): {line}")
    return problems


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part != "[key]":
            text += f".{part}" if text else str(part)
    return text
