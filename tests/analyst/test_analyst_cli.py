"""`idgraph cypher` as a user drives it: formats, files, --list, --write, exit codes."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import orjson
import pytest

from idgraph.cli import app
from tests.analyst.conftest import cypher, runner
from tests.analyst.truth import source_pairs

OVERLAP = "source_overlap"


def test_help_explains_and_gives_an_example() -> None:
    result = runner.invoke(app, ["cypher", "--help"])
    assert result.exit_code == 0, result.output
    for text in ("--param", "--list", "--write", "--store", "--database", "--format", "--output"):
        assert text in result.output
    assert "idgraph.analyst.run_query" in result.output
    assert "Example" in result.output


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_list_shows_every_file_with_its_title(fmt: str) -> None:
    result = runner.invoke(app, ["cypher", "--list", "--format", fmt])
    assert result.exit_code == 0, result.output
    assert "largest_customers" in result.stdout
    assert "The largest customers" in result.stdout
    if fmt == "json":
        names = [row["name"] for row in orjson.loads(result.stdout)]
        assert "why_same_customer" in names and "schema" in names


def test_csv_and_table_output(store: Path) -> None:
    as_csv = runner.invoke(app, ["cypher", OVERLAP, "--store", str(store), "--format", "csv"])
    assert as_csv.exit_code == 0, as_csv.output
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert {(r["source_a"], r["source_b"]): int(r["customers"]) for r in rows} == source_pairs()
    table = runner.invoke(app, ["cypher", OVERLAP, "--store", str(store)])
    assert table.exit_code == 0, table.output
    assert "Cross-source overlap" in table.stdout and "crm" in table.stdout
    assert f"{OVERLAP}: {len(rows)} row(s)" in table.stderr


def test_nested_values_are_json_in_csv(store: Path, customers: dict[str, str]) -> None:
    result = runner.invoke(
        app,
        [
            "cypher",
            "customer_records",
            "-p",
            f"customer_id={customers['crm:C1003']}",
            "--store",
            str(store),
            "-f",
            "csv",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert all(isinstance(orjson.loads(r["identifiers"]), list) for r in rows)


def test_output_file(store: Path, tmp_path: Path) -> None:
    target = tmp_path / "overlap.json"
    result = runner.invoke(
        app, ["cypher", OVERLAP, "--store", str(store), "-f", "json", "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    assert orjson.loads(target.read_bytes()) == cypher(store, OVERLAP)


def test_a_file_path_outside_cypher(store: Path, tmp_path: Path) -> None:
    path = tmp_path / "count.cypher"
    path.write_text("// Title: Count\n// Param: n int  x\nRETURN $n + 1 AS m;\n", encoding="utf-8")
    assert cypher(store, str(path), "n=41") == [{"m": 42}]


def test_inline_cypher_with_guessed_params(store: Path) -> None:
    rows = cypher(
        store,
        "MATCH (r:Record) WHERE r.source = $source RETURN count(r) AS n, $flag AS flag",
        "source=crm",
        "flag=true",
    )
    assert rows == [{"n": 84, "flag": True}]


def test_store_is_read_only_unless_write(tmp_path: Path) -> None:
    path = tmp_path / "idgraph.db"
    create = "CREATE (s:Segment {name: $name}) RETURN s.name AS name"
    written = runner.invoke(
        app, ["cypher", create, "-p", "name=first", "--store", str(path), "--write", "-f", "json"]
    )
    assert written.exit_code == 0, written.output
    refused = runner.invoke(app, ["cypher", create, "-p", "name=second", "--store", str(path)])
    assert refused.exit_code == 3, refused.output
    assert "cypher:inline" in refused.stderr
    names = cypher(path, "MATCH (s:Segment) RETURN s.name AS name")
    assert names == [{"name": "first"}]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["largest_customers", "-p", "limit=many"], "must be a whole number"),
        (["customer_graph"], "needs parameter $customer_id (string)"),
        (["no_such_query"], "no query file or bundled query named 'no_such_query'"),
        (["MATCH (n RETURN n"], "query 'cypher:inline' failed"),
    ],
)
def test_errors_are_one_line(store: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["cypher", *args, "--store", str(store)])
    assert result.exit_code in (2, 3), result.output
    assert message in result.stderr
    assert result.stderr.count("\n") == 1


def test_no_query_and_no_list_is_a_usage_error() -> None:
    result = runner.invoke(app, ["cypher"])
    assert result.exit_code == 2
