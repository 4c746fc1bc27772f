"""Header parsing, parameter typing and the errors a user sees, without a store where possible."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from idgraph.analyst import (
    AnalystQuery,
    coerce,
    find_query,
    header_problems,
    list_queries,
    load_query,
    parse_params,
    parse_query,
    readable,
    resolve_query,
    run_query,
    split_statements,
)
from idgraph.errors import ConfigError, InputError
from idgraph.settings import open_store
from tests.conftest import ROOT

FULL = """// Title: Customers by country
// Answers: How many customers live in each country;
//   read the largest first.
// Param: country string  an ISO country code, e.g. IT
// Param: limit int  (optional, default 10) how many rows
// Param: min_score float  (optional) lowest score
// Param: flagged bool  (optional, default false) only flagged ones
// Param: ids list  (optional, default ["a", "b"]) customer ids
// Engines: neo4j, ladybug
// Browser: :param country => 'IT'
// Browser: :param limit => 10
MATCH (c:Customer {country: $country})
// a comment inside
RETURN c.id AS id LIMIT $limit;
"""


def _query(text: str = FULL, name: str = "by_country") -> AnalystQuery:
    return parse_query(text, name=name)


def test_full_header_is_parsed() -> None:
    query = _query()
    assert query.title == "Customers by country"
    assert query.answers == "How many customers live in each country; read the largest first."
    assert [(p.name, p.type, p.optional, p.default) for p in query.params] == [
        ("country", "string", False, None),
        ("limit", "int", True, 10),
        ("min_score", "float", True, None),
        ("flagged", "bool", True, False),
        ("ids", "list", True, ["a", "b"]),
    ]
    assert query.params[0].description == "an ISO country code, e.g. IT"
    assert query.params[1].description == "how many rows"
    assert query.engines == ("neo4j", "ladybug")
    assert query.browser == [":param country => 'IT'", ":param limit => 10"]
    assert query.statements == [
        "MATCH (c:Customer {country: $country})\nRETURN c.id AS id LIMIT $limit"
    ]
    assert query.declared and query.runs_on("ladybug")
    assert query.used_parameters() == ["country", "limit"]


def test_neo4j_only_header() -> None:
    query = _query(
        "// Title: T\n// Engines: neo4j\n// Why Neo4j-only: shortestPath\n//   syntax.\nRETURN 1;\n"
    )
    assert query.engines == ("neo4j",)
    assert query.why_neo4j_only == "shortestPath syntax."
    assert not query.runs_on("ladybug") and query.runs_on("neo4j")


def test_inline_cypher_has_no_header() -> None:
    query = parse_query("MATCH (n) RETURN n.x = '$not_a_param' AS y, $p AS p")
    assert (query.name, query.title, query.declared, query.engines) == (
        "inline",
        "inline",
        False,
        (),
    )
    assert query.used_parameters() == ["p"]
    assert query.runs_on("ladybug")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("// Param: limit integer  x\nRETURN 1;", "unknown type 'integer'"),
        ("// Param: limit\nRETURN 1;", "needs NAME TYPE DESCRIPTION"),
        (
            "// Param: a int  x\n\n// Param: a int  y\nRETURN 1;",
            "line 3: parameter \\$a declared twice",
        ),
        ("// Param: a int  (optional, default many) x\nRETURN 1;", "default 'many'"),
        ("// Engines: neo4j, postgres\nRETURN 1;", "unknown engine 'postgres'"),
    ],
)
def test_malformed_header_is_a_config_error(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_query(text, source="q.cypher")


def test_every_header_problem_is_listed_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_query("// Param: a integer  x\n// Engines: mongo\nRETURN 1;", source="q.cypher")
    assert str(caught.value).startswith("q.cypher: ")
    assert "integer" in str(caught.value) and "mongo" in str(caught.value)


@pytest.mark.parametrize("text", ["", "// Title: Nothing\n// Engines: neo4j\n", "  ;\n"])
def test_file_without_a_statement_is_an_input_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "empty.cypher"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=r"empty\.cypher: holds no Cypher statement"):
        load_query(path)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no query file"):
        load_query(tmp_path / "nope.cypher")


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("C-1", "string", "C-1"),
        (" spaced ", "string", " spaced "),
        ("50", "int", 50),
        ("-3", "int", -3),
        ("+7", "int", 7),
        ("0.5", "float", 0.5),
        ("2", "float", 2.0),
        ("1e3", "float", 1000.0),
        ("true", "bool", True),
        ("False", "bool", False),
        ("yes", "bool", True),
        ("0", "bool", False),
        ('["a", 1]', "list", ["a", 1]),
        ("a, b,c", "list", ["a", "b", "c"]),
        ("crm:C1", "list", ["crm:C1"]),
        ("", "list", []),
    ],
)
def test_coerce(text: str, kind: Any, expected: Any) -> None:
    value = coerce(text, kind)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("abc", "int"),
        ("1.5", "int"),
        ("", "int"),
        ("ten", "float"),
        ("nan", "float"),
        ("inf", "float"),
        ("maybe", "bool"),
        ("[1, 2", "list"),
        ('["a"', "list"),
    ],
)
def test_coerce_refuses(text: str, kind: Any) -> None:
    with pytest.raises(ValueError):
        coerce(text, kind)


def test_parse_params_types_and_defaults() -> None:
    params = parse_params(_query(), ["country=IT", "limit=5", "ids=x,y"])
    assert params == {
        "country": "IT",
        "limit": 5,
        "ids": ["x", "y"],
        "min_score": None,
        "flagged": False,
    }


def test_value_may_contain_equals_signs() -> None:
    assert parse_params(_query(), ["country=a=b"])["country"] == "a=b"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            [],
            "query by_country needs parameter $country (string): pass --param country=...",
        ),
        (
            ["country=IT", "colour=red"],
            "query by_country has no parameter $colour; it takes $country, $limit, $min_score, "
            "$flagged, $ids",
        ),
        (
            ["country=IT", "limit=ten"],
            "parameter $limit of query by_country must be a whole number like 50, not 'ten'",
        ),
        (["country=IT", "flagged=perhaps"], "must be true or false, not 'perhaps'"),
        (["country=IT", "min_score=high"], "must be a number like 0.5"),
        (["country=IT", "ids=[1,"], "must be a JSON array"),
        (["country=IT", "country=DE"], "parameter $country is given twice"),
        (["country"], "--param 'country': write it as NAME=VALUE"),
        (["country=IT", "=5"], "write it as NAME=VALUE"),
        (["country=IT", "bad-name=5"], "write it as NAME=VALUE"),
    ],
)
def test_parse_params_errors(raw: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_params(_query(), raw)
    assert message in str(caught.value)


def test_parse_params_reports_every_problem() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_params(_query(), ["limit=x", "nope=1"])
    text = str(caught.value)
    assert "$limit" in text and "$nope" in text and "$country" in text


def test_a_dollar_prefix_is_accepted() -> None:
    assert parse_params(_query(), ["$country=IT"])["country"] == "IT"


def test_file_with_header_but_no_params_refuses_any() -> None:
    query = _query("// Title: T\n// Engines: ladybug\nRETURN 1;")
    assert parse_params(query, []) == {}
    with pytest.raises(ConfigError, match="takes no parameters"):
        parse_params(query, ["x=1"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7", 7),
        ("2.5", 2.5),
        ("true", True),
        ("null", None),
        ('"007"', "007"),
        ("007", "007"),
        ("[1, 2]", [1, 2]),
        ('{"a": 1}', {"a": 1}),
        ("crm:C1003", "crm:C1003"),
        ("hello world", "hello world"),
    ],
)
def test_inline_params_are_guessed(text: str, expected: Any) -> None:
    query = parse_query("RETURN $x AS x")
    assert parse_params(query, [f"x={text}"]) == {"x": expected}


def test_inline_query_names_a_missing_parameter() -> None:
    with pytest.raises(ConfigError, match=r"needs parameter \$x: pass --param x=\.\.\."):
        parse_params(parse_query("RETURN $x AS x"), [])


def test_split_statements_matches_the_file_rules() -> None:
    text = "// h\nMATCH (n)\n// c\nRETURN n;\n\nRETURN 'a;b' AS x;\nRETURN 3"
    assert split_statements(text) == ["MATCH (n)\nRETURN n", "RETURN 'a;b' AS x", "RETURN 3"]


def test_bundled_queries_are_found_by_name_and_path() -> None:
    names = [q.name for q in list_queries()]
    assert names == sorted(p.stem for p in (ROOT / "cypher").glob("*.cypher"))
    path = find_query("largest_customers")
    assert path == ROOT / "cypher" / "largest_customers.cypher"
    assert find_query("largest_customers.cypher") == path
    assert find_query("no_such_query") is None
    assert resolve_query("largest_customers").source == str(path)
    assert resolve_query(str(path)).name == "largest_customers"


def test_resolve_query_file_outside_cypher(tmp_path: Path) -> None:
    path = tmp_path / "mine.cypher"
    path.write_text("RETURN 1 AS one;\n", encoding="utf-8")
    assert resolve_query(str(path)).statements == ["RETURN 1 AS one"]


@pytest.mark.parametrize("argument", ["largest_customer", "missing.cypher", "dir/missing.cypher"])
def test_resolve_query_unknown_name_lists_the_bundled_ones(argument: str) -> None:
    with pytest.raises(ConfigError, match=r"bundled queries: .*largest_customers"):
        resolve_query(argument)


def test_resolve_query_inline() -> None:
    query = resolve_query("MATCH (c:Customer) RETURN count(c) AS n")
    assert query.name == "inline" and not query.declared


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        ("RETURN 1;", ["no `// Title:` line", "no `// Answers:` line", "no `// Engines:` line"]),
        (
            "// Title: T\n// Answers: A\n// Engines: neo4j\nRETURN 1;",
            ["Neo4j-only without a `// Why Neo4j-only:` line"],
        ),
        (
            "// Title: T\n// Answers: A\n// Param: x int  d\n// Engines: ladybug\nRETURN $x, $y;",
            [
                "no `// Browser: :param x => ...` line",
                "$y is used but not declared in a `// Param:` line",
            ],
        ),
        (
            "// Title: T\n// Answers: A\n// Param: x int\n// Engines: ladybug\n"
            "// Browser: :param x => 1\nRETURN $x;",
            ["parameter $x has no description"],
        ),
    ],
)
def test_header_problems(text: str, problems: list[str]) -> None:
    assert header_problems(parse_query(text, name="q")) == problems


def test_neo4j_only_query_is_refused_by_the_embedded_store(tmp_path: Path) -> None:
    query = _query(
        "// Title: T\n// Engines: neo4j\n// Why Neo4j-only: uses shortestPath.\nRETURN 1;"
    )
    with open_store(tmp_path / "idgraph.db") as store, pytest.raises(ConfigError) as caught:
        run_query(store, query, {})
    assert str(caught.value) == (
        "query by_country is Neo4j-only (uses shortestPath): paste it into the Neo4j Browser, "
        "or run it on a Neo4j store (--store bolt://host:7687)"
    )


def test_run_query_returns_the_last_statements_rows(tmp_path: Path) -> None:
    query = parse_query("RETURN 1 AS a;\nRETURN $x AS b, [1, 2] AS c;")
    with open_store(tmp_path / "idgraph.db") as store:
        assert run_query(store, query, {"x": "y"}) == [{"b": "y", "c": [1, 2]}]


def test_write_runs_statements_that_change_the_store(tmp_path: Path) -> None:
    path = tmp_path / "idgraph.db"
    create = parse_query("CREATE (:Segment {name: $name}) RETURN 1 AS done")
    count = parse_query("MATCH (s:Segment) RETURN s.name AS name")
    with open_store(path) as store:
        assert run_query(store, create, {"name": "s1"}, write=True) == [{"done": 1}]
    with open_store(path, read_only=True) as store:
        assert run_query(store, count) == [{"name": "s1"}]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (float("nan"), None),
        ((1, "a"), [1, "a"]),
        (b"\x01\xff", "01ff"),
        ({"a": [{"b": 1}]}, {"a": [{"b": 1}]}),
    ],
)
def test_readable(value: Any, expected: Any) -> None:
    assert readable(value) == expected
