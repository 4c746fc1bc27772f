"""Segment definitions: the YAML a marketer writes, validated into typed conditions.

A definition names a segment and gives one condition tree under `where`::

    name: lapsed_high_spenders
    description: CRM customers worth 500+ who have not bought in the last 180 days
    where:
      all:
        - trait: lifetime_value
          op: ">="
          value: 500
        - not:
            event: Order Completed
            within_days: 180

A condition is told apart by its key:

- `trait: NAME, op: OP, value: V` compares a customer trait. OP is one of `=`, `!=`, `<`, `<=`,
  `>`, `>=`, `in`, `not_in` (or `not in`), `between` (`[low, high]`, inclusive), `exists`,
  `missing`, and for text `contains`, `starts_with` (or `starts with`). A trait holding a date
  (`birth_date`, ISO text) or a timestamp (an integer property named `*_ts`, epoch ms) takes
  dates as values: `YYYY-MM-DD`, `today`, `30d ago`, `12w ago`, `6mo ago`, `1y ago` (see
  `idgraph.segment.dates`); a timestamp is compared by its UTC day.
- `event: NAME` (or a list of names, any of them) counts the customer's events. The window is
  one of `within_days: N`, `within: 30d` / `12w` / `6mo` / `1y`, or `between: [start, end]`
  (dates as above, both days inclusive); events after the as-of instant never count. The
  measure is one of `min_count: N` (shorthand for `count: {op: ">=", value: N}`), `count:
  {op, value}` (`value: 0` with `=` finds customers without such events), or an aggregate of
  a numeric event property, `sum: {property, op, value}` / `avg: {...}`, which is false for a
  customer without a matching event that has the property. `where` filters events by
  property: a value means equality, a list means `in`, and `{op, value}` any of `=`, `!=`,
  `<`, `<=`, `>`, `>=`, `in`, `not_in`.
- `account: PROPERTY, op: OP, value: V` holds for customers who belong to at least one
  account (a `group` call's `groupId`: a company, household, team) whose property passes the
  test, with the ops of `trait` (`account: plan, op: "=", value: enterprise`); `id` is the
  groupId, other properties are the accounts' traits.
- `segment: NAME` holds for the members of another saved segment, evaluated live.
- `all: [...]`, `any: [...]`, `not: {...}` combine conditions.

Trait, account-property, event-property and segment names end up as names in Cypher, so they
are held to an allowlist pattern here; values always travel as query parameters. Every
problem in a file is reported at once, each with its location inside the definition (e.g.
`where.all[1].not.within_days`).
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, NoReturn, TypeAlias, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    PrivateAttr,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from idgraph.errors import SegmentDefinitionError
from idgraph.segment.dates import (
    DATE_GRAMMAR,
    DURATION_GRAMMAR,
    is_relative,
    parse_date,
    parse_duration,
)

__all__ = [
    "COMPARE_OPS",
    "FILTER_OPS",
    "TEXT_OPS",
    "TRAIT_OPS",
    "AccountCondition",
    "Aggregate",
    "AllCondition",
    "AnyCondition",
    "Condition",
    "CountTest",
    "EventCondition",
    "NotCondition",
    "PropertyFilter",
    "Scalar",
    "SegmentCondition",
    "SegmentDefinition",
    "TraitCondition",
    "TraitOp",
    "load_segment",
    "parse_segment",
]

SEGMENT_NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,62}")
PROPERTY_NAME_PATTERN = re.compile(r"[a-z_][a-z0-9_]{0,62}")

TraitOp: TypeAlias = Literal[
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "in",
    "not_in",
    "between",
    "exists",
    "missing",
    "contains",
    "starts_with",
]
TRAIT_OPS: tuple[TraitOp, ...] = get_args(TraitOp)
CompareOp: TypeAlias = Literal["=", "!=", "<", "<=", ">", ">="]
COMPARE_OPS: tuple[CompareOp, ...] = ("=", "!=", "<", "<=", ">", ">=")
FilterOp: TypeAlias = Literal["=", "!=", "<", "<=", ">", ">=", "in", "not_in"]
FILTER_OPS: tuple[FilterOp, ...] = (*COMPARE_OPS, "in", "not_in")
#: Ops that only apply to text.
TEXT_OPS = frozenset({"contains", "starts_with"})
#: Other spellings people write, read as the op they mean.
OP_ALIASES = {"not in": "not_in", "starts with": "starts_with"}
_NO_VALUE_OPS = frozenset({"exists", "missing"})
_LIST_OPS = frozenset({"in", "not_in"})


def _kind(value: object) -> str:
    """How a YAML value reads to the person who wrote it (for error messages)."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def _scalar(value: object) -> str | int | float | bool:
    if isinstance(value, dt.datetime):
        raise PydanticCustomError(
            "scalar", "expected a date or a number, text or true/false, got a date and time"
        )
    if isinstance(value, dt.date):
        return value.isoformat()  # an unquoted YAML date; birth_date is stored as ISO text
    if isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError(
            "scalar", "expected a finite number, got {value}", {"value": value}
        )
    if isinstance(value, str | int | float | bool):
        return value
    raise PydanticCustomError(
        "scalar", "expected a number, text or true/false, got {kind}", {"kind": _kind(value)}
    )


