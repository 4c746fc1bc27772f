"""The Neo4j adapter through the real driver, against a Bolt stand-in (`bolt_stub.py`).

Everything the adapter sends on the wire during a fixture ingest and the query-module reads is
captured, checked for shape (batches, parameters, idempotent MERGEs) and linted by Neo4j's own
Cypher front-end with exactly the parameter names that travelled with it.
"""

from __future__ import annotations

import datetime as dt
import re
import socket
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from idgraph.errors import ConfigError, StoreQueryError, StoreUnavailable
from idgraph.normalize.record import NormalizeOptions
from idgraph.pipeline import IngestReport, Overrides, run_ingest
from idgraph.query import IdentityGraph
from idgraph.segment.definition import load_segment
from idgraph.segment.run import folder_resolver, run_segment
from idgraph.store.dialect import NEO4J_WRITES
from idgraph.store.ladybug import LadybugStore
from idgraph.store.neo4j import Neo4jStore, write_steps
from idgraph.store.plan import IdChanges, WritePlan
from idgraph.store.queries import SEGMENT_WRITES
from idgraph.store.schema import PRIMARY_KEYS
from tests.conftest import AS_OF, FIXTURE_INPUTS, FIXTURES, load_truth
from tests.cypherlint import lint
from tests.store.bolt_stub import Answer, BoltStub, Failure, Sent

AUTH = {"NEO4J_AUTH": "neo4j/stub-password"}
SEGMENT_FILES = sorted((FIXTURES / "segments").glob("*.yaml"))
AS_OF_MS = int(dt.datetime.fromisoformat(AS_OF).replace(tzinfo=dt.UTC).timestamp() * 1000)
ALL_CONSTRAINTS = [["UNIQUENESS", [label], [key]] for label, key in PRIMARY_KEYS.items()]


def empty_database(query: str, params: dict[str, Any]) -> Answer:
    """A Neo4j 5 database with idgraph's schema applied and nothing else."""
    if query.startswith("SHOW CONSTRAINTS"):
        return Answer(["type", "labels", "properties"], ALL_CONSTRAINTS)
    if re.search(r"RETURN count\([\w*]+\) AS n$", query):
        return Answer(["n"], [[0]])
    return Answer()


#: Two different people the wire ingest also splits apart (the embedded fixture store does not).
SPLIT_APART = ("crm:C1026", "crm:C1028")


@pytest.fixture(scope="module")
def ingest_wire(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Sent], int]:
    """The fixtures ingested into the stand-in, 100 rows a batch; what went over the wire."""
    folder = tmp_path_factory.mktemp("neo4j_wire")
    with pytest.MonkeyPatch.context() as mp:
        for name, value in AUTH.items():
            mp.setenv(name, value)
        mp.setattr("idgraph.store.neo4j.DEFAULT_BATCH_SIZE", 100)
        with BoltStub(empty_database) as stub:
            run_ingest(
                FIXTURE_INPUTS,
                store=stub.url,
                options=NormalizeOptions(default_region="IT"),
                rejects_path=folder / "rejects.jsonl",
                as_of_ms=AS_OF_MS,
                # two different people already: exercises the write without changing customers
                overrides=Overrides(cannot_link=[SPLIT_APART]),
            )
            return list(stub.sent), stub.commits


@pytest.fixture(scope="module")
def full_wire(tmp_path_factory: pytest.TempPathFactory) -> list[Sent]:
    """A full re-resolve (`--full`) of one fixture file: what only a full run sends."""
    folder = tmp_path_factory.mktemp("neo4j_full_wire")
    with pytest.MonkeyPatch.context() as mp:
        for name, value in AUTH.items():
            mp.setenv(name, value)
        with BoltStub(empty_database) as stub:
            run_ingest(
                FIXTURE_INPUTS[:1],
                store=stub.url,
                options=NormalizeOptions(default_region="IT"),
                rejects_path=folder / "rejects.jsonl",
                as_of_ms=AS_OF_MS,
                full=True,
            )
            return list(stub.sent)


