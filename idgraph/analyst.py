"""Analyst queries: the `.cypher` files in `cypher/`, their headers, parameters and results.

Each file is ready to paste into the Neo4j Browser and opens with a machine-readable header::

    // Title: The largest customers (over-merge suspects)
    // Answers: Customers with the most records ...
    //   (a line starting `//` and two spaces continues the previous field)
    // Param: limit int  (optional, default 20) how many customers to list
    // Engines: neo4j, ladybug
    // Browser: :param limit => 20

`Param` lines give a name, a type (string, int, float, bool, list) and a description; a Neo4j-only
file says `// Engines: neo4j` and why on a `// Why Neo4j-only:` line. The same header lets
`idgraph cypher` check and type the `--param` values before anything reaches the store.

Examples:
    >>> query = parse_query("// Title: Hello\\n// Param: n int  a number\\nRETURN $n AS n;\\n")
    >>> query.title, query.statements
    ('Hello', ['RETURN $n AS n'])
    >>> parse_params(query, ["n=3"])
    {'n': 3}
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, cast

import orjson
from pydantic import BaseModel, ConfigDict, Field

from idgraph.errors import ConfigError, InputError

if TYPE_CHECKING:
    from idgraph.store.base import GraphStore

__all__ = [
    "AnalystQuery",
    "QueryParam",
    "coerce",
    "find_query",
    "header_problems",
    "list_queries",
    "load_query",
    "parse_params",
    "parse_query",
    "query_dirs",
    "readable",
    "resolve_query",
    "run_query",
    "split_statements",
]

ParamType = Literal["string", "int", "float", "bool", "list"]
QueryEngine = Literal["neo4j", "ladybug"]

PARAM_TYPES: Final[tuple[ParamType, ...]] = ("string", "int", "float", "bool", "list")
ENGINES: Final[tuple[QueryEngine, ...]] = ("neo4j", "ladybug")
INLINE: Final = "inline"

_PACKAGE = Path(__file__).resolve().parent
#: A wheel carries `cypher/` as `idgraph/_cypher`; a source checkout has it beside the package.
_QUERY_DIRS: Final[tuple[Path, ...]] = (_PACKAGE / "_cypher", _PACKAGE.parent / "cypher")

_FIELD = re.compile(r"^//\s?(Title|Answers|Param|Engines|Why Neo4j-only|Browser):\s*(.*?)\s*$")
_CONTINUATION = re.compile(r"^//\s{2,}(\S.*?)\s*$")
_PARAM_LINE = re.compile(r"^([A-Za-z_]\w*)\s+(\S+)(?:\s+(.*))?$")
_OPTIONAL = re.compile(r"^\(optional(?:,\s*default\s+(.+?))?\)\s*(.*)$")
_NAME = re.compile(r"^[A-Za-z_]\w*$")
_BARE_NAME = re.compile(r"^[\w./-]+$")
_PARAM_USE = re.compile(r"\$`?([A-Za-z_]\w*)")
_INT = re.compile(r"^[+-]?\d+$")
_TRUE: Final = frozenset({"true", "yes", "1"})
_FALSE: Final = frozenset({"false", "no", "0"})
_HINTS: Final[dict[ParamType, str]] = {
    "string": "text",
    "int": "a whole number like 50",
    "float": "a number like 0.5",
    "bool": "true or false",
    "list": 'a JSON array like ["a","b"] or a comma list like a,b',
}


class QueryParam(BaseModel):
    """One parameter a query declares in a `// Param:` line."""

    model_config = ConfigDict(frozen=True)

    name: str
    type: ParamType
    optional: bool = False
    default: Any = None
    description: str = ""


class AnalystQuery(BaseModel):
    """A parsed analyst query: what it answers, what it takes, where it runs, its statements.

    `declared` is true when the text had a header; then only the `params` listed are accepted.
    Inline Cypher has no header, and its `$parameters` are guessed from the values given.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    title: str
    answers: str = ""
    params: list[QueryParam] = Field(default_factory=list)
    engines: tuple[QueryEngine, ...] = ()
    why_neo4j_only: str = ""
    browser: list[str] = Field(default_factory=list)
    statements: list[str]
    source: str | None = None
    declared: bool = False

    def param(self, name: str) -> QueryParam | None:
        """The declared parameter called `name`, if any."""
        return next((p for p in self.params if p.name == name), None)

    def runs_on(self, engine: str) -> bool:
        """Whether the header allows `engine` (no `// Engines:` line allows every engine)."""
        return not self.engines or engine in self.engines

    def used_parameters(self) -> list[str]:
        """Names of the `$parameters` the statements use, sorted."""
        return sorted({m for s in self.statements for m in _PARAM_USE.findall(_strip(s))})


