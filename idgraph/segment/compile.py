"""Compile a segment definition into one parameterised Cypher query.

The query reads the same graph schema on both engines::

    MATCH (c:Customer) WHERE <condition> RETURN c.id AS customer_id, ... ORDER BY customer_id

Every value becomes a parameter (`$p0`, `$p1`, ...). Property keys come from the definition but
have passed the allowlist pattern there, are checked against the store's `Customer` properties
here, and are back-quoted so that names such as `order` or `end` stay property keys.

Traits that are not stored but derived (virtual traits) compile to conditions on stored ones:
`age` becomes a comparison of the `birth_date` text (`YYYY-MM-DD`) with dates computed from the
as-of time, so the query needs no date functions and reads the same on both engines.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from idgraph.segment.definition import (
    AllCondition,
    AnyCondition,
    Condition,
    EventCondition,
    NotCondition,
    SegmentDefinition,
    TraitCondition,
    raise_problems,
)
from idgraph.store.dialect import Dialect

__all__ = ["DAY_MS", "RETURN_COLUMNS", "VIRTUAL_TRAITS", "CompiledQuery", "compile_segment"]

DAY_MS = 86_400_000
#: Virtual traits and the stored property each one is computed from.
VIRTUAL_TRAITS: Mapping[str, str] = {"age": "birth_date"}
#: The columns every compiled segment returns, in order.
RETURN_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "email",
    "first_name",
    "last_name",
    "country",
    "record_count",
)
_RETURN = (
    "RETURN c.id AS customer_id, c.email AS email, c.first_name AS first_name, "
    "c.last_name AS last_name, c.country AS country, c.record_count AS record_count "
    "ORDER BY customer_id"
)
_COMPARE = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_ORDERING_OPS = frozenset({"<", "<=", ">", ">=", "between"})
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MAX_AGE = 150

Value = str | int | float | bool


@dataclass(frozen=True, slots=True)
class CompiledQuery:
    """One named Cypher statement and the parameters it needs.

    `name` is what the store logs and names in errors; `params` holds every value of the
    definition, so `cypher` never contains user data.
    """

    name: str
    cypher: str
    params: dict[str, Any]


def compile_segment(
    defn: SegmentDefinition,
    *,
    dialect: Dialect,
    as_of_ms: int,
    customer_properties: Mapping[str, str],
) -> CompiledQuery:
    """Compile a definition into one query that returns its members.

    Args:
        defn: The validated definition.
        dialect: The engine the query will run on.
        as_of_ms: The instant the segment is evaluated at (epoch ms): event windows end here,
            and ages are counted on its UTC date. Events after it are ignored.
        customer_properties: `Customer` property names mapped to their trait type
            (`string`, `number`, `boolean` or `date`), as `GraphStore.customer_properties()`
            reports them.

    Returns:
        The query, named `segment:<name>`.

    Raises:
        SegmentDefinitionError: Listing every trait that is unknown or compared with a value of
            the wrong type, each with its location in the definition.

    Examples:
        >>> from idgraph.segment.definition import parse_segment
        >>> from idgraph.store.dialect import NEO4J
        >>> defn = parse_segment(
        ...     {"name": "fr", "where": {"trait": "country", "op": "=", "value": "FR"}}, source="-"
        ... )
        >>> q = compile_segment(
        ...     defn, dialect=NEO4J, as_of_ms=0, customer_properties={"country": "string"}
        ... )
        >>> q.cypher.split(" RETURN ")[0]
        'MATCH (c:Customer) WHERE c.`country` = $p0'
        >>> q.params
        {'p0': 'FR'}
    """
    if isinstance(as_of_ms, bool) or not isinstance(as_of_ms, int) or as_of_ms < 0:
        raise ValueError(f"as_of_ms must be a non-negative epoch-millisecond integer: {as_of_ms!r}")
    compiler = _Compiler(dialect=dialect, as_of_ms=as_of_ms, properties=customer_properties)
    condition = compiler.condition(defn.where, "where")
    if compiler.problems:
        raise_problems(compiler.problems, defn.source or f"segment {defn.name!r}")
    cypher = f"MATCH (c:Customer) WHERE {condition} {_RETURN}"
    return CompiledQuery(name=f"segment:{defn.name}", cypher=cypher, params=compiler.params)


@dataclass(slots=True)
class _Compiler:
    dialect: Dialect
    as_of_ms: int
    properties: Mapping[str, str]
    params: dict[str, Any] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)

    def param(self, value: object) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"${name}"

    def condition(self, cond: Condition, loc: str) -> str:
        if isinstance(cond, TraitCondition):
            return self.trait(cond, loc)
        if isinstance(cond, EventCondition):
            return self.event(cond, loc)
        if isinstance(cond, AllCondition):
            parts = [self.condition(c, f"{loc}.all[{i}]") for i, c in enumerate(cond.all)]
            return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"
        if isinstance(cond, AnyCondition):
            parts = [self.condition(c, f"{loc}.any[{i}]") for i, c in enumerate(cond.any)]
            return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"
        if isinstance(cond, NotCondition):
            return f"NOT ({self.condition(cond.not_, f'{loc}.not')})"
        raise TypeError(f"unhandled condition type {type(cond).__name__}")

    def event(self, cond: EventCondition, loc: str) -> str:
        del loc  # event names and property names need no lookup: events are open-ended
        tests = [f"e.name = {self.param(cond.event)}"]
        if cond.within_days is not None:
            tests.append(f"e.ts >= {self.param(self.as_of_ms - cond.within_days * DAY_MS)}")
        tests.append(f"e.ts <= {self.param(self.as_of_ms)}")
        tests += [
            f"{self.dialect.property_ref('e', key)} = {self.param(value)}"
            for key, value in sorted(cond.where.items())
        ]
        return f"{self.dialect.count_events(' AND '.join(tests))} >= {self.param(cond.min_count)}"

    def trait(self, cond: TraitCondition, loc: str) -> str:
        kind = self.properties.get(cond.trait)
        if kind is None and VIRTUAL_TRAITS.get(cond.trait) in self.properties:
            return self.age(cond, loc)
        if kind is None:
            known = sorted(
                {*self.properties}
                | {name for name, base in VIRTUAL_TRAITS.items() if base in self.properties}
            )
            self.problems.append(
                (
                    f"{loc}.trait",
                    f"unknown trait {cond.trait!r}; known traits: {', '.join(known) or '(none)'}",
                )
            )
            return "false"
        self.check_type(cond, kind, loc)
        ref = self.dialect.property_ref("c", cond.trait)
        return self.compare(ref, cond)

    def compare(self, ref: str, cond: TraitCondition) -> str:
        op, value = cond.op, cond.value
        if op == "exists":
            return f"{ref} IS NOT NULL"
        if op == "missing":
            return f"{ref} IS NULL"
        if op == "in":
            return f"{ref} IN {self.param(list(_values(value)))}"
        if op == "not_in":
            return f"NOT ({ref} IN {self.param(list(_values(value)))})"
        if op == "between":
            low, high = _values(value)
            return f"({ref} >= {self.param(low)} AND {ref} <= {self.param(high)})"
        return f"{ref} {_COMPARE[op]} {self.param(value)}"

    def check_type(self, cond: TraitCondition, kind: str, loc: str) -> None:
        if kind == "boolean" and cond.op in _ORDERING_OPS:
            self.problems.append(
                (f"{loc}.op", f"op {cond.op!r} does not apply to true/false trait {cond.trait!r}")
            )
            return
        expected = _EXPECTED.get(kind)
        if expected is None:
            return  # a type the store reports but idgraph does not know: let the engine judge
        description, accepts = expected
        for value in _values(cond.value):
            if not accepts(value):
                self.problems.append(
                    (
                        f"{loc}.value",
                        f"trait {cond.trait!r} holds {description}, got {value!r}",
                    )
                )
                return

    def age(self, cond: TraitCondition, loc: str) -> str:
        birth = self.dialect.property_ref("c", VIRTUAL_TRAITS["age"])
        if cond.op == "exists":
            return f"{birth} IS NOT NULL"
        if cond.op == "missing":
            return f"{birth} IS NULL"
        ages = [_whole_years(v) for v in _values(cond.value)]
        if any(a is None for a in ages):
            self.problems.append(
                (f"{loc}.value", f"age is counted in whole years from 0 to {_MAX_AGE}")
            )
            return "false"
        years = [a for a in ages if a is not None]
        today = dt.datetime.fromtimestamp(self.as_of_ms / 1000, tz=dt.UTC).date()

        def born_by(n: int) -> str:
            """`age >= n`: born on or before the as-of date `n` years earlier."""
            return f"{birth} <= {self.param(_years_before(today, n).isoformat())}"

        def born_after(n: int) -> str:
            """`age < n`."""
            return f"{birth} > {self.param(_years_before(today, n).isoformat())}"

        def exactly(n: int) -> str:
            return f"({born_by(n)} AND {born_after(n + 1)})"

        op, first = cond.op, years[0]
        if op == ">=":
            return born_by(first)
        if op == ">":
            return born_by(first + 1)
        if op == "<=":
            return born_after(first + 1)
        if op == "<":
            return born_after(first)
        if op == "=":
            return exactly(first)
        if op == "!=":
            return f"({born_after(first)} OR {born_by(first + 1)})"
        if op == "between":
            return f"({born_by(years[0])} AND {born_after(years[1] + 1)})"
        either = "(" + " OR ".join(exactly(n) for n in years) + ")"
        return either if op == "in" else f"NOT {either}"


def _values(value: object) -> tuple[Value, ...]:
    if value is None:
        return ()
    if isinstance(value, tuple):
        return value
    if isinstance(value, str | int | float | bool):
        return (value,)
    raise TypeError(f"unexpected condition value {value!r}")


def _is_number(value: Value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_date(value: Value) -> bool:
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


_EXPECTED: dict[str, tuple[str, Callable[[Value], bool]]] = {
    "number": ("numbers", _is_number),
    "string": ("text", lambda v: isinstance(v, str)),
    "boolean": ("true/false", lambda v: isinstance(v, bool)),
    "date": ("dates (YYYY-MM-DD)", _is_date),
}


def _whole_years(value: Value) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    years = int(value)
    return years if 0 <= years <= _MAX_AGE else None


def _years_before(day: dt.date, years: int) -> dt.date:
    """The same calendar day `years` earlier; 29 February falls back to the 28th."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)