def _change_plan() -> WritePlan:
    """An incremental plan with every kind of change an empty stand-in cannot provoke:
    an erasure, ids merged, split, moved and erased, RFM scores moved, group calls, a split
    undone."""
    return WritePlan(
        full=False,
        removed_apart=pl.DataFrame({"a": ["crm:1"], "b": ["crm:3"]}),
        retired_customers=["C-1", "C-2"],
        scope_records=["crm:1"],
        erased_records=["crm:2"],
        erased_identifiers=["email:x@example.com"],
        erased_hashes=[("ab12", "email", 1)],
        trait_updates=pl.DataFrame(
            {
                "id": ["C-5"],
                "rfm_recency": [3],
                "rfm_frequency": [2],
                "rfm_monetary": [1],
                "rfm_score": ["321"],
            }
        ),
        groups=pl.DataFrame(
            {
                "line": [1, 2],
                "record_key": ["crm:1", "crm:3"],
                "account": ["acme", "acme"],
                "ts": [1, 2],
                "traits": ['{"plan":"pro","seats":3.0}', '{"plan":"enterprise"}'],
            }
        ),
        ids=IdChanges(
            created=[("C-3", 1)],
            merged=[("C-2", "C-1", 1, "crm:1 ~ crm:3 by same_email", 2)],
            split=[("C-3", "C-1", 1, "split by a reviewer", 1)],
            moved=[("C-1", "C-5", 1, "split by a reviewer", "crm:1 ~ crm:5 by must_link", 1)],
            erased=[("C-4", 1)],
        ),
    )


def _plan_statements(plan: WritePlan) -> list[tuple[str, str, tuple[str, ...]]]:
    steps = write_steps(plan, customer_columns={}, event_columns={})
    return [
        (step.name, NEO4J_WRITES[step.name], tuple(re.findall(r"\$(\w+)", NEO4J_WRITES[step.name])))
        for step in steps
        if step.rows or step.name.startswith("delete_")
    ]


def _write_name(query: str) -> str | None:
    return next((name for name, text in NEO4J_WRITES.items() if text == query), None)


def test_every_write_statement_is_a_named_dialect_statement(
    ingest_wire: tuple[list[Sent], int], full_wire: list[Sent]
) -> None:
    sent = [*ingest_wire[0], *full_wire]
    writes = [s for s in sent if s.mode == "w"]
    assert writes
    unknown = {s.query for s in writes if _write_name(s.query) is None}
    assert unknown == set()
    sent_names = {_write_name(s.query) for s in writes}
    planned = {name for name, _, _ in _plan_statements(_change_plan())}
    assert sent_names | planned == set(NEO4J_WRITES)


def test_incremental_change_statements_lint_clean() -> None:
    statements = _plan_statements(_change_plan())
    assert {
        "drop_records",
        "merge_accounts",
        "merge_member_of",
        "merge_merged_into",
        "merge_split_from",
        "remember_erased",
        "update_rfm",
    } <= {name for name, _, _ in statements}
    results = lint([(name, text, params) for name, text, params in statements])
    assert {r.name: r.errors for r in results if r.errors} == {}


def test_rows_are_batched_and_every_record_is_merged_once(
    ingest_wire: tuple[list[Sent], int],
) -> None:
    sent, commits = ingest_wire
    per_step: dict[str, list[int]] = {}
    keys: Counter[str] = Counter()
    for s in sent:
        name = _write_name(s.query)
        if name and "rows" in s.params:
            per_step.setdefault(name, []).append(len(s.params["rows"]))
            if name == "merge_records":
                keys.update(row["key"] for row in s.params["rows"])
    assert max(max(sizes) for sizes in per_step.values()) <= 100
    assert len(per_step["merge_records"]) >= 3  # 248 records in batches of 100
    assert set(keys) == set(load_truth()) and set(keys.values()) == {1}
    assert sum(per_step["merge_memberships"]) == len(load_truth())
    assert commits >= sum(len(sizes) for sizes in per_step.values())


def test_values_travel_as_parameters_never_in_the_text(
    ingest_wire: tuple[list[Sent], int],
) -> None:
    sent, _ = ingest_wire
    record_keys = set(load_truth())
    for s in sent:
        assert not re.search(r"'[^']*'", s.query.replace("'Identifier'", "")), s.query
        assert not any(key in s.query for key in record_keys)