def split_statements(text: str) -> list[str]:
    """Split Cypher text into statements on `;` at line ends, dropping `//` comment lines.

    Examples:
        >>> split_statements("// header\\nMATCH (n)\\nRETURN n;\\n\\nRETURN 1;\\n")
        ['MATCH (n)\\nRETURN n', 'RETURN 1']
    """
    statements: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        if line.lstrip().startswith("//"):
            continue
        stripped = line.rstrip()
        if stripped.endswith(";"):
            current.append(stripped[:-1])
            statements.append("\n".join(current).strip())
            current = []
        else:
            current.append(line)
    statements.append("\n".join(current).strip())
    return [s for s in statements if s]


def parse_query(text: str, *, name: str = INLINE, source: str | Path | None = None) -> AnalystQuery:
    """Parse a header (if any) and the statements of Cypher text.

    Raises:
        ConfigError: A header line is malformed (every problem is listed).
        InputError: The text holds no statement.
    """
    where = str(source) if source is not None else f"<{name}>"
    fields: dict[str, list[str]] = {}
    params: list[QueryParam] = []
    problems: list[str] = []
    last: str | None = None
    for number, line in _header_lines(text):
        field = _FIELD.match(line)
        if field:
            last = field.group(1)
            fields.setdefault(last, []).append(field.group(2))
            if last == "Param":
                param = _param_line(field.group(2), number, problems)
                if param and any(p.name == param.name for p in params):
                    problems.append(f"line {number}: parameter ${param.name} declared twice")
                elif param:
                    params.append(param)
            continue
        more = _CONTINUATION.match(line)
        if more and last in ("Answers", "Why Neo4j-only", "Title"):
            fields[last][-1] = f"{fields[last][-1]} {more.group(1)}".strip()
        else:
            last = None
    engines: list[QueryEngine] = []
    for item in ",".join(fields.get("Engines", [])).split(","):
        engine = item.strip().lower()
        if engine in ENGINES:
            engines.append(engine)
        elif engine:
            problems.append(f"unknown engine {engine!r} in `// Engines:` (use neo4j, ladybug)")
    if problems:
        raise ConfigError("; ".join(problems), path=source)
    statements = split_statements(text)
    if not statements:
        raise InputError("holds no Cypher statement (each one ends with `;`)", path=where)
    return AnalystQuery(
        name=name,
        title=" ".join(fields.get("Title", [])) or name,
        answers=" ".join(fields.get("Answers", [])),
        params=params,
        engines=tuple(dict.fromkeys(engines)),
        why_neo4j_only=" ".join(fields.get("Why Neo4j-only", [])),
        browser=fields.get("Browser", []),
        statements=statements,
        source=str(source) if source is not None else None,
        declared=bool(fields),
    )


