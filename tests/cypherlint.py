"""Validate Cypher with Neo4j's own front-end, run by Node (see tests/cypher_lint/).

There is no Neo4j server in the tests; `@neo4j-cypher/language-support` is the parser and
semantic checker the Neo4j Browser and VS Code extension use, so a statement it accepts is one
Neo4j 5 parses. Starting Node with the linter costs about 3 s and each statement about
0.3 s, so a batch goes to as few processes as keep the CPUs busy.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from idgraph.analyst import split_statements

ROOT = Path(__file__).resolve().parent.parent
LINT_DIR = Path(__file__).resolve().parent / "cypher_lint"
SCHEMA_FILE = ROOT / "cypher" / "schema.cypher"
_PACKAGE = LINT_DIR / "node_modules" / "@neo4j-cypher" / "language-support"
_TIMEOUT_S = 600
#: Linting costs ~0.3 s a statement and starting Node ~3 s, so split only large batches.
_MIN_PER_WORKER = 20


class CypherLinterUnavailable(RuntimeError):
    """Node or the linter package is missing; the message says how to install it."""


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding, at a 1-based line and column of the statement."""

    message: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.line}:{self.col}: {self.message}"


@dataclass(frozen=True, slots=True)
class LintResult:
    """What the linter said about one named statement."""

    name: str
    errors: list[Diagnostic]
    warnings: list[Diagnostic]

    @property
    def ok(self) -> bool:
        """No errors (warnings allowed)."""
        return not self.errors


@dataclass(frozen=True, slots=True)
class LintSchema:
    """Labels, relationship types and property keys the linter treats as present."""

    labels: list[str] = field(default_factory=list)
    relationship_types: list[str] = field(default_factory=list)
    property_keys: list[str] = field(default_factory=list)


def schema_from_cypher(text: str) -> LintSchema:
    """Collect the names a schema file mentions, in its DDL and in its header drawing.

    Labels are read from `(x:Label` and relationship types from `[x:TYPE`; property keys from
    the `{a, b, ...}` lists of the drawing and from `x.key` in the DDL (`...traits` style
    placeholders are skipped).
    """
    labels = re.findall(r"\(\s*\w*\s*:\s*([A-Za-z_]\w*)", text)
    rel_types = re.findall(r"\[\s*\w*\s*:\s*([A-Za-z_]\w*)", text)
    keys: list[str] = []
    for braces in re.findall(r"\{([^}]*)\}", text):
        keys += [k.strip() for k in braces.split(",") if re.fullmatch(r"\s*[a-z_]\w*\s*", k)]
    keys += re.findall(r"\b[a-z]\w*\.([a-z_]\w*)\b", _strip_comments(text))
    return LintSchema(
        labels=sorted(set(labels)),
        relationship_types=sorted(set(rel_types)),
        property_keys=sorted(set(keys)),
    )


def project_schema() -> LintSchema:
    """The schema drawn in `cypher/schema.cypher`."""
    return schema_from_cypher(SCHEMA_FILE.read_text(encoding="utf-8"))


def split_cypher_file(text: str) -> list[str]:
    """Split a `.cypher` file into statements on `;` at line ends, dropping `//` comment lines.

    The rules are `idgraph.analyst.split_statements`, so the linter sees what `idgraph cypher`
    runs.

    >>> split_cypher_file("// header\\nMATCH (n)\\nRETURN n;\\n\\nRETURN 1;\\n")
    ['MATCH (n)\\nRETURN n', 'RETURN 1']
    """
    return split_statements(text)


def parameters_in(query: str) -> list[str]:
    """Names of the `$parameters` a statement uses (for files that do not declare theirs)."""
    return sorted(set(re.findall(r"\$`?([A-Za-z_]\w*)", _strip_comments(query))))


def lint(
    statements: Sequence[tuple[str, str, Sequence[str]]],
    *,
    schema: LintSchema | None = None,
) -> list[LintResult]:
    """Lint `(name, query, declared parameter names)` triples.

    Identical statements are linted once; large batches are split over one Node process per
    CPU, because the front-end spends about 0.3 s on each statement.

    Args:
        statements: The statements; a parameter used but not declared is an error.
        schema: Names treated as present in the database (default: `cypher/schema.cypher`).
            Unknown labels and relationship types are warnings.

    Returns:
        One result per statement, in order.

    Raises:
        CypherLinterUnavailable: If `node` or the npm package is missing.
    """
    if not statements:
        return []
    node = shutil.which("node")
    if node is None:
        raise CypherLinterUnavailable("Node.js (`node`) is not on PATH; install Node.js 18+.")
    if not _PACKAGE.is_dir():
        raise CypherLinterUnavailable(
            "the Cypher linter is not installed; run `npm ci --prefix tests/cypher_lint`"
        )
    schema = schema or project_schema()
    unique = list(dict.fromkeys((query, tuple(params)) for _, query, params in statements))
    workers = max(1, min(os.cpu_count() or 1, len(unique) // _MIN_PER_WORKER))
    chunks = [unique[i::workers] for i in range(workers)]
    processes = [_start(node, schema, chunk) for chunk in chunks]
    found: dict[tuple[str, tuple[str, ...]], LintResult] = {}
    for chunk, process in zip(chunks, processes, strict=True):
        stdout, stderr = process.communicate(timeout=_TIMEOUT_S)
        if process.returncode != 0:
            raise RuntimeError(f"the Cypher linter failed (exit {process.returncode}):\n{stderr}")
        for key, item in zip(chunk, json.loads(stdout), strict=True):
            found[key] = LintResult(
                name="",
                errors=[Diagnostic(**d) for d in item["errors"]],
                warnings=[Diagnostic(**d) for d in item["warnings"]],
            )
    return [replace(found[(query, tuple(params))], name=name) for name, query, params in statements]


def _start(
    node: str, schema: LintSchema, chunk: list[tuple[str, tuple[str, ...]]]
) -> subprocess.Popen[str]:
    payload = {
        "schema": {
            "labels": schema.labels,
            "relationshipTypes": schema.relationship_types,
            "propertyKeys": schema.property_keys,
        },
        "statements": [
            {"name": str(i), "query": query, "params": list(params)}
            for i, (query, params) in enumerate(chunk)
        ],
    }
    with tempfile.TemporaryFile("w+", encoding="utf-8") as stdin:
        json.dump(payload, stdin)
        stdin.seek(0)
        return subprocess.Popen(
            [node, str(LINT_DIR / "lint.mjs")],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


def _strip_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