def test_reads_before_writes_are_read_transactions(ingest_wire: tuple[list[Sent], int]) -> None:
    sent, _ = ingest_wire
    reads = [s for s in sent if _write_name(s.query) is None]
    assert len(reads) >= 9  # constraints, property types, the state reads, existing events
    assert {s.mode for s in reads} == {"r"}


def test_everything_sent_lints_clean_with_the_parameters_it_carried(
    ingest_wire: tuple[list[Sent], int], query_wire: list[Sent], full_wire: list[Sent]
) -> None:
    unique = {
        (s.query, tuple(sorted(s.params))) for s in [*ingest_wire[0], *query_wire, *full_wire]
    }
    results = lint([(f"wire#{i}", q, p) for i, (q, p) in enumerate(sorted(unique))])
    for result, (query, _) in zip(results, sorted(unique), strict=True):
        for warning in result.warnings:
            print(f"linter warning {warning} in: {query}")
    failures = {r.name: (q, r.errors) for r, (q, _) in zip(results, sorted(unique), strict=True)}
    assert {k: v for k, v in failures.items() if v[1]} == {}
    assert len(results) > len(NEO4J_WRITES)


#: Neo4j's names for the embedded engine's column types, to describe the fixture store.
_NEO4J_TYPE = {"STRING": "String", "INT64": "Long", "DOUBLE": "Double", "BOOLEAN": "Boolean"}


@pytest.fixture(scope="module")
def query_wire(fixture_store: tuple[Path, IngestReport]) -> list[Sent]:
    """The query module's reads (lookup, profile, stats, explain) and every fixture segment,
    run through the Neo4j store against a stand-in that reports the fixture store's schema."""
    with LadybugStore(fixture_store[0], read_only=True) as embedded:
        columns = {label: embedded.columns(label) for label in ("Customer", "Event")}

    def answers(query: str, params: dict[str, Any]) -> Answer:
        if "db.schema.nodeTypeProperties" in query:
            types = columns.get(params["label"], {})
            rows = [[name, [_NEO4J_TYPE[kind]]] for name, kind in types.items()]
            return Answer(["name", "type"], rows)
        if query.endswith("RETURN c AS customer"):
            return Answer(["customer"], [[{"id": "C-1", "first_name": "Ada", "vip": True}]])
        if "RETURN c.id AS id" in query and "$key" in query:
            return Answer(["id"], [["C-1"]])
        if query == "MATCH (c:Customer {id: $id}) RETURN c.id AS id" and params["id"] == "C-1":
            return Answer(["id"], [["C-1"]])
        if query.startswith("MATCH (a:Record {key: $record_a}) MATCH (b"):
            row = [["crm:1", "email:x@y.z", "web:1"], ["Record", "Identifier", "Record"]]
            return Answer(
                ["keys", "labels", "types", "rules", "fields", "scores"], [row + [[]] * 4]
            )
        return empty_database(query, params)

    with pytest.MonkeyPatch.context() as mp:
        for name, value in AUTH.items():
            mp.setenv(name, value)
        with BoltStub(answers) as stub, IdentityGraph(stub.url) as graph:
            assert graph.lookup("crm:1") == ["C-1"]
            profile = graph.profile("C-1")
            assert profile.golden == {"first_name": "Ada"} and profile.traits == {"vip": True}
            graph.stats()
            path = graph.explain("crm:1", "web:1")
            assert [(s.via, s.identifier) for s in path.steps] == [("identifier", "email:x@y.z")]
            before = len(stub.sent)
            for definition in SEGMENT_FILES:
                run_segment(
                    graph.store,
                    load_segment(definition),
                    as_of_ms=AS_OF_MS,
                    resolve=folder_resolver(definition.parent),
                )
            segment_queries = [
                s.query for s in stub.sent[before:] if "RETURN c.id AS customer_id" in s.query
            ]
            assert len(segment_queries) == len(SEGMENT_FILES)
            return list(stub.sent)


def test_read_only_store_refuses_to_write() -> None:
    with BoltStub(empty_database) as stub:
        store = Neo4jStore(stub.url, read_only=True, env=AUTH)
        with pytest.raises(StoreQueryError, match="read-only"):
            store.write("x", "CREATE (:Segment {name: $n})", {"n": "a"})
        store.close()
        assert stub.sent == []


