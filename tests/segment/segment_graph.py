"""A tiny graph in the real embedded store, with its contents kept in Python for an oracle.

Customers and events are written with plain Cypher on a second connection of the same
`LadybugStore`, so `run_segment` runs through the store idgraph itself uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ladybug

from idgraph.store.base import Row
from idgraph.store.ladybug import LadybugStore

#: Columns the tests add to the real schema, as ingest adds trait and event-property columns.
EXTRA_COLUMNS = [
    ("Customer", "lifetime_value", "DOUBLE"),
    ("Customer", "vip", "BOOLEAN"),
    ("Customer", "order", "INT64"),
    # a stored `age` as another stage computes it; segments must compute their own
    ("Customer", "age", "INT64"),
    ("Customer", "last_order_ts", "INT64"),
    ("Event", "campaign", "STRING"),
    ("Event", "total", "DOUBLE"),
]
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
    "age",
    "city",
    "last_seen_ts",
    "last_order_ts",
)


@dataclass
class Graph:
    """What was loaded, kept in Python so tests can compute the expected answer themselves."""

    store: LadybugStore
    conn: ladybug.Connection
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: customer id -> its events as dicts (name, ts, campaign, total)
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add_customer(self, **props: Any) -> None:
        row = {column: props.get(column) for column in CUSTOMER_COLUMNS}
        self.conn.execute(
            "CREATE (:Customer {id: $id, email: $email, first_name: $first_name, "
            "last_name: $last_name, country: $country, record_count: $record_count, "
            "birth_date: $birth_date, lifetime_value: $lifetime_value, vip: $vip, "
            "`order`: $order_value, age: $age, city: $city, last_seen_ts: $last_seen_ts, "
            "last_order_ts: $last_order_ts})",
            {**{k: v for k, v in row.items() if k != "order"}, "order_value": row["order"]},
        )
        self.conn.execute(
            "MATCH (c:Customer {id: $id}) CREATE (c)-[:HAS_RECORD]->(:Record {key: $key})",
            {"id": row["id"], "key": f"crm:{row['id']}"},
        )
        self.customers[str(row["id"])] = row
        self.events[str(row["id"])] = []

    def add_event(
        self,
        customer_id: str,
        name: str,
        ts: int,
        campaign: str | None = None,
        total: float | None = None,
    ) -> None:
        event_id = f"{customer_id}-e{len(self.events[customer_id])}"
        self.conn.execute(
            "MATCH (r:Record {key: $key}) "
            "CREATE (r)-[:PERFORMED]->"
            "(:Event {id: $id, name: $name, ts: $ts, campaign: $campaign, total: $total})",
            {
                "key": f"crm:{customer_id}",
                "id": event_id,
                "name": name,
                "ts": ts,
                "campaign": campaign,
                "total": total,
            },
        )
        self.events[customer_id].append(
            {"name": name, "ts": ts, "campaign": campaign, "total": total}
        )

    def rows(self, cypher: str, params: dict[str, Any]) -> list[Row]:
        result = self.conn.execute(cypher, params)
        assert not isinstance(result, list), "one statement gives one result"
        columns = result.get_column_names()
        return [dict(zip(columns, row, strict=True)) for row in result.get_all()]


def open_graph(path: Path) -> Iterator[Graph]:
    """The real embedded store (full schema) plus the test's trait columns."""
    store = LadybugStore(path / "segments.db")
    conn = store.connection()
    for label, name, kind in EXTRA_COLUMNS:
        ddl = store.dialect.add_column(label, name, kind)  # type: ignore[arg-type]
        assert ddl is not None
        conn.execute(ddl)
    yield Graph(store=store, conn=conn)
    conn.close()
    store.close()
