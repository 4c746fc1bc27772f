"""Reading the page's forms: urlencoded bodies, and the segment builder's rows.

The builder turns its rows into the same definition a YAML file holds (`segment.definition`),
so the same validation names the field at fault (`where.all[1].value`); the page maps that
location back to the row (`condition 2`). A YAML box takes a whole definition instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import yaml

#: Largest form body read (the builder's biggest definitions are a few KB).
MAX_FORM_BYTES = 64 * 1024
#: Condition rows the builder shows (blank ones are ignored).
ROWS = 6

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")
_LOCATION = re.compile(r"where\.(?:all|any)\[(\d+)\]")


def parse_form(body: bytes) -> dict[str, list[str]]:
    """An urlencoded body as lists of values (a body too big or not UTF-8 reads as empty)."""
    if len(body) > MAX_FORM_BYTES:
        return {}
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return {}
    return parse_qs(text, keep_blank_values=True, max_num_fields=500)


def first(form: dict[str, list[str]], name: str) -> str:
    values = form.get(name)
    return values[0].strip() if values else ""


@dataclass(slots=True)
class ConditionRow:
    """One builder row: a trait test or an event count."""

    kind: str = ""
    name: str = ""
    op: str = ""
    value: str = ""
    window: str = ""

    @property
    def blank(self) -> bool:
        return not self.kind or not self.name


@dataclass(slots=True)
class BuilderForm:
    """What the builder's form holds, to validate and to show again."""

    name: str = ""
    description: str = ""
    combine: str = "all"
    rows: list[ConditionRow] = field(default_factory=list)
    yaml_text: str = ""

    @classmethod
    def read(cls, form: dict[str, list[str]]) -> BuilderForm:
        columns = [form.get(n, []) for n in ("kind", "cname", "op", "value", "window")]
        count = max((len(c) for c in columns), default=0)
        rows = [
            ConditionRow(*(c[i].strip() if i < len(c) else "" for c in columns))
            for i in range(count)
        ]
        return cls(
            name=first(form, "name"),
            description=first(form, "description"),
            combine="any" if first(form, "combine") == "any" else "all",
            rows=rows,
            yaml_text=first(form, "yaml"),
        )

    def padded(self) -> list[ConditionRow]:
        """The rows to show: those given, then blank ones up to `ROWS`."""
        return self.rows + [ConditionRow() for _ in range(max(0, ROWS - len(self.rows)))]

    def definition(self) -> dict[str, Any] | str:
        """The definition as a mapping, or a message when the YAML box does not parse."""
        if self.yaml_text:
            try:
                data = yaml.safe_load(self.yaml_text)
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                line = f"line {mark.line + 1}: " if mark is not None else ""
                return f"the YAML box: {line}not valid YAML"
            if not isinstance(data, dict):
                return "the YAML box: expected a mapping with name, description and where"
            return data
        conditions = [_condition(row) for row in self.rows if not row.blank]
        where: dict[str, Any] = {self.combine: conditions}
        return {"name": self.name, "description": self.description, "where": where}


def condition_number(location: str | None) -> int | None:
    """The builder row (1-based) a validation location points at, e.g. `where.all[1].op` → 2."""
    found = _LOCATION.search(location or "")
    return int(found.group(1)) + 1 if found else None


def _condition(row: ConditionRow) -> dict[str, Any]:
    if row.kind == "event":
        condition: dict[str, Any] = {"event": row.name}
        if row.window:
            condition["within"] = row.window
        condition["count"] = {"op": row.op or ">=", "value": _value(row.value or "1")}
        return condition
    condition = {"trait": row.name, "op": row.op}
    if row.op in ("exists", "missing"):
        return condition
    if row.op in ("in", "not_in", "between"):
        condition["value"] = [_value(v) for v in row.value.split(",") if v.strip()]
    else:
        condition["value"] = _value(row.value)
    return condition


def _value(text: str) -> str | int | float | bool:
    """A typed value from a text box: true/false, an integer, a number, else text."""
    value = text.strip()
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    if _INT.fullmatch(value):
        return int(value)
    if _FLOAT.fullmatch(value):
        return float(value)
    return value