def test_credentials_go_in_hello_from_the_environment() -> None:
    with BoltStub() as stub:
        Neo4jStore(stub.url, env={"NEO4J_USER": "analyst", "NEO4J_PASSWORD": "pw-12345"}).close()
        assert stub.auth[0]["principal"] == "analyst"
        assert stub.auth[0]["credentials"] == "pw-12345"


def test_schema_apply_sends_the_constraints_then_ingest_accepts_them() -> None:
    created: list[str] = []

    def server(query: str, params: dict[str, Any]) -> Answer:
        if query.startswith("CREATE"):
            created.append(query)
        if query.startswith("SHOW CONSTRAINTS"):
            rows = ALL_CONSTRAINTS if len(created) >= len(PRIMARY_KEYS) else []
            return Answer(["type", "labels", "properties"], rows)
        return empty_database(query, params)

    with BoltStub(server) as stub:
        store = Neo4jStore(stub.url, env=AUTH)
        with pytest.raises(StoreUnavailable, match=r"idgraph schema apply --store bolt://"):
            store.require_schema()
        statements = store.apply_schema()
        store.require_schema()
        store.close()
    assert created == statements
    assert all("IF NOT EXISTS" in s for s in created)


# -- errors a user can act on ---------------------------------------------------------------


def _open_error(stub: BoltStub, **kwargs: Any) -> str:
    with pytest.raises((StoreUnavailable, StoreQueryError, ConfigError)) as info:
        store = Neo4jStore(stub.url, env=kwargs.pop("env", AUTH), **kwargs)
        try:
            store.query("probe", "MATCH (c:Customer) RETURN count(c) AS n")
        finally:
            store.close()
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


@pytest.mark.parametrize(
    ("stub_args", "expected"),
    [
        (
            {"hello_failure": ("Neo.ClientError.Security.Unauthorized", "bad credentials")},
            "refused the credentials given: set NEO4J_AUTH",
        ),
        ({"agent": "Neo4j/4.4.30", "bolt": (4, 4)}, "runs Neo4j 4.4; idgraph needs Neo4j 5"),
        ({"agent": "Memgraph/2.1"}, "not Neo4j"),
    ],
    ids=["wrong-password", "neo4j-4.4", "not-neo4j"],
)
def test_connection_errors_say_what_to_do(stub_args: dict[str, Any], expected: str) -> None:
    with BoltStub(**stub_args) as stub:
        assert expected in _open_error(stub)


def test_no_credentials_against_a_server_that_wants_them() -> None:
    with BoltStub(hello_failure=("Neo.ClientError.Security.Unauthorized", "no auth")) as stub:
        assert "refused no credentials (none are set)" in _open_error(stub, env={})


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("Neo.ClientError.Database.DatabaseNotFound", "has no database 'sales': pass --database"),
        ("Neo.ClientError.Security.Forbidden", "forbids this for the configured user"),
        ("Neo.ClientError.Statement.SyntaxError", "query 'probe' failed: the server's own words"),
    ],
)
def test_statement_failures_become_one_line(code: str, expected: str) -> None:
    def server(query: str, params: dict[str, Any]) -> Answer:
        raise Failure(code, "the server's own words\nand a second line")

    with BoltStub(server) as stub:
        message = _open_error(stub, database="sales")
    assert expected in message


def test_transient_errors_are_retried_by_the_managed_transaction() -> None:
    attempts: list[int] = []

    def flaky(query: str, params: dict[str, Any]) -> Answer:
        if query.startswith("CREATE"):
            attempts.append(1)
            if len(attempts) == 1:
                raise Failure("Neo.TransientError.Transaction.DeadlockDetected", "deadlock")
        return empty_database(query, params)

    with BoltStub(flaky) as stub:
        store = Neo4jStore(stub.url, env=AUTH)
        store.write("one", "CREATE (:Segment {name: $name})", {"name": "x"})
        store.close()
    assert len(attempts) == 2


def test_unreachable_server_names_the_url_and_the_fix() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"bolt://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(StoreUnavailable) as info:
        Neo4jStore(url, env=AUTH)
    assert str(info.value) == (
        f"cannot reach Neo4j at {url}: is it running? Start it with `docker compose up -d` "
        "and wait until `docker compose ps` shows it healthy"
    )


