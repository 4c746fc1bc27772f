"""Compile a segment definition into one parameterised Cypher query.

The query reads the same graph schema on both engines::

    MATCH (c:Customer) WHERE <condition> RETURN c.id AS customer_id, ... ORDER BY customer_id

Every value becomes a parameter (`$p0`, `$p1`, ...). Property keys come from the definition but
have passed the allowlist pattern there, are checked against the store's `Customer` properties
here, and are back-quoted so that names such as `order` or `end` stay property keys.

Event counts are `COUNT { }` subqueries inside the condition. Sums and averages of an event
property have no subquery form both engines run, so each becomes one step of a chain before
the condition, which then reads the aggregate by name::

    MATCH (c:Customer)
    OPTIONAL MATCH (c)-[:HAS_RECORD]->(:Record)-[:PERFORMED]->(agg0:Event) WHERE <events>
    WITH c, sum(agg0.`total`) AS agg0_value, count(agg0.`total`) AS agg0_n
    WHERE <condition, with (agg0_n > 0 AND agg0_value >= $p3) in place of the aggregate>
    RETURN ...

Traits that are not stored but derived (virtual traits) compile to conditions on stored ones
and win over a stored property of the same name, so they are always computed at the segment's
as-of time: `age` becomes a comparison of the `birth_date` text (`YYYY-MM-DD`) with dates
computed from the as-of time, so the query needs no date functions and reads the same on both
engines. Dates in values (`2026-01-01`, `30d ago`, see `idgraph.segment.dates`) are resolved
here too: to ISO text for date traits, to epoch-ms day bounds for timestamp traits (`*_ts`).

An `account:` condition is a `COUNT { }` over the customer's accounts (`group` calls'
memberships): `COUNT { MATCH (c)-[:HAS_RECORD]->(:Record)-[:MEMBER_OF]->(a:Account) WHERE
a.plan = $p0 } > 0`; its property is checked against the store's `Account` properties.

A `segment:` condition compiles the referenced definition inline, with the same as-of time;
`resolve` finds it by name, and a reference back to a segment being compiled is a cycle.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from idgraph.errors import SegmentDefinitionError
from idgraph.segment.dates import DATE_GRAMMAR, DAY_MS, day_start_ms, parse_date, parse_duration
from idgraph.segment.definition import (
    TEXT_OPS,
    AccountCondition,
    AllCondition,
    AnyCondition,
    Condition,
    EventCondition,
    NotCondition,
    SegmentCondition,
    SegmentDefinition,
    TraitCondition,
    raise_problems,
)
from idgraph.store.dialect import Dialect

__all__ = [
    "ANY_TRAITS",
    "DATE_TRAITS",
    "DAY_MS",
    "RETURN_COLUMNS",
    "VIRTUAL_TRAITS",
    "CompiledQuery",
    "Resolver",
    "compile_segment",
]

#: Virtual traits and the stored property each one is computed from.
VIRTUAL_TRAITS: Mapping[str, str] = {"age": "birth_date"}
#: Text traits that hold ISO dates although the store reports them as text.
DATE_TRAITS = frozenset({"birth_date"})
#: Finds a saved segment definition by name (None if there is none).
Resolver = Callable[[str], SegmentDefinition | None]
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
_TEXT = {"contains": "CONTAINS", "starts_with": "STARTS WITH"}
_ORDERING_OPS = frozenset({"<", "<=", ">", ">=", "between"})
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MAX_AGE = 150
#: The trait type `ANY_TRAITS` reports: unknown, so values are not type-checked.
_ANY = "any"

Value = str | int | float | bool


class _AnyTraits(Mapping[str, str]):
    """Every name is a trait of unknown type: for compiling without a store at hand."""

    def __getitem__(self, key: str) -> str:
        return _ANY

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


#: Pass as `customer_properties` to accept any trait name without checking its type.
ANY_TRAITS: Mapping[str, str] = _AnyTraits()


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
    resolve: Resolver | None = None,
    among_ids: bool = False,
    account_properties: Mapping[str, str] | None = None,
) -> CompiledQuery:
    """Compile a definition into one query that returns its members.

    Args:
        defn: The validated definition.
        dialect: The engine the query will run on.
        as_of_ms: The instant the segment is evaluated at (epoch ms): event windows end here,
            relative dates count back from its UTC date, and ages are counted on that date.
            Events after it are ignored.
        customer_properties: `Customer` property names mapped to their trait type
            (`string`, `number`, `boolean` or `date`), as `GraphStore.customer_properties()`
            reports them; `ANY_TRAITS` accepts every name unchecked.
        resolve: Finds a saved segment by name, for `segment:` conditions. Without it, a
            definition that references another segment cannot be compiled.
        among_ids: Test only the customers whose ids are given as `$customer_ids` (how an
            ingest re-evaluates the customers it touched), not every customer.
        account_properties: `Account` property names mapped to their type, as
            `GraphStore.account_properties()` reports them, for `account:` conditions; None
            accepts every name unchecked (`ANY_TRAITS`).

    Returns:
        The query, named `segment:<name>`.

    Raises:
        SegmentDefinitionError: Listing every trait that is unknown or compared with a value of
            the wrong type, every unknown or cyclic segment reference, and every date that
            does not resolve, each with its location in the definition.

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
    compiler = _Compiler(
        dialect=dialect,
        as_of_ms=as_of_ms,
        properties=customer_properties,
        resolve=resolve,
        stack=[defn.name],
        accounts=ANY_TRAITS if account_properties is None else account_properties,
    )
    condition = compiler.condition(defn.where, "where")
    if compiler.problems:
        raise_problems(compiler.problems, defn.source or f"segment {defn.name!r}")
    start = (
        "UNWIND $customer_ids AS cid MATCH (c:Customer {id: cid})"
        if among_ids
        else "MATCH (c:Customer)"
    )
    if not compiler.steps:
        cypher = f"{start} WHERE {condition} {_RETURN}"
    else:
        cypher = f"{start} {' '.join(compiler.steps)} WHERE {condition} {_RETURN}"
    return CompiledQuery(name=f"segment:{defn.name}", cypher=cypher, params=compiler.params)