def load_query(path: str | Path) -> AnalystQuery:
    """Read and parse one `.cypher` file; its name is the file name without `.cypher`.

    Raises:
        ConfigError: The file is missing or its header is malformed.
        InputError: The file holds no statement or is not UTF-8 text.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"no query file {path}") from None
    except UnicodeDecodeError:
        raise InputError("is not UTF-8 text", path=path) from None
    return parse_query(text, name=path.stem, source=path)


def query_dirs() -> list[Path]:
    """Folders holding the bundled analyst queries (installed package first, then the checkout)."""
    return [d for d in _QUERY_DIRS if d.is_dir()]


def find_query(name: str) -> Path | None:
    """The bundled query file called `name` (with or without `.cypher`), or None."""
    stem = name.removesuffix(".cypher")
    for folder in query_dirs():
        candidate = folder / f"{stem}.cypher"
        if candidate.is_file():
            return candidate
    return None


def list_queries() -> list[AnalystQuery]:
    """Every bundled query, sorted by name (the first folder wins when both hold a name)."""
    found: dict[str, Path] = {}
    for folder in query_dirs():
        for path in sorted(folder.glob("*.cypher")):
            found.setdefault(path.stem, path)
    return [load_query(found[name]) for name in sorted(found)]


def resolve_query(argument: str) -> AnalystQuery:
    """A query file path, a bundled query name (`largest_customers`), or inline Cypher.

    Raises:
        ConfigError: The argument looks like a file or query name but none exists.
    """
    if _BARE_NAME.match(argument) or ("\n" not in argument and argument.endswith(".cypher")):
        path = Path(argument)
        if path.is_file():
            return load_query(path)
        bundled = find_query(argument) if _BARE_NAME.match(argument) else None
        if bundled is not None:
            return load_query(bundled)
        names = ", ".join(sorted({q.stem for d in query_dirs() for q in d.glob("*.cypher")}))
        raise ConfigError(
            f"no query file or bundled query named {argument!r}; bundled queries: "
            f"{names or 'none found'} (`idgraph cypher --list`)"
        )
    return parse_query(argument)


def parse_params(query: AnalystQuery, raw: Sequence[str]) -> dict[str, Any]:
    """Turn `--param name=value` strings into typed parameters for `query`.

    Declared parameters are coerced to their type (int, float, bool; a list from a JSON array
    or a comma list), optional ones take their default. Without a header, a value that parses
    as a JSON literal becomes that value, anything else stays a string.

    Raises:
        ConfigError: A value is malformed, given twice, of the wrong type, or undeclared, or a
            required parameter is missing; the message lists every problem.
    """
    problems: list[str] = []
    values: dict[str, Any] = {}
    for item in raw:
        key, sep, text = item.partition("=")
        key = key.strip().removeprefix("$")
        if not sep or not _NAME.match(key):
            problems.append(f"--param {key or item!r}: write it as NAME=VALUE, e.g. limit=10")
            continue
        if key in values:
            problems.append(f"parameter ${key} is given twice")
            continue
        declared = query.param(key)
        if declared is None and query.declared:
            takes = ", ".join(f"${p.name}" for p in query.params) or "no parameters"
            problems.append(f"query {query.name} has no parameter ${key}; it takes {takes}")
            continue
        if declared is None:
            values[key] = _guess(text)
            continue
        try:
            values[key] = coerce(text, declared.type)
        except ValueError:
            problems.append(
                f"parameter ${key} of query {query.name} must be {_HINTS[declared.type]}, "
                f"not {text!r}"
            )
            values[key] = None
    for param in query.params:
        if param.name in values:
            continue
        if param.optional:
            values[param.name] = param.default
        else:
            problems.append(_missing(query, param.name, param.type))
    if not query.declared:
        for name in query.used_parameters():
            if name not in values:
                problems.append(_missing(query, name, None))
    if problems:
        raise ConfigError("; ".join(problems))
    return values


def coerce(text: str, kind: ParamType) -> Any:
    """One `--param` value as `kind`.

    Raises:
        ValueError: The text is not a value of that type.

    Examples:
        >>> coerce("50", "int"), coerce("yes", "bool"), coerce("a, b", "list")
        (50, True, ['a', 'b'])
    """
    if kind == "string":
        return text
    stripped = text.strip()
    if kind == "int":
        if not _INT.match(stripped):
            raise ValueError(text)
        return int(stripped)
    if kind == "float":
        number = float(stripped)
        if not math.isfinite(number):
            raise ValueError(text)
        return number
    if kind == "bool":
        if stripped.lower() in _TRUE:
            return True
        if stripped.lower() in _FALSE:
            return False
        raise ValueError(text)
    if stripped.startswith("["):
        try:
            value = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            raise ValueError(text) from None
        if not isinstance(value, list):
            raise ValueError(text)
        return value
    return [part.strip() for part in stripped.split(",")] if stripped else []


def header_problems(query: AnalystQuery) -> list[str]:
    """What a bundled query's header lacks: a title, answers, a Browser line per parameter, ...

    `idgraph cypher` runs queries with incomplete headers too; the tests hold the bundled files
    to this.
    """
    problems: list[str] = []
    if query.title == query.name:
        problems.append("no `// Title:` line")
    if not query.answers:
        problems.append("no `// Answers:` line")
    if not query.engines:
        problems.append("no `// Engines:` line")
    elif "ladybug" not in query.engines and not query.why_neo4j_only:
        problems.append("Neo4j-only without a `// Why Neo4j-only:` line")
    for param in query.params:
        if not any(re.search(rf":param\s+{param.name}\s*=>", line) for line in query.browser):
            problems.append(f"no `// Browser: :param {param.name} => ...` line")
        if not param.description:
            problems.append(f"parameter ${param.name} has no description")
    declared = {p.name for p in query.params}
    for name in query.used_parameters():
        if name not in declared:
            problems.append(f"${name} is used but not declared in a `// Param:` line")
    return problems


def run_query(
    store: GraphStore,
    query: AnalystQuery,
    params: Mapping[str, Any] | None = None,
    *,
    write: bool = False,
) -> list[dict[str, Any]]:
    """Run every statement of `query` on `store` and return the last one's rows, JSON-ready.

    Args:
        store: An open store; open it writable and pass `write=True` for statements that write.
        query: From `load_query`, `resolve_query` or `parse_query`.
        params: Typed parameters, usually from `parse_params`.
        write: Send the statements as writes (a Neo4j write transaction).

    Returns:
        One dict per row, JSON-ready, graph values in the shape `GraphStore.query` describes
        (the same on both engines).

    Raises:
        ConfigError: The query is for another engine than the store's.
        StoreQueryError: The engine rejected a statement.
    """
    engine = store.dialect.engine
    if not query.runs_on(engine):
        if query.engines == ("neo4j",):
            why = query.why_neo4j_only.rstrip(".")
            raise ConfigError(
                f"query {query.name} is Neo4j-only{f' ({why})' if why else ''}: paste it into "
                "the Neo4j Browser, or run it on a Neo4j store (--store bolt://host:7687)"
            )
        raise ConfigError(
            f"query {query.name} runs on {', '.join(query.engines)} only, "
            f"not on this {engine} store"
        )
    run = store.write if write else store.query
    rows: list[dict[str, Any]] = []
    many = len(query.statements) > 1
    for number, statement in enumerate(query.statements, start=1):
        name = f"cypher:{query.name}" + (f"#{number}" if many else "")
        rows = run(name, statement, dict(params or {}))
    return [{key: readable(value) for key, value in row.items()} for row in rows]


def readable(value: Any) -> Any:
    """A store value as JSON-ready data (both stores already return graph values as plain
    dicts; this settles floats, bytes, temporal values and tuples)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): readable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [readable(v) for v in value]
    if hasattr(value, "iso_format"):
        return str(value.iso_format())
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _header_lines(text: str) -> list[tuple[int, str]]:
    """The leading `//` lines with their 1-based line numbers."""
    lines: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("//"):
            break
        if stripped:
            lines.append((number, stripped))
    return lines