def _checked_name(value: object, pattern: re.Pattern[str], what: str, rule: str) -> str:
    code = what.replace(" ", "_")
    if not isinstance(value, str):
        raise PydanticCustomError(code, "expected a name, got {kind}", {"kind": _kind(value)})
    if not pattern.fullmatch(value):
        raise PydanticCustomError(
            code,
            "{value} is not a valid " + what + ": use lowercase letters, digits and "
            "underscores, starting with " + rule + ", at most 63 characters",
            {"value": repr(value)},
        )
    return value


def _property_name(value: object) -> str:
    return _checked_name(value, PROPERTY_NAME_PATTERN, "property name", "a letter or underscore")


def _segment_name(value: object) -> str:
    return _checked_name(value, SEGMENT_NAME_PATTERN, "segment name", "a letter")


#: A single value in a condition; unquoted YAML dates become ISO `YYYY-MM-DD` text.
Scalar: TypeAlias = Annotated[str | int | float | bool, PlainValidator(_scalar)]
#: A trait or event property name, checked because it becomes a Cypher property key.
PropertyName: TypeAlias = Annotated[str, PlainValidator(_property_name)]
SegmentName: TypeAlias = Annotated[str, PlainValidator(_segment_name)]
Count: TypeAlias = Annotated[int, Field(ge=1, strict=True)]
Days: TypeAlias = Annotated[int, Field(gt=0, strict=True)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    #: Names the model in a discriminated union and in error locations (never shown to users).
    tag: ClassVar[str]


class _Compares(_Model):
    """A property compared with a value: `op` takes its aliases, `value` must fit `op`."""

    tag: ClassVar[str] = "condition"

    @field_validator("op", mode="before", check_fields=False)
    @classmethod
    def _op_alias(cls, value: object) -> object:
        return _op_alias(value)

    @field_validator("value", mode="plain", check_fields=False)
    @classmethod
    def _value_fits_op(
        cls, value: object, info: ValidationInfo
    ) -> str | int | float | bool | tuple[str | int | float | bool, ...] | None:
        return _trait_value(value, info.data.get("op"))


class TraitCondition(_Compares):
    """Compare one customer trait with a value.

    `value` is absent for `exists`/`missing`, a non-empty list for `in`/`not_in`, a
    `[low, high]` pair (both inclusive) for `between`, and a single value otherwise.
    """

    tag: ClassVar[str] = "trait condition"

    trait: PropertyName
    op: TraitOp
    value: Scalar | tuple[Scalar, ...] | None = Field(default=None, validate_default=True)


class AccountCondition(_Compares):
    """The customer belongs to at least one account whose property passes the test.

    Accounts come from `group` calls; `id` is the account's groupId, the other properties are
    its traits. `op` and `value` are as for a trait condition.
    """

    tag: ClassVar[str] = "account condition"

    account: PropertyName
    op: TraitOp
    value: Scalar | tuple[Scalar, ...] | None = Field(default=None, validate_default=True)


def _trait_value(
    value: object, op: object
) -> str | int | float | bool | tuple[str | int | float | bool, ...] | None:
    """`value` checked against what `op` takes (nothing, a list, a pair, one value)."""
    if op is None:
        return None  # the op itself is wrong; that error is reported on its own
    if op in _NO_VALUE_OPS:
        if value is not None:
            raise PydanticCustomError(
                "value", "op {op} takes no value; remove it", {"op": repr(op)}
            )
        return None
    if value is None:
        raise PydanticCustomError("value", "op {op} needs a value", {"op": repr(op)})
    if op in _LIST_OPS:
        if not isinstance(value, list | tuple) or not value:
            raise PydanticCustomError(
                "value",
                "op {op} needs a non-empty list of values, got {kind}",
                {"op": repr(op), "kind": _kind(value)},
            )
        return tuple(_scalar(item) for item in value)
    if op == "between":
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise PydanticCustomError(
                "value",
                "op 'between' needs a list of two values [low, high], got {got}",
                {"got": _count(value) if isinstance(value, list | tuple) else _kind(value)},
            )
        low, high = _scalar(value[0]), _scalar(value[1])
        _check_bounds(low, high)
        return (low, high)
    if isinstance(value, list | tuple):
        raise PydanticCustomError(
            "value", "op {op} needs a single value, got a list", {"op": repr(op)}
        )
    if op in TEXT_OPS and not isinstance(value, str):
        raise PydanticCustomError(
            "value", "op {op} needs text, got {kind}", {"op": repr(op), "kind": _kind(value)}
        )
    return _scalar(value)


def _op_alias(value: object) -> object:
    if isinstance(value, str):
        return OP_ALIASES.get(" ".join(value.split()), value)
    return value


def _count(values: list[Any] | tuple[Any, ...]) -> str:
    return f"{len(values)} value" + ("" if len(values) == 1 else "s")


def _check_bounds(low: str | int | float | bool, high: str | int | float | bool) -> None:
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high))
    texts = isinstance(low, str) and isinstance(high, str)
    if not (numbers or texts):
        raise PydanticCustomError(
            "value",
            "the two bounds of 'between' must be both numbers or both text, got {a} and {b}",
            {"a": _kind(low), "b": _kind(high)},
        )
    if is_relative(low) or is_relative(high):
        return  # their order depends on the as-of day; compilation checks it
    if (
        (low > high)
        if isinstance(low, str) and isinstance(high, str)
        else (float(low) > float(high))
    ):
        raise PydanticCustomError(
            "value",
            "the low bound {low} is greater than the high bound {high}",
            {"low": repr(low), "high": repr(high)},
        )