@dataclass(slots=True)
class _Compiler:
    dialect: Dialect
    as_of_ms: int
    properties: Mapping[str, str]
    resolve: Resolver | None
    #: Names of the segments being compiled, outermost first (for cycle detection).
    stack: list[str]
    #: `Account` properties and their types, for `account:` conditions.
    accounts: Mapping[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)
    #: Aggregate steps placed between `MATCH (c:Customer)` and the condition.
    steps: list[str] = field(default_factory=list)
    carried: list[str] = field(default_factory=list)

    def param(self, value: object) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"${name}"

    def problem(self, loc: str, message: str) -> str:
        self.problems.append((loc, message))
        return "false"

    def condition(self, cond: Condition, loc: str) -> str:
        if isinstance(cond, TraitCondition):
            return self.trait(cond, loc)
        if isinstance(cond, AccountCondition):
            return self.account(cond, loc)
        if isinstance(cond, EventCondition):
            return self.event(cond, loc)
        if isinstance(cond, SegmentCondition):
            return self.segment(cond, loc)
        if isinstance(cond, AllCondition):
            parts = [self.condition(c, f"{loc}.all[{i}]") for i, c in enumerate(cond.all)]
            return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"
        if isinstance(cond, AnyCondition):
            parts = [self.condition(c, f"{loc}.any[{i}]") for i, c in enumerate(cond.any)]
            return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"
        if isinstance(cond, NotCondition):
            return f"NOT ({self.condition(cond.not_, f'{loc}.not')})"
        raise TypeError(f"unhandled condition type {type(cond).__name__}")

    # -- segment references -------------------------------------------------------------------

    def segment(self, cond: SegmentCondition, loc: str) -> str:
        name, at = cond.segment, f"{loc}.segment"
        if self.resolve is None:
            return self.problem(
                at,
                f"segment {name!r} is referenced, which needs saved segments: compile with a "
                "resolver that finds saved segments by name",
            )
        if name in self.stack:
            cycle = " -> ".join([*self.stack[self.stack.index(name) :], name])
            return self.problem(at, f"segment cycle: {cycle}")
        try:
            referenced = self.resolve(name)
        except SegmentDefinitionError as exc:
            return self.problem(at, f"saved segment {name!r} is not valid: {exc}")
        if referenced is None:
            return self.problem(at, f"unknown segment {name!r}: no saved segment has that name")
        outer, self.problems = self.problems, []
        self.stack.append(name)
        try:
            inner = self.condition(referenced.where, "where")
        finally:
            self.stack.pop()
            found, self.problems = self.problems, outer
        where = referenced.source or f"segment {name!r}"
        for inner_loc, message in found:
            if message.startswith("segment cycle: "):
                self.problems.append((at, message))
            else:
                self.problems.append((at, f"in {where}, {inner_loc}: {message}"))
        return f"({inner})"

    # -- events -------------------------------------------------------------------------------

    def event(self, cond: EventCondition, loc: str) -> str:
        aggregate = cond.sum or cond.avg
        if aggregate is None:
            tests = self.event_tests(cond, "e", loc)
            op, count = cond.count_test
            return f"{self.dialect.count_events(tests)} {_COMPARE[op]} {self.param(count)}"
        step = f"agg{len(self.steps)}"
        value, matched = f"{step}_value", f"{step}_n"
        self.steps.append(
            self.dialect.aggregate_events(
                step,
                self.event_tests(cond, step, loc),
                carried=list(self.carried),
                function="sum" if cond.sum is not None else "avg",
                key=aggregate.property,
                alias=value,
                count_alias=matched,
            )
        )
        self.carried += [value, matched]
        compared = f"{value} {_COMPARE[aggregate.op]} {self.param(aggregate.value)}"
        return f"({matched} > 0 AND {compared})"

    def event_tests(self, cond: EventCondition, var: str, loc: str) -> str:
        names = cond.names
        if len(names) == 1:
            tests = [f"{var}.name = {self.param(names[0])}"]
        else:
            tests = [f"{var}.name IN {self.param(list(names))}"]
        if cond.within_days is not None:
            tests.append(f"{var}.ts >= {self.param(self.as_of_ms - cond.within_days * DAY_MS)}")
        if cond.within is not None:
            duration = parse_duration(cond.within)
            assert duration is not None  # the definition checked it
            try:
                start = duration.start_ms(self.as_of_ms)
            except (ValueError, OverflowError):
                self.problem(f"{loc}.within", f"{cond.within!r} reaches back before year 1")
            else:
                tests.append(f"{var}.ts >= {self.param(start)}")
        if cond.between is not None:
            days = self.days(cond.between, f"{loc}.between")
            if days is not None:
                first, last = days
                if first > last:
                    self.problem(
                        f"{loc}.between",
                        f"the start {cond.between[0]!r} ({first}) is after the end "
                        f"{cond.between[1]!r} ({last})",
                    )
                tests.append(f"{var}.ts >= {self.param(day_start_ms(first))}")
                tests.append(f"{var}.ts < {self.param(day_start_ms(last) + DAY_MS)}")
        tests.append(f"{var}.ts <= {self.param(self.as_of_ms)}")
        for key, test in sorted(cond.where.items()):
            ref = self.dialect.property_ref(var, key)
            if test.op == "in":
                tests.append(f"{ref} IN {self.param(list(_values(test.value)))}")
            elif test.op == "not_in":
                tests.append(f"NOT ({ref} IN {self.param(list(_values(test.value)))})")
            else:
                tests.append(f"{ref} {_COMPARE[test.op]} {self.param(test.value)}")
        return " AND ".join(tests)

    def days(self, values: tuple[Value, ...], loc: str) -> tuple[dt.date, ...] | None:
        """Resolve date values against the as-of day; None (and a problem) if one does not."""
        days = []
        for value in values:
            parsed = parse_date(value)
            try:
                day = parsed.resolve(self.as_of_ms) if parsed is not None else None
            except (ValueError, OverflowError):
                day = None
            if day is None:
                self.problem(loc, f"{value!r} is not a date that resolves: expected {DATE_GRAMMAR}")
                return None
            days.append(day)
        return tuple(days)

    # -- accounts -----------------------------------------------------------------------------

    def _not_text(self, op: str, loc: str, what: str, kind: str, of: str = "") -> str:
        holds = _EXPECTED[kind][0] if kind in _EXPECTED else kind
        return self.problem(loc, f"op {op!r} applies to text {of}only; {what} holds {holds}")

    def account(self, cond: AccountCondition, loc: str) -> str:
        name = cond.account
        kind = self.accounts.get(name)
        if kind is None:
            known = ", ".join(sorted(self.accounts)) or "(none: no group call stored yet)"
            return self.problem(
                f"{loc}.account", f"unknown account property {name!r}; known: {known}"
            )
        ref = self.dialect.property_ref("a", name)
        if cond.op in TEXT_OPS:
            if kind not in ("string", _ANY):
                return self._not_text(cond.op, f"{loc}.op", f"account property {name!r}", kind)
            test = f"{ref} {_TEXT[cond.op]} {self.param(cond.value)}"
        else:
            if kind == "boolean" and cond.op in _ORDERING_OPS:
                return self.problem(
                    f"{loc}.op", f"op {cond.op!r} does not apply to true/false property {name!r}"
                )
            expected = _EXPECTED.get(kind)
            if expected is not None:
                description, accepts = expected
                bad = [v for v in _values(cond.value) if not accepts(v)]
                if bad:
                    return self.problem(
                        f"{loc}.value",
                        f"account property {name!r} holds {description}, got {bad[0]!r}",
                    )
            test = self.compare(ref, cond.op, _values(cond.value))
        return f"{self.dialect.count_accounts(test)} > 0"

    # -- traits -------------------------------------------------------------------------------

    def trait(self, cond: TraitCondition, loc: str) -> str:
        name = cond.trait
        if name in VIRTUAL_TRAITS:
            base = VIRTUAL_TRAITS[name]
            if base in self.properties:
                return self.age(cond, loc)
            if name in self.properties:
                return self.problem(
                    f"{loc}.trait",
                    f"trait {name!r} is computed from {base!r} at the as-of time, and the store "
                    f"holds no {base!r}",
                )
        kind = self.properties.get(name)
        if kind is None or name in VIRTUAL_TRAITS:
            known = sorted(
                {n for n in self.properties if n not in VIRTUAL_TRAITS}
                | {n for n, base in VIRTUAL_TRAITS.items() if base in self.properties}
            )
            hint = difflib.get_close_matches(name, known, n=1)
            return self.problem(
                f"{loc}.trait",
                f"unknown trait {name!r}"
                + (f" (did you mean {hint[0]!r}?)" if hint else "")
                + f"; known traits: {', '.join(known) or '(none)'}",
            )
        ref = self.dialect.property_ref("c", name)
        if cond.op in TEXT_OPS:
            if kind not in ("string", _ANY):
                return self._not_text(cond.op, f"{loc}.op", f"trait {name!r}", kind, "traits ")
            return f"{ref} {_TEXT[cond.op]} {self.param(cond.value)}"
        if cond.op in ("exists", "missing"):
            return self.compare(ref, cond.op, ())
        values = _values(cond.value)
        if _is_timestamp(name, kind) and any(isinstance(v, str) for v in values):
            return self.timestamp(ref, cond, values, loc)
        if kind == "date" or (name in DATE_TRAITS and kind in ("string", _ANY)):
            return self.date_text(ref, cond, values, loc)
        self.check_type(cond, kind, loc)
        return self.compare(ref, cond.op, values)

    def compare(self, ref: str, op: str, values: tuple[Value, ...]) -> str:
        if op == "exists":
            return f"{ref} IS NOT NULL"
        if op == "missing":
            return f"{ref} IS NULL"
        if op == "in":
            return f"{ref} IN {self.param(list(values))}"
        if op == "not_in":
            return f"NOT ({ref} IN {self.param(list(values))})"
        if op == "between":
            low, high = values
            return f"({ref} >= {self.param(low)} AND {ref} <= {self.param(high)})"
        return f"{ref} {_COMPARE[op]} {self.param(values[0])}"

    def date_text(self, ref: str, cond: TraitCondition, values: tuple[Value, ...], loc: str) -> str:
        if not all(isinstance(v, str) for v in values):
            bad = next(v for v in values if not isinstance(v, str))
            return self.problem(
                f"{loc}.value",
                f"trait {cond.trait!r} holds dates: expected {DATE_GRAMMAR}, got {bad!r}",
            )
        days = self.days(values, f"{loc}.value")
        if days is None:
            return "false"
        if cond.op == "between" and days[0] > days[1]:
            return self.problem(
                f"{loc}.value", f"the low bound {days[0]} is after the high bound {days[1]}"
            )
        return self.compare(ref, cond.op, tuple(day.isoformat() for day in days))

    def timestamp(self, ref: str, cond: TraitCondition, values: tuple[Value, ...], loc: str) -> str:
        """Compare an epoch-ms trait with dates, by the UTC day the timestamp falls on."""
        if not all(isinstance(v, str) for v in values):
            return self.problem(
                f"{loc}.value",
                f"trait {cond.trait!r} holds timestamps: give every value as a date "
                f"({DATE_GRAMMAR}) or every value as epoch milliseconds",
            )
        days = self.days(values, f"{loc}.value")
        if days is None:
            return "false"
        starts = [day_start_ms(day) for day in days]

        def on(start: int) -> str:
            return f"({ref} >= {self.param(start)} AND {ref} < {self.param(start + DAY_MS)})"

        op, first = cond.op, starts[0]
        if op == "between":
            if days[0] > days[1]:
                return self.problem(
                    f"{loc}.value", f"the low bound {days[0]} is after the high bound {days[1]}"
                )
            return f"({ref} >= {self.param(first)} AND {ref} < {self.param(starts[1] + DAY_MS)})"
        if op in ("in", "not_in"):
            either = "(" + " OR ".join(on(start) for start in starts) + ")"
            return either if op == "in" else f"NOT {either}"
        if op == "=":
            return on(first)
        if op == "!=":
            return f"({ref} < {self.param(first)} OR {ref} >= {self.param(first + DAY_MS)})"
        bound = {"<": first, "<=": first + DAY_MS, ">": first + DAY_MS, ">=": first}[op]
        return f"{ref} {'<' if op in ('<', '<=') else '>='} {self.param(bound)}"

    def check_type(self, cond: TraitCondition, kind: str, loc: str) -> None:
        if kind == "boolean" and cond.op in _ORDERING_OPS:
            self.problem(
                f"{loc}.op", f"op {cond.op!r} does not apply to true/false trait {cond.trait!r}"
            )
            return
        expected = _EXPECTED.get(kind)
        if expected is None:
            return  # a type the store reports but idgraph does not know: let the engine judge
        description, accepts = expected
        for value in _values(cond.value):
            if not accepts(value):
                self.problem(
                    f"{loc}.value", f"trait {cond.trait!r} holds {description}, got {value!r}"
                )
                return

    def age(self, cond: TraitCondition, loc: str) -> str:
        birth = self.dialect.property_ref("c", VIRTUAL_TRAITS["age"])
        if cond.op == "exists":
            return f"{birth} IS NOT NULL"
        if cond.op == "missing":
            return f"{birth} IS NULL"
        if cond.op in TEXT_OPS:
            return self.problem(
                f"{loc}.op", f"op {cond.op!r} applies to text traits only; age is a number"
            )
        ages = [_whole_years(v) for v in _values(cond.value)]
        if any(a is None for a in ages):
            return self.problem(
                f"{loc}.value", f"age is counted in whole years from 0 to {_MAX_AGE}"
            )
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


def _is_timestamp(name: str, kind: str) -> bool:
    return name.endswith("_ts") and kind in ("number", _ANY)


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