def _param_line(text: str, number: int, problems: list[str]) -> QueryParam | None:
    match = _PARAM_LINE.match(text)
    if not match:
        problems.append(f"line {number}: `// Param:` needs NAME TYPE DESCRIPTION, got {text!r}")
        return None
    name, written, rest = match.group(1), match.group(2), (match.group(3) or "").strip()
    if written not in PARAM_TYPES:
        problems.append(
            f"line {number}: parameter ${name} has unknown type {written!r} "
            f"(use {', '.join(PARAM_TYPES)})"
        )
        return None
    kind = cast(ParamType, written)
    optional = _OPTIONAL.match(rest)
    if not optional:
        return QueryParam(name=name, type=kind, description=rest)
    default: Any = None
    if optional.group(1) is not None:
        try:
            default = coerce(optional.group(1).strip().strip("'\""), kind)
        except ValueError:
            problems.append(
                f"line {number}: default {optional.group(1)!r} of ${name} is not {_HINTS[kind]}"
            )
    return QueryParam(
        name=name,
        type=kind,
        optional=True,
        default=default,
        description=optional.group(2),
    )


def _missing(query: AnalystQuery, name: str, kind: ParamType | None) -> str:
    typed = f" ({kind})" if kind else ""
    return f"query {query.name} needs parameter ${name}{typed}: pass --param {name}=..."


def _guess(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _strip(statement: str) -> str:
    """The statement without string literals, so a `$` inside quotes is not a parameter."""
    return re.sub(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", "''", statement)