def _sent_rows(sent: list[Sent], statement: str) -> list[dict[str, Any]]:
    return [row for s in sent if _write_name(s.query) == statement for row in s.params["rows"]]


@pytest.mark.parametrize(
    ("statement", "label", "key"),
    [
        ("merge_customers", "Customer", "id"),
        ("merge_records", "Record", "key"),
        ("merge_events", "Event", "id"),
        ("merge_identifiers", "Identifier", "key"),
    ],
)
def test_neo4j_receives_the_nodes_the_embedded_store_holds(
    ingest_wire: tuple[list[Sent], int],
    fixture_store: tuple[Path, IngestReport],
    statement: str,
    label: str,
    key: str,
) -> None:
    """Same properties, same values, same types: what Neo4j stores is what LadybugDB stores."""
    volatile = {"updated_ts"} if label == "Customer" else set()
    sent = {  # Neo4j stores no nulls: `SET n = row` leaves a null property absent
        row[key]: {k: v for k, v in row.items() if v is not None and k not in volatile}
        for row in _sent_rows(ingest_wire[0], statement)
    }
    with LadybugStore(fixture_store[0], read_only=True) as embedded:
        rows = embedded.query("nodes", f"MATCH (n:{label}) RETURN n AS node")
    stored = {
        row["node"][key]: {
            k: v for k, v in row["node"].items() if v is not None and k not in volatile
        }
        for row in rows
    }
    assert sent.keys() == stored.keys()
    differing = [k for k in stored if sent[k] != stored[k]]
    first = differing[0] if differing else None
    assert differing == [], {
        k: (sent[first].get(k), stored[first].get(k))
        for k in sent[first].keys() | stored[first].keys()
        if sent[first].get(k) != stored[first].get(k)
    }
    types = {(k, type(v).__name__) for node in sent.values() for k, v in node.items()}
    assert types == {(k, type(v).__name__) for node in stored.values() for k, v in node.items()}


def test_write_steps_drop_unlisted_properties_and_convert_types() -> None:
    plan = WritePlan(
        customers=pl.DataFrame(
            {
                "id": ["C-1"],
                "record_count": ["3"],
                "lifetime_value": [12],
                "Bad Name": ["x"],
                "vip": [1],
            }
        ),
        customer_columns={"vip": "BOOLEAN"},
    )
    steps = write_steps(plan, customer_columns={"lifetime_value": "DOUBLE"}, event_columns={})
    (customers,) = [step.rows for step in steps if step.name == "merge_customers"]
    assert customers == [{"id": "C-1", "record_count": 3, "lifetime_value": 12.0}]
    with pytest.raises(ConfigError, match="not allowed"):
        write_steps(
            WritePlan(customer_columns={"Bad Name": "STRING"}),
            customer_columns={},
            event_columns={},
        )


def test_write_all_is_one_transaction_committed_once_or_not_at_all() -> None:
    upsert = SEGMENT_WRITES["segment_upsert"]
    mark = SEGMENT_WRITES["segment_mark_run"]
    params = {"name": "s", "description": None, "definition": "name: s", "ts": 1}

    with BoltStub(empty_database) as stub:
        store = Neo4jStore(stub.url, env=AUTH)
        store.write_all(
            "segment_run:s", [(upsert, params), (mark, {"name": "s", "ts": 2, "size": 3})]
        )
        assert [s.query for s in stub.sent] == [upsert, mark]
        assert {s.mode for s in stub.sent} == {"w"} and stub.commits == 1
        store.close()

    def failing(query: str, params: dict[str, Any]) -> Answer:
        if query == mark:
            raise Failure("Neo.ClientError.Statement.SemanticError", "boom")
        return Answer()

    with BoltStub(failing) as stub:
        store = Neo4jStore(stub.url, env=AUTH)
        with pytest.raises(StoreQueryError, match=r"segment_run:s.*boom"):
            store.write_all(
                "segment_run:s", [(upsert, params), (mark, {"name": "s", "ts": 2, "size": 3})]
            )
        store.close()
        assert stub.commits == 0