def _date_text(value: object) -> str:
    parsed = parse_date(value)
    if parsed is None:
        raise PydanticCustomError(
            "value",
            "expected a date, {grammar}; got {got}",
            {"grammar": DATE_GRAMMAR, "got": repr(value)},
        )
    return parsed.absolute.isoformat() if parsed.absolute else " ".join(str(value).split())


def _duration_text(value: object) -> str:
    if parse_duration(value) is None:
        raise PydanticCustomError(
            "value",
            "expected {grammar}; got {got}",
            {"grammar": DURATION_GRAMMAR, "got": repr(value)},
        )
    return " ".join(str(value).split())


def _number(value: object) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("value", "expected a number, got {kind}", {"kind": _kind(value)})
    return _scalar(value)  # type: ignore[return-value]  # finite check; stays a number


def _event_names(value: object) -> str | tuple[str, ...]:
    names = value if isinstance(value, list | tuple) else [value]
    if not names:
        raise PydanticCustomError("value", "expected an event name or a non-empty list of names")
    for name in names:
        if not isinstance(name, str):
            raise PydanticCustomError(
                "value", "expected an event name (text), got {kind}", {"kind": _kind(name)}
            )
        if not name.strip():
            raise PydanticCustomError("value", "an event name cannot be empty")
        if len(name) > 200:
            raise PydanticCustomError("value", "an event name has at most 200 characters")
    return value if isinstance(value, str) else tuple(str(name) for name in names)


