"""Live Neo4j tests: opt-in, and only on a database they are allowed to wipe.

They run with `pytest -m neo4j tests/neo4j` once `IDGRAPH_TEST_NEO4J` names a disposable
Neo4j 5 server (credentials from `NEO4J_AUTH`, or `NEO4J_USER` + `NEO4J_PASSWORD`, and the
database from `NEO4J_DATABASE`, as for idgraph itself); without it they are skipped. Each test
starts from an empty graph, so they delete every node of that database. To make that safe they
first take a census:

- an empty database is claimed by writing one `IdgraphLiveTests` node into it;
- a database holding that node and otherwise only idgraph's labels is one they claimed before;
- anything else (nodes with other labels, or idgraph data they did not claim) stops the whole
  run before anything is written or deleted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from idgraph.cli import app
from idgraph.normalize.record import NormalizeOptions
from idgraph.pipeline import IngestReport, run_ingest
from idgraph.query import IdentityGraph
from idgraph.settings import open_store
from idgraph.store.base import GraphStore
from idgraph.store.schema import NODE_TABLES
from tests.conftest import AS_OF, FIXTURE_INPUTS, ROOT, as_of_ms

URL_ENV = "IDGRAPH_TEST_NEO4J"
MARKER = "IdgraphLiveTests"
SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")
SCHEMA_FILE = ROOT / "cypher" / "schema.cypher"
#: The database every test uses, through the library and the CLI (`--database` reads it too).
DATABASE = os.environ.get("NEO4J_DATABASE") or None

_CENSUS = (
    "MATCH (n) "
    "RETURN count(n) AS total, "
    "count(CASE WHEN $marker IN labels(n) THEN 1 END) AS markers, "
    "count(CASE WHEN NOT $marker IN labels(n) "
    "AND (size(labels(n)) = 0 OR any(l IN labels(n) WHERE NOT l IN $labels)) THEN 1 END) "
    "AS foreign"
)
_CLAIM = (
    f"CREATE (:{MARKER} {{claimed_by: 'idgraph tests/neo4j', claimed_at: datetime(), "
    "note: 'the idgraph live tests may delete every node in this database'})"
)
_WIPE = f"MATCH (n) WHERE NOT n:{MARKER} DETACH DELETE n"
SHOW = {"CONSTRAINTS": "SHOW CONSTRAINTS YIELD name", "INDEXES": "SHOW INDEXES YIELD name"}

runner = CliRunner()


def schema_names(kind: str) -> list[str]:
    """Names of the constraints (`kind="CONSTRAINT"`) or indexes that schema.cypher creates."""
    text = SCHEMA_FILE.read_text(encoding="utf-8")
    return re.findall(rf"^CREATE {kind} (\w+) IF NOT EXISTS", text, flags=re.MULTILINE)


def census(store: GraphStore) -> dict[str, int]:
    """How many nodes the database holds, how many are the claim marker, how many are foreign."""
    rows = store.query(
        "live_tests:census", _CENSUS, {"marker": MARKER, "labels": list(NODE_TABLES)}
    )
    return {key: int(rows[0][key]) for key in ("total", "markers", "foreign")}


def live_store(url: str) -> GraphStore:
    """The live database, opened writable, for the census, the wipe and schema checks."""
    return open_store(url, database=DATABASE)


def open_graph(store: str | Path) -> IdentityGraph:
    """`IdentityGraph` on the live URL (in `DATABASE`) or on an embedded path (which ignores it)."""
    return IdentityGraph(store, default_region="IT", database=DATABASE)


def claim(store: GraphStore, url: str) -> None:
    """Make sure the database may be wiped, claiming it when empty; else stop the test run."""
    counts = census(store)
    if counts["foreign"]:
        pytest.exit(
            f"{URL_ENV}={url}: the database holds {counts['foreign']} node(s) with labels "
            "idgraph does not use. The live tests delete everything; point them at an empty, "
            "disposable Neo4j database instead.",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )
    if counts["total"] == 0:
        store.write("live_tests:claim", _CLAIM)
    elif counts["markers"] == 0:
        pytest.exit(
            f"{URL_ENV}={url}: the database holds {counts['total']} idgraph node(s) that these "
            "tests did not create. They delete everything; point them at an empty, disposable "
            "Neo4j database instead (or empty this one yourself if it really is disposable).",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )


def wipe(url: str) -> None:
    """Delete every node but the claim marker, re-checking the claim first."""
    with live_store(url) as store:
        claim(store, url)
        store.write("live_tests:wipe", _WIPE)
        assert census(store)["total"] == 1


def drop_statements(kinds: tuple[str, ...] = ("CONSTRAINT", "INDEX")) -> list[str]:
    """DROP for each constraint and index schema.cypher creates (names from the file, `\\w+`)."""
    return [f"DROP {kind} {name} IF EXISTS" for kind in kinds for name in schema_names(kind)]


def drop_schema(url: str, *, kinds: tuple[str, ...] = ("CONSTRAINT", "INDEX")) -> None:
    with live_store(url) as store:
        for number, statement in enumerate(drop_statements(kinds)):
            store.write(f"live_tests:drop#{number}", statement)


def existing_schema(url: str, kind: str) -> set[str]:
    """Names of the `CONSTRAINTS` or `INDEXES` the live database holds."""
    with live_store(url) as store:
        return {row["name"] for row in store.query(f"live_tests:show_{kind}", SHOW[kind])}


def harness_statements() -> list[tuple[str, str, list[str]]]:
    """Every statement these tests send besides idgraph's own, for Neo4j's linter."""
    return [
        ("census", _CENSUS, ["marker", "labels"]),
        ("claim", _CLAIM, []),
        ("wipe", _WIPE, []),
        *((f"show_{kind}", text, []) for kind, text in SHOW.items()),
        *((f"drop#{i}", text, []) for i, text in enumerate(drop_statements())),
    ]


def cli(*args: str) -> Result:
    """`idgraph ARGS` in-process, as a user would type it."""
    return runner.invoke(app, list(args))


def apply_schema(url: str) -> None:
    result = cli("schema", "apply", "--store", url)
    assert result.exit_code == 0, result.output


def ingest(store: str | Path, folder: Path, paths: list[Path] | None = None) -> IngestReport:
    """The fixtures (or `paths`) through the public pipeline, as the tests' conftest does."""
    return run_ingest(
        paths or FIXTURE_INPUTS,
        store=store,
        database=DATABASE,
        options=NormalizeOptions(default_region="IT"),
        rejects_path=folder / "rejects.jsonl",
        as_of_ms=as_of_ms(AS_OF),
    )


@pytest.fixture(scope="session")
def neo4j_url() -> str:
    """The live server's URL, after making sure its database is one the tests may wipe."""
    url = os.environ.get(URL_ENV, "").strip()
    if not url:
        pytest.skip(
            f"{URL_ENV} is not set: set it to the bolt:// URL of a disposable Neo4j 5 database "
            "(see docs/neo4j.md) to run the live tests"
        )
    if url.split("://", 1)[0] not in SCHEMES:
        pytest.exit(
            f"{URL_ENV}={url!r} is not a Neo4j URL; use bolt://host:7687 or neo4j://host:7687",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )
    with live_store(url) as store:
        claim(store, url)
    return url


@pytest.fixture
def empty_neo4j(neo4j_url: str) -> str:
    """The live database with no idgraph data and the schema applied."""
    wipe(neo4j_url)
    apply_schema(neo4j_url)
    return neo4j_url


@pytest.fixture(scope="module")
def neo4j_fixtures(
    neo4j_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, IngestReport]]:
    """The fixtures ingested once into the live database, for tests that only read."""
    wipe(neo4j_url)
    apply_schema(neo4j_url)
    report = ingest(neo4j_url, tmp_path_factory.mktemp("neo4j_fixtures"))
    yield neo4j_url, report
