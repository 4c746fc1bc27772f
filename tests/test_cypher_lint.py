"""Every statement in cypher/*.cypher passes Neo4j's own Cypher front-end, with its declared params.

The linter runs once per session (one Node process for every statement); the negative tests
prove it really reports what these tests rely on, so a silently broken linter cannot pass them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from idgraph.analyst import header_problems, load_query
from tests import cypherlint
from tests.cypherlint import (
    ROOT,
    CypherLinterUnavailable,
    LintResult,
    lint,
    parameters_in,
    project_schema,
    schema_from_cypher,
    split_cypher_file,
)

CYPHER_FILES = sorted((ROOT / "cypher").glob("*.cypher"))
QUERIES = {path.name: load_query(path) for path in CYPHER_FILES}
#: (name, statement, the parameters its file declares in `// Param:` lines).
STATEMENTS = [
    (f"{name}#{i}", text, [p.name for p in query.params])
    for name, query in QUERIES.items()
    for i, text in enumerate(query.statements, start=1)
]
ANALYST_FILES = [name for name in QUERIES if name != "schema.cypher"]


def test_there_are_cypher_files_to_lint() -> None:
    assert CYPHER_FILES, "cypher/ holds no .cypher files"
    assert STATEMENTS
    assert len(ANALYST_FILES) >= 9


@pytest.mark.parametrize("name", ANALYST_FILES)
def test_analyst_file_has_a_complete_header(name: str) -> None:
    """Title, Answers, Engines (and why, if Neo4j-only), a described Param and a Browser line
    for every parameter it uses, and exactly one statement to paste into the Neo4j Browser."""
    query = QUERIES[name]
    assert header_problems(query) == []
    assert len(query.statements) == 1
    assert set(query.used_parameters()) == {p.name for p in query.params}
    text = (ROOT / "cypher" / name).read_text(encoding="utf-8")
    assert text.rstrip().endswith(";"), "end the statement with `;`"
    header = text.split("\n", 1)[0]
    assert header.startswith("// Title: "), "the file starts with its `// Title:` line"


def test_schema_file_is_neo4j_only() -> None:
    schema = QUERIES["schema.cypher"]
    assert schema.engines == ("neo4j",) and schema.why_neo4j_only


@pytest.mark.parametrize(
    ("name", "text"), [s[:2] for s in STATEMENTS], ids=[s[0] for s in STATEMENTS]
)
def test_cypher_file_statement_lints_clean(
    name: str, text: str, results: dict[str, LintResult]
) -> None:
    result = results[name]
    for warning in result.warnings:
        print(f"{name}: warning {warning}")
    assert result.ok, f"{name}:\n{text}\n" + "\n".join(map(str, result.errors))


BROKEN = {
    "syntax": ("MATCH (n RETURN n", [], "Invalid input"),
    "undefined-variable": ("MATCH (c:Customer) RETURN d", [], "Variable `d` not defined"),
    "undeclared-param": ("MATCH (c:Customer) WHERE c.id = $id RETURN c", [], "$id is not defined"),
    "misspelt-param": ("MATCH (c:Customer) WHERE c.id = $idd RETURN c", ["id"], "$idd is not"),
    "bang-equals": ("MATCH (c:Customer) WHERE c.id != $id RETURN c", ["id"], "'<>'"),
    "unknown-function": ("MATCH (c:Customer) RETURN shortestPathLength(c)", [], "Function"),
    "apoc-function": ("RETURN apoc.text.join(['a'], ',')", [], "apoc.text.join"),
    "duplicate-column": ("MATCH (c:Customer) RETURN c.id AS x, c.email AS x", [], "same name"),
}


PROBES = {
    "good": ("MATCH (c:Customer {id: $id}) RETURN c.email", ["id"]),
    "bad-position": ("MATCH (c:Customer)\nRETURN c.email,\n  $nope", []),
    "label-typo": ("MATCH (c:Custmer) RETURN c", []),
}


@pytest.fixture(scope="module")
def results() -> dict[str, LintResult]:
    """Everything this module checks, linted in one batch (starting the linter costs seconds)."""
    statements = list(STATEMENTS)
    statements += [(name, query, params) for name, (query, params, _) in BROKEN.items()]
    statements += [(name, query, params) for name, (query, params) in PROBES.items()]
    return {result.name: result for result in lint(statements)}


@pytest.mark.parametrize("case", list(BROKEN))
def test_linter_reports_broken_statement(case: str, results: dict[str, LintResult]) -> None:
    result, expected = results[case], BROKEN[case][2]
    assert not result.ok
    assert any(expected in e.message for e in result.errors), result.errors


def test_linter_accepts_declared_parameters_and_reports_positions(
    results: dict[str, LintResult],
) -> None:
    assert results["good"].ok
    assert [(e.line, e.col) for e in results["bad-position"].errors] == [(3, 3)]


def test_unknown_label_is_a_warning_not_an_error(results: dict[str, LintResult]) -> None:
    result = results["label-typo"]
    assert result.ok
    assert any("Custmer" in w.message for w in result.warnings)


def test_empty_batch_starts_nothing() -> None:
    assert lint([]) == []


def test_identical_statements_are_linted_once_but_reported_under_each_name() -> None:
    first, second = lint([("a", "RETURN $x", ["x"]), ("b", "RETURN $x", ["x"])])
    assert (first.name, second.name) == ("a", "b")
    assert first.ok and second.ok


def test_schema_file_names_the_core_graph() -> None:
    schema = project_schema()
    assert {"Customer", "Record", "Event", "Identifier", "Segment"} <= set(schema.labels)
    assert {"HAS_RECORD", "PERFORMED", "HAS_IDENTIFIER"} <= set(schema.relationship_types)
    assert {"id", "key", "name", "ts"} <= set(schema.property_keys)


def test_schema_from_cypher_reads_drawing_and_ddl() -> None:
    text = (
        "// (:A {x, y, ...rest})-[:R {w}]->(:B)\nCREATE INDEX i IF NOT EXISTS FOR (n:C) ON (n.z);\n"
    )
    schema = schema_from_cypher(text)
    assert schema.labels == ["A", "B", "C"]
    assert schema.relationship_types == ["R"]
    assert schema.property_keys == ["w", "x", "y", "z"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("RETURN 1;", ["RETURN 1"]),
        ("RETURN 1", ["RETURN 1"]),
        ("// only a comment\n", []),
        ("MATCH (n)\n// inside\nRETURN n;\nRETURN 2;  \n", ["MATCH (n)\nRETURN n", "RETURN 2"]),
        ("RETURN 'a;b' AS x;\n", ["RETURN 'a;b' AS x"]),
        ("  // indented comment\nRETURN 3;\n\n\n", ["RETURN 3"]),
    ],
)
def test_split_cypher_file(text: str, expected: list[str]) -> None:
    assert split_cypher_file(text) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("MATCH (c {id: $id}) WHERE c.ts > $since RETURN $id", ["id", "since"]),
        ("RETURN $`odd`", ["odd"]),
        ("// $commented\nRETURN 1", []),
    ],
)
def test_parameters_in(query: str, expected: list[str]) -> None:
    assert parameters_in(query) == expected


def test_missing_linter_package_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(cypherlint, "_PACKAGE", tmp_path / "not-installed")
    with pytest.raises(CypherLinterUnavailable, match=r"npm ci --prefix tests/cypher_lint"):
        lint([("x", "RETURN 1", [])])


def test_every_named_statement_lints_clean() -> None:
    """The named reads, state reads (what rebuilds the mirror) and segment writes in
    idgraph/store/queries.py, and the report's reads in idgraph/insights/reads.py, are sent
    to Neo4j as they are."""
    from idgraph.insights.reads import READS as INSIGHT_READS
    from idgraph.store.queries import READS, SEGMENT_WRITES, STATE_READS, parameters_of

    named = [
        (f"{group}:{name}", text, parameters_of(text))
        for group, statements in (
            ("reads", READS),
            ("state", STATE_READS),
            ("segment", SEGMENT_WRITES),
            ("insights", INSIGHT_READS),
        )
        for name, text in statements.items()
    ]
    results = cypherlint.lint(named)
    assert len(results) == len(named) > 60
    failures = {r.name: r.errors for r in results if not r.ok}
    assert failures == {}