#: An event name, or several (any of them).
EventNames: TypeAlias = Annotated[str | tuple[str, ...], PlainValidator(_event_names)]
DateText: TypeAlias = Annotated[str, PlainValidator(_date_text)]
DurationText: TypeAlias = Annotated[str, PlainValidator(_duration_text)]
Number: TypeAlias = Annotated[int | float, PlainValidator(_number)]
CountValue: TypeAlias = Annotated[int, Field(ge=0, strict=True)]


class PropertyFilter(_Model):
    """One test on an event property; a bare value means `=`, a bare list means `in`."""

    tag: ClassVar[str] = "property filter"

    op: FilterOp
    value: Scalar | tuple[Scalar, ...]

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: object) -> object:
        if isinstance(data, Mapping):
            return {**data, "op": _op_alias(data["op"])} if "op" in data else data
        if isinstance(data, list | tuple):
            return {"op": "in", "value": data}
        return {"op": "=", "value": data}

    @field_validator("value", mode="plain")
    @classmethod
    def _value_fits_op(
        cls, value: object, info: ValidationInfo
    ) -> str | int | float | bool | tuple[str | int | float | bool, ...] | None:
        op = info.data.get("op")
        if op in _LIST_OPS:
            if not isinstance(value, list | tuple) or not value:
                raise PydanticCustomError(
                    "value",
                    "op {op} needs a non-empty list of values, got {kind}",
                    {"op": repr(op), "kind": _kind(value)},
                )
            return tuple(_scalar(item) for item in value)
        if isinstance(value, list | tuple):
            raise PydanticCustomError(
                "value", "op {op} needs a single value, got a list", {"op": repr(op)}
            )
        return _scalar(value)


class CountTest(_Model):
    """How many matching events a customer needs, e.g. `{op: "=", value: 0}` for none."""

    tag: ClassVar[str] = "count"

    op: CompareOp
    value: CountValue

    @field_validator("op", mode="before")
    @classmethod
    def _op_alias(cls, value: object) -> object:
        return _op_alias(value)


class Aggregate(_Model):
    """A sum or average of a numeric event property over the matching events, compared."""

    tag: ClassVar[str] = "aggregate"

    property: PropertyName
    op: CompareOp
    value: Number


_WINDOW_KEYS = ("within_days", "within", "between")
_MEASURE_KEYS = ("min_count", "count", "sum", "avg")


def _only_one(keys: tuple[str, ...], name: str, info: ValidationInfo) -> None:
    earlier = [key for key in keys[: keys.index(name)] if info.data.get(key) is not None]
    if earlier:
        raise PydanticCustomError(
            "value",
            "give only one of {keys}; {name} and {other} are both given",
            {"keys": ", ".join(keys), "name": name, "other": earlier[0]},
        )


class EventCondition(_Model):
    """The customer performed an event, counted or aggregated within a time window.

    The window is at most one of `within_days`, `within` and `between`; the measure at most one
    of `min_count`, `count`, `sum` and `avg` (none means at least one event). `where` keeps
    only events whose properties pass every filter.
    """

    tag: ClassVar[str] = "event condition"

    event: EventNames
    within_days: Days | None = None
    within: DurationText | None = None
    between: tuple[DateText, DateText] | None = None
    min_count: Count | None = None
    count: CountTest | None = None
    sum: Aggregate | None = None
    avg: Aggregate | None = None
    where: dict[PropertyName, PropertyFilter] = Field(default_factory=dict)

    @field_validator("within", "between")
    @classmethod
    def _one_window(cls, value: object, info: ValidationInfo) -> object:
        _only_one(_WINDOW_KEYS, str(info.field_name), info)
        return value

    @field_validator("count", "sum", "avg")
    @classmethod
    def _one_measure(cls, value: object, info: ValidationInfo) -> object:
        _only_one(_MEASURE_KEYS, str(info.field_name), info)
        return value

    @property
    def names(self) -> tuple[str, ...]:
        """The event names, one or several."""
        return (self.event,) if isinstance(self.event, str) else self.event

    @property
    def count_test(self) -> tuple[CompareOp, int]:
        """The count comparison this condition makes, `min_count` read as `>=`."""
        if self.count is not None:
            return self.count.op, self.count.value
        return ">=", self.min_count if self.min_count is not None else 1


