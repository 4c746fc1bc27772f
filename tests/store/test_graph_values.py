"""Both stores return nodes, relationships and paths in one plain shape (`GraphStore.query`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from idgraph.store.ladybug import LadybugStore
from idgraph.store.neo4j import Neo4jStore
from tests.store.bolt_stub import Answer, BoltStub, node, path, relationship

QUERY = (
    "MATCH p = (c:Customer {id: 'C-1'})-[h:HAS_RECORD]->(r:Record)-[m:MATCHED]->(s:Record) "
    "RETURN c, h, p, [r, s] AS records"
)
EXPECTED = {
    "c": {"id": "C-1", "first_name": "Ada"},
    "h": {"type": "HAS_RECORD"},
    "p": {
        "nodes": [
            {"label": "Customer", "id": "C-1", "first_name": "Ada"},
            {"label": "Record", "key": "crm:1", "source": "crm"},
            {"label": "Record", "key": "web:1", "source": "web"},
        ],
        "relationships": [
            {"type": "HAS_RECORD", "start": "C-1", "end": "crm:1"},
            {"type": "MATCHED", "start": "crm:1", "end": "web:1", "rule": "alias"},
        ],
    },
    "records": [{"key": "crm:1", "source": "crm"}, {"key": "web:1", "source": "web"}],
}


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def test_embedded_store_shape(tmp_path: Path) -> None:
    with LadybugStore(tmp_path / "v.db") as store:
        store.write(
            "setup",
            "CREATE (c:Customer {id: 'C-1', first_name: 'Ada'})"
            "-[:HAS_RECORD]->(r:Record {key: 'crm:1', source: 'crm'}), "
            "(r)-[:MATCHED {rule: 'alias'}]->(:Record {key: 'web:1', source: 'web'})",
        )
        (row,) = store.query("shape", QUERY)
    assert "_ID" not in str(row) and "_LABEL" not in str(row)
    assert _without_nulls(row) == EXPECTED


def test_neo4j_store_shape() -> None:
    customer = node(1, ["Customer"], {"id": "C-1", "first_name": "Ada"})
    crm = node(2, ["Record"], {"key": "crm:1", "source": "crm"})
    web = node(3, ["Record"], {"key": "web:1", "source": "web"})
    has_record = relationship(10, 1, 2, "HAS_RECORD", {})
    walk = path([customer, crm, web], [(10, "HAS_RECORD", {}), (11, "MATCHED", {"rule": "alias"})])

    def server(query: str, params: dict[str, Any]) -> Answer:
        if query == QUERY:
            return Answer(["c", "h", "p", "records"], [[customer, has_record, walk, [crm, web]]])
        return Answer()

    with BoltStub(server) as stub:
        store = Neo4jStore(stub.url, env={"NEO4J_AUTH": "none"})
        (row,) = store.query("shape", QUERY)
        store.close()
    assert row == EXPECTED
