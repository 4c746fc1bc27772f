"""The dialect layer: both engines' DDL, type names, and the Neo4j schema file kept in step."""

from __future__ import annotations

from pathlib import Path

import pytest

from idgraph.errors import ConfigError
from idgraph.store.dialect import LADYBUG, NEO4J, NEO4J_WRITES
from idgraph.store.ladybug import LadybugStore
from idgraph.store.neo4j import auth_from_env, check_server_version, check_url
from idgraph.store.schema import NODE_TABLES, PRIMARY_KEYS
from tests.cypherlint import SCHEMA_FILE, split_cypher_file


def test_schema_file_holds_exactly_what_schema_apply_sends_to_neo4j() -> None:
    assert split_cypher_file(SCHEMA_FILE.read_text(encoding="utf-8")) == NEO4J.schema_statements()


def test_every_merge_key_has_a_uniqueness_constraint() -> None:
    statements = NEO4J.schema_statements()
    for label, key in PRIMARY_KEYS.items():
        assert f"FOR (n:{label}) REQUIRE n.{key} IS UNIQUE" in " ".join(statements)
    merged = {
        text.split("MERGE (", 1)[1].split(")")[0]
        for text in NEO4J_WRITES.values()
        if "MERGE (" in text and "{" in text.split("MERGE (", 1)[1].split(")")[0]
    }
    for pattern in merged:
        label, key = pattern.split(":", 1)[1].split(" {")[0], pattern.split("{")[1].split(":")[0]
        assert PRIMARY_KEYS[label] == key, pattern


def test_embedded_schema_applies_twice_and_reports_declared_columns(tmp_path: Path) -> None:
    with LadybugStore(tmp_path / "a.db") as store:
        assert store.apply_schema() == LADYBUG.schema_statements()
        for label, columns in NODE_TABLES.items():
            assert store.columns(label) == columns


@pytest.mark.parametrize(
    ("dialect", "engine_type", "expected"),
    [
        (NEO4J, ["Long"], "INT64"),
        (NEO4J, ["Double", "Long"], "DOUBLE"),
        (NEO4J, "Boolean", "BOOLEAN"),
        (NEO4J, ["String"], "STRING"),
        (NEO4J, ["StringArray"], None),
        (NEO4J, [], None),
        (LADYBUG, "BOOL", "BOOLEAN"),
        (LADYBUG, "INT64", "INT64"),
        (LADYBUG, "STRING[]", "STRING[]"),
        (LADYBUG, "INT64[]", None),
    ],
)
def test_column_type(dialect: object, engine_type: object, expected: str | None) -> None:
    assert dialect.column_type(engine_type) == expected  # type: ignore[attr-defined]


def test_engine_specific_fragments_refuse_the_other_engine() -> None:
    with pytest.raises(NotImplementedError):
        NEO4J.copy_from("Record", "_t")
    with pytest.raises(ValueError, match="unknown table"):
        LADYBUG.copy_from("Record; DROP", "_t")
    with pytest.raises(NotImplementedError):
        NEO4J.create_from("Record", "_t", ["key"])
    with pytest.raises(ValueError, match="unknown table"):
        LADYBUG.create_from("Record; DROP", "_t", ["key"])
    with pytest.raises(ValueError, match="not a property name"):
        LADYBUG.create_from("Customer", "_t", ["id", "x`}) DETACH DELETE (c"])
    with pytest.raises(ValueError, match="unknown label"):
        NEO4J.property_types("Nope")
    assert NEO4J.add_column("Customer", "vip", "BOOLEAN") is None
    assert LADYBUG.add_column("Customer", "vip", "BOOLEAN") == (
        "ALTER TABLE Customer ADD IF NOT EXISTS `vip` BOOLEAN"
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"NEO4J_AUTH": "none"}, None),
        ({"NEO4J_AUTH": "neo4j/s3cret/with/slash"}, ("neo4j", "s3cret/with/slash")),
        ({"NEO4J_USER": "a", "NEO4J_PASSWORD": "b", "NEO4J_AUTH": "x/y"}, ("a", "b")),
    ],
)
def test_auth_from_env(env: dict[str, str], expected: tuple[str, str] | None) -> None:
    assert auth_from_env(env) == expected


@pytest.mark.parametrize(
    "env",
    [{"NEO4J_AUTH": "neo4j"}, {"NEO4J_AUTH": "/pw"}, {"NEO4J_USER": "a"}, {"NEO4J_PASSWORD": "b"}],
)
def test_bad_auth_variables_are_config_errors(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="NEO4J_"):
        auth_from_env(env)


def test_credentials_in_the_url_are_refused() -> None:
    assert check_url("neo4j+s://db.example.com:7687") == "neo4j+s://db.example.com:7687"
    with pytest.raises(ConfigError, match="do not put credentials in the store URL"):
        check_url("bolt://neo4j:secret@localhost:7687")


@pytest.mark.parametrize("agent", ["Neo4j/5.0.0", "Neo4j/5.26.1", "Neo4j/2025.01.0"])
def test_supported_versions(agent: str) -> None:
    check_server_version(agent, "bolt://x")


def test_row_loads_quote_property_names_and_count_relationships() -> None:
    # `order` is a reserved word: quoted as a key, never used as a variable.
    assert LADYBUG.create_from("Customer", "_t", ["id", "order"]) == (
        "LOAD FROM _t CREATE (:Customer {`id`: c0, `order`: c1})"
    )
    assert LADYBUG.create_from("IN_SEGMENT", "_t", ["since_ts"]) == (
        "LOAD FROM _t MATCH (a:Customer {id: src}) MATCH (b:Segment {name: dst}) "
        "CREATE (a)-[:IN_SEGMENT {`since_ts`: c0}]->(b) RETURN count(*) AS n"
    )