class SegmentCondition(_Model):
    """The customer is a member of another saved segment (evaluated live, not materialised)."""

    tag: ClassVar[str] = "segment condition"

    segment: SegmentName


class AllCondition(_Model):
    """Every listed condition holds."""

    tag: ClassVar[str] = "all condition"

    all: Annotated[list[Condition], Field(min_length=1)]


class AnyCondition(_Model):
    """At least one listed condition holds."""

    tag: ClassVar[str] = "any condition"

    any: Annotated[list[Condition], Field(min_length=1)]


class NotCondition(_Model):
    """The condition does not hold."""

    tag: ClassVar[str] = "not condition"

    # `not` is a Python keyword: the attribute is `not_`, the YAML key `not`.
    not_: Condition = Field(validation_alias="not", serialization_alias="not")


_CONDITION_TYPES: tuple[type[_Model], ...] = (
    TraitCondition,
    AccountCondition,
    EventCondition,
    SegmentCondition,
    AllCondition,
    AnyCondition,
    NotCondition,
)
_TAG_BY_KEY = {
    "trait": "trait condition",
    "account": "account condition",
    "event": "event condition",
    "segment": "segment condition",
} | {key: f"{key} condition" for key in ("all", "any", "not")}


def _condition_tag(value: object) -> str | None:
    if isinstance(value, Mapping):
        return next((tag for key, tag in _TAG_BY_KEY.items() if key in value), None)
    if isinstance(value, _CONDITION_TYPES):
        return str(value.tag)
    return None


#: One node of a condition tree, told apart by its key (trait, account, event, segment, all,
#: any, not).
Condition: TypeAlias = Annotated[
    Annotated[TraitCondition, Tag(TraitCondition.tag)]
    | Annotated[AccountCondition, Tag(AccountCondition.tag)]
    | Annotated[EventCondition, Tag(EventCondition.tag)]
    | Annotated[SegmentCondition, Tag(SegmentCondition.tag)]
    | Annotated[AllCondition, Tag(AllCondition.tag)]
    | Annotated[AnyCondition, Tag(AnyCondition.tag)]
    | Annotated[NotCondition, Tag(NotCondition.tag)],
    Discriminator(
        _condition_tag,
        custom_error_type="condition",
        custom_error_message="expected a condition: a mapping with one of the keys "
        "trait, account, event, segment, all, any or not",
    ),
]


class SegmentDefinition(_Model):
    """A named segment: who belongs to it is decided by the `where` condition tree.

    Examples:
        >>> d = parse_segment(
        ...     {"name": "vip", "where": {"trait": "lifetime_value", "op": ">=", "value": 1000}},
        ...     source="inline",
        ... )
        >>> d.where
        TraitCondition(trait='lifetime_value', op='>=', value=1000)
    """

    tag: ClassVar[str] = "segment definition"

    name: SegmentName
    description: str = ""
    where: Condition

    _source: str | None = PrivateAttr(default=None)

    def __eq__(self, other: object) -> bool:
        """Definitions are equal when they say the same thing, wherever they were read from."""
        if not isinstance(other, SegmentDefinition):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # holds lists, like any mutable-content model

    @property
    def source(self) -> str | None:
        """The file (or other source) the definition was read from, for error messages."""
        return self._source


for _model in (AllCondition, AnyCondition, NotCondition, SegmentDefinition):
    _model.model_rebuild()

_SCHEMA_MODELS: tuple[type[_Model], ...] = (*_CONDITION_TYPES, SegmentDefinition)
#: Mappings nested in a condition under these keys, with their own keys (for unknown-key hints).
_NESTED_KEYS: dict[str, list[str]] = {
    key: list(model.model_fields)
    for key, model in (("count", CountTest), ("sum", Aggregate), ("avg", Aggregate))
}
_KEYS_BY_TAG: dict[str, list[str]] = {
    model.tag: [info.serialization_alias or name for name, info in model.model_fields.items()]
    for model in _SCHEMA_MODELS
}


