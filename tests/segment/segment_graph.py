"""A tiny real LadybugDB graph in the idgraph schema, and a GraphStore over it.

The database is built directly with the `ladybug` package (the project's store module is being
written alongside); `LadybugConnectionStore` is the thinnest real `GraphStore` over one
connection, so `run_segment` is exercised on the engine itself, not on a mock.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ladybug

from idgraph.store.base import GraphStore, Row
from idgraph.store.dialect import LADYBUG
from idgraph.store.plan import StoreState, WritePlan

DDL = [
    "CREATE NODE TABLE Customer(id STRING, email STRING, first_name STRING, last_name STRING, "
    "country STRING, record_count INT64, birth_date STRING, lifetime_value DOUBLE, vip BOOLEAN, "
    "`order` INT64, PRIMARY KEY(id))",
    "CREATE NODE TABLE Record(key STRING, PRIMARY KEY(key))",
    "CREATE NODE TABLE Event(id STRING, name STRING, ts INT64, campaign STRING, PRIMARY KEY(id))",
    "CREATE REL TABLE HAS_RECORD(FROM Customer TO Record)",
    "CREATE REL TABLE PERFORMED(FROM Record TO Event)",
]
_TYPES = {"STRING": "string", "INT64": "number", "DOUBLE": "number", "BOOL": "boolean"}
CUSTOMER_COLUMNS = (
    "id",
    "email",
    "first_name",
    "last_name",
    "country",
    "record_count",
    "birth_date",
    "lifetime_value",
    "vip",
    "order",
)


@dataclass
class Graph:
    """What was loaded, kept in Python so tests can compute the expected answer themselves."""

    conn: ladybug.Connection
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: customer id -> its events as dicts (name, ts, campaign)
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add_customer(self, **props: Any) -> None:
        row = {column: props.get(column) for column in CUSTOMER_COLUMNS}
        self.conn.execute(
            "CREATE (:Customer {id: $id, email: $email, first_name: $first_name, "
            "last_name: $last_name, country: $country, record_count: $record_count, "
            "birth_date: $birth_date, lifetime_value: $lifetime_value, vip: $vip, "
            "`order`: $order_value})",
            {**{k: v for k, v in row.items() if k != "order"}, "order_value": row["order"]},
        )
        self.conn.execute(
            "MATCH (c:Customer {id: $id}) CREATE (c)-[:HAS_RECORD]->(:Record {key: $key})",
            {"id": row["id"], "key": f"crm:{row['id']}"},
        )
        self.customers[str(row["id"])] = row
        self.events[str(row["id"])] = []

    def add_event(self, customer_id: str, name: str, ts: int, campaign: str | None = None) -> None:
        event_id = f"{customer_id}-e{len(self.events[customer_id])}"
        self.conn.execute(
            "MATCH (r:Record {key: $key}) "
            "CREATE (r)-[:PERFORMED]->"
            "(:Event {id: $id, name: $name, ts: $ts, campaign: $campaign})",
            {
                "key": f"crm:{customer_id}",
                "id": event_id,
                "name": name,
                "ts": ts,
                "campaign": campaign,
            },
        )
        self.events[customer_id].append({"name": name, "ts": ts, "campaign": campaign})

    def rows(self, cypher: str, params: dict[str, Any]) -> list[Row]:
        result = self.conn.execute(cypher, params)
        assert not isinstance(result, list), "one statement gives one result"
        columns = result.get_column_names()
        return [dict(zip(columns, row, strict=True)) for row in result.get_all()]


class LadybugConnectionStore(GraphStore):
    """A GraphStore over one LadybugDB connection (tests only; see idgraph/store/ladybug.py)."""

    dialect = LADYBUG

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.location = "test database"

    def _run(self, cypher: str, params: dict[str, Any]) -> list[Row]:
        return self.graph.rows(cypher, params)

    def customer_properties(self) -> dict[str, str]:
        rows = self.graph.rows("CALL table_info('Customer') RETURN *", {})
        return {row["name"]: _TYPES[row["type"]] for row in rows}

    def close(self) -> None:
        pass

    def _load_state(self) -> StoreState:
        raise NotImplementedError("read-only test store")

    def _apply(self, plan: WritePlan) -> None:
        raise NotImplementedError("read-only test store")

    def existing_event_ids(self, ids: list[str]) -> set[str]:
        raise NotImplementedError("read-only test store")


def open_graph(path: Path) -> Iterator[Graph]:
    db = ladybug.Database(str(path / "segments.db"))
    conn = ladybug.Connection(db)
    for statement in DDL:
        conn.execute(statement)
    yield Graph(conn=conn)
    conn.close()
    db.close()