def parse_segment(data: object, *, source: str) -> SegmentDefinition:
    """Validate an already-loaded definition (e.g. the body of a web request).

    Args:
        data: The parsed YAML or JSON document.
        source: Where it came from, named in error messages (a path, "request", ...).

    Returns:
        The validated definition.

    Raises:
        SegmentDefinitionError: Listing every problem, each with its location in the document.
    """
    if not isinstance(data, Mapping):
        raise SegmentDefinitionError(
            f"expected a mapping with the keys name, description and where, got {_kind(data)}",
            path=source,
        )
    try:
        definition = SegmentDefinition.model_validate(data)
    except ValidationError as exc:
        raise_problems([_describe(error) for error in exc.errors(include_url=False)], source)
    definition._source = source
    return definition


def raise_problems(problems: Sequence[tuple[str, str]], source: str) -> NoReturn:
    """Raise one error listing every (location, message) problem found in a definition."""
    if len(problems) == 1:
        location, message = problems[0]
        raise SegmentDefinitionError(message, path=source, location=location or None)
    listed = "\n".join(f"  - {loc or '(top level)'}: {message}" for loc, message in problems)
    raise SegmentDefinitionError(
        f"{len(problems)} problems in the segment definition:\n{listed}", path=source
    )


def load_segment(path: Path | str) -> SegmentDefinition:
    """Read and validate a segment definition from a YAML file.

    Args:
        path: The YAML file.

    Returns:
        The validated definition.

    Raises:
        SegmentDefinitionError: If the file cannot be read, is not valid YAML (the message names
            the line), is not a mapping, or breaks any rule of the definition.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SegmentDefinitionError(f"cannot read the file: {exc}", path=source) from exc
    try:
        data = yaml.load(text, Loader=_SegmentLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        where = f"line {line}: " if line else ""
        raise SegmentDefinitionError(
            f"{where}invalid YAML: {exc.problem or exc.context}", path=source
        ) from exc
    except yaml.YAMLError as exc:
        raise SegmentDefinitionError(f"invalid YAML: {exc}", path=source) from exc
    if not isinstance(data, Mapping):
        raise SegmentDefinitionError(
            "line 1: expected a mapping with the keys name, description and where, "
            f"got {_kind(data)}",
            path=source,
        )
    return parse_segment(data, source=source)


#: Error types whose message already quotes the offending input.
_OWN_ERRORS = frozenset({"scalar", "property_name", "segment_name", "value"})


def _describe(error: Mapping[str, Any]) -> tuple[str, str]:
    """Turn one pydantic error into (location inside the document, message)."""
    loc: tuple[str | int, ...] = error["loc"]
    kind = error["type"]
    parts = [part for part in loc if part not in _KEYS_BY_TAG]
    if kind == "extra_forbidden":
        key = str(parts.pop())
        tags = [i for i, part in enumerate(loc[:-1]) if part in _KEYS_BY_TAG]
        allowed = _KEYS_BY_TAG[str(loc[tags[-1]])] if tags else _KEYS_BY_TAG[SegmentDefinition.tag]
        inner = loc[tags[-1] + 1 : -1] if tags else ()
        if len(inner) == 1 and str(inner[0]) in _NESTED_KEYS:
            allowed = _NESTED_KEYS[str(inner[0])]
        elif len(inner) == 2 and inner[0] == "where":
            allowed = ["op", "value"]
        hint = difflib.get_close_matches(key, allowed, n=1)
        message = f"unknown key {key!r}; expected one of: {', '.join(allowed)}"
        if hint:
            message += f" (did you mean {hint[0]!r}?)"
        return _path(parts), message
    if kind == "missing":
        return _path(parts), "is required"
    if parts and parts[-1] == "[key]":
        del parts[-2:]
        return _path(parts), str(error["msg"])
    message = str(error["msg"])
    value = error.get("input")
    if kind not in _OWN_ERRORS and isinstance(value, str | int | float | bool):
        message += f" (got {value!r})"
    return _path(parts), message


def _path(parts: list[str | int]) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


class _SegmentLoader(yaml.SafeLoader):
    """Safe YAML that reads `op: =` as text and rejects a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str | int | float | bool) and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"the key {key!r} is given twice",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# PyYAML reads a bare `=` as the YAML 1.1 "value" tag, which the safe loader then rejects.
_SegmentLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:value"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
