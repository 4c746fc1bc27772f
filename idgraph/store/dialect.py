"""Everything that differs between Neo4j's Cypher and LadybugDB's, in one place.

The rest of idgraph writes engine-neutral Cypher (`store/queries.py`, segment compilation) and
asks the store's `Dialect` for the few fragments that differ: DDL, bulk writes, the property-type
catalogue, shortest paths and the functions around them (`type(r)` / `label(r)`, list
comprehensions / `properties(list, key)`).

Every value travels as a parameter; the only names spliced into text are schema names from
`store/schema.py` and property keys that passed `check_property_name`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from idgraph.store.schema import (
    NEO4J_INDEXES,
    NODE_TABLES,
    PRIMARY_KEYS,
    REL_TABLES,
    ColumnType,
    constraint_name,
)

Engine = Literal["ladybug", "neo4j"]

#: Longest evidence path `explain` looks for, in relationships (an identifier hop counts two).
MAX_EVIDENCE_HOPS: Final = 16

#: Neo4j's names for property types (`db.schema.nodeTypeProperties`), as schema column types.
_NEO4J_TYPES: Final[dict[str, ColumnType]] = {
    "String": "STRING",
    "Long": "INT64",
    "Integer": "INT64",
    "Double": "DOUBLE",
    "Float": "DOUBLE",
    "Boolean": "BOOLEAN",
}
#: LadybugDB's `table_info` spells some types differently from its DDL.
_LADYBUG_TYPES: Final[dict[str, ColumnType]] = {
    "STRING": "STRING",
    "INT64": "INT64",
    "INT": "INT64",
    "DOUBLE": "DOUBLE",
    "FLOAT": "DOUBLE",
    "BOOL": "BOOLEAN",
    "BOOLEAN": "BOOLEAN",
    "STRING[]": "STRING[]",
}


@dataclass(frozen=True, slots=True)
class Dialect:
    """Text fragments whose spelling depends on the engine."""

    engine: Engine

    def _embedded_only(self, why: str) -> None:
        """Refuse a statement only the embedded engine has (`why` says what Neo4j lacks)."""
        if self.engine == "neo4j":
            raise NotImplementedError(why)

    # -- schema -----------------------------------------------------------------------------

    def schema_statements(self) -> list[str]:
        """Statements creating the schema, each safe to run again (`IF NOT EXISTS`).

        On Neo4j these are the uniqueness constraints behind every `MERGE` key and a few
        indexes (`cypher/schema.cypher` holds the same text, checked by a test); LadybugDB
        declares typed node and relationship tables instead.
        """
        if self.engine == "neo4j":
            statements = [
                f"CREATE CONSTRAINT {constraint_name(label)} IF NOT EXISTS "
                f"FOR (n:{label}) REQUIRE n.{key} IS UNIQUE"
                for label, key in PRIMARY_KEYS.items()
            ]
            for name, (label, keys) in NEO4J_INDEXES.items():
                on = ", ".join(f"n.{k}" for k in keys)
                statements.append(f"CREATE INDEX {name} IF NOT EXISTS FOR (n:{label}) ON ({on})")
            return statements
        statements = []
        for label, columns in NODE_TABLES.items():
            cols = ", ".join(f"{name} {kind}" for name, kind in columns.items())
            statements.append(
                f"CREATE NODE TABLE IF NOT EXISTS {label}({cols}, "
                f"PRIMARY KEY({PRIMARY_KEYS[label]}))"
            )
        for rel, (src, dst, props) in REL_TABLES.items():
            extra = "".join(f", {name} {kind}" for name, kind in props.items())
            statements.append(f"CREATE REL TABLE IF NOT EXISTS {rel}(FROM {src} TO {dst}{extra})")
        return statements

    @property
    def declares_columns(self) -> bool:
        """Whether every property must be declared as a typed column before it is written."""
        return self.engine == "ladybug"

    def add_column(self, label: str, name: str, kind: ColumnType) -> str | None:
        """DDL adding a property column, or None where properties need no declaration."""
        if self.engine == "neo4j":
            return None
        return f"ALTER TABLE {label} ADD IF NOT EXISTS `{name}` {kind}"

    def property_types(self, label: str) -> str:
        """A statement listing `label`'s property names and engine type names (`name`, `type`).

        Neo4j reports every type a property has been seen with; `column_type` picks the first.
        """
        if label not in NODE_TABLES:
            raise ValueError(f"unknown label {label!r}")
        if self.engine == "neo4j":
            return (
                "CALL db.schema.nodeTypeProperties() "
                "YIELD nodeLabels, propertyName, propertyTypes "
                "WITH nodeLabels, propertyName, propertyTypes "
                "WHERE $label IN nodeLabels AND propertyName IS NOT NULL "
                "RETURN propertyName AS name, propertyTypes AS type"
            )
        return f"CALL table_info('{label}') RETURN name, type"

    def column_type(self, engine_type: str | list[str] | None) -> ColumnType | None:
        """The schema column type for a type name `property_types` returned, None if unknown."""
        if isinstance(engine_type, list):
            engine_type = engine_type[0] if engine_type else None
        if engine_type is None:
            return None
        table = _NEO4J_TYPES if self.engine == "neo4j" else _LADYBUG_TYPES
        return table.get(engine_type)

    # -- bulk writes --------------------------------------------------------------------------

    def copy_from(self, table: str, source: str) -> str:
        """LadybugDB's bulk load of a node or relationship table from `source`, a quoted file
        path (`idgraph.store.staged`)."""
        self._embedded_only("Neo4j has no COPY FROM; its writes are NEO4J_WRITES")
        if table not in NODE_TABLES and table not in REL_TABLES:
            raise ValueError(f"unknown table {table!r}")
        return f"COPY {table} FROM {source}"

    def create_from(self, table: str, source: str, columns: Sequence[str]) -> str:
        """LadybugDB's row-by-row load of a table from `source`, a quoted file path.

        The file's columns are `c0`, `c1`, ... holding `columns` in order (property names
        can be reserved words; these never are), and for a relationship table `src` and `dst`
        first, the endpoints' primary keys. Unlike `COPY`, it writes through the write-ahead
        log and needs no checkpoint at commit. A relationship whose endpoint is missing would
        simply not be created, so the statement returns how many were, for the caller to
        check.
        """
        self._embedded_only("Neo4j has no LOAD FROM; its writes are NEO4J_WRITES")
        props = ", ".join(f"`{_identifier(name)}`: c{i}" for i, name in enumerate(columns))
        if table in NODE_TABLES:
            return f"LOAD FROM {source} CREATE (:{table} {{{props}}})"
        if table not in REL_TABLES:
            raise ValueError(f"unknown table {table!r}")
        src, dst, _ = REL_TABLES[table]
        body = f" {{{props}}}" if props else ""
        return (
            f"LOAD FROM {source} MATCH (a:{src} {{{PRIMARY_KEYS[src]}: src}}) "
            f"MATCH (b:{dst} {{{PRIMARY_KEYS[dst]}: dst}}) "
            f"CREATE (a)-[:{table}{body}]->(b) RETURN count(*) AS n"
        )

    def update_from(self, table: str, source: str, columns: Sequence[str]) -> str:
        """LadybugDB's update in place of existing nodes from `source`, a quoted file path:
        its column `c0` holds the primary key, `c1`, ... the new values of `columns` in order."""
        self._embedded_only("Neo4j has no LOAD FROM; its writes are NEO4J_WRITES")
        if table not in NODE_TABLES:
            raise ValueError(f"unknown node table {table!r}")
        sets = ", ".join(f"n.`{_identifier(name)}` = c{i + 1}" for i, name in enumerate(columns))
        return (
            f"LOAD FROM {source} MATCH (n:{table} {{{PRIMARY_KEYS[table]}: c0}}) "
            f"SET {sets} RETURN count(*) AS n"
        )

    def page_nodes(self, label: str, columns: Sequence[str]) -> str:
        """One page of `label`'s nodes, `columns` in order, by internal offset (`$lo` to `$hi`).

        For reading a whole table in bounded memory (`store/neo4j_import.py`); offsets are the
        embedded engine's own row numbers, so a page is a cheap filtered scan.
        """
        self._embedded_only("paging by internal offset exists on LadybugDB only")
        if label not in NODE_TABLES:
            raise ValueError(f"unknown label {label!r}")
        values = ", ".join(f"n.`{_identifier(name)}` AS c{i}" for i, name in enumerate(columns))
        return (
            f"MATCH (n:{label}) WHERE offset(ID(n)) >= $lo AND offset(ID(n)) < $hi RETURN {values}"
        )

    def page_relationships(self, rel: str) -> str:
        """One page of `rel`'s relationships: the endpoints' keys (`src`, `dst`), then the
        properties in the schema's order (`c0`, `c1`, ...), for start nodes whose offset is
        from `$lo` to `$hi`."""
        self._embedded_only("paging by internal offset exists on LadybugDB only")
        if rel not in REL_TABLES:
            raise ValueError(f"unknown relationship type {rel!r}")
        src, dst, props = REL_TABLES[rel]
        values = "".join(f", r.`{name}` AS c{i}" for i, name in enumerate(props))
        return (
            f"MATCH (a:{src})-[r:{rel}]->(b:{dst}) "
            "WHERE offset(ID(a)) >= $lo AND offset(ID(a)) < $hi "
            f"RETURN a.{PRIMARY_KEYS[src]} AS src, b.{PRIMARY_KEYS[dst]} AS dst{values}"
        )

    def last_offset(self, label: str) -> str:
        """The highest internal offset of `label`'s nodes (`n`, null when there are none)."""
        self._embedded_only("internal offsets exist on LadybugDB only")
        if label not in NODE_TABLES:
            raise ValueError(f"unknown label {label!r}")
        return f"MATCH (n:{label}) RETURN max(offset(ID(n))) AS n"

    # -- reads --------------------------------------------------------------------------------

    def property_ref(self, variable: str, key: str) -> str:
        """`variable.key` with the key back-quoted, so reserved words (`order`) stay keys.

        Both engines quote identifiers with backticks; `key` has passed the allowlist pattern,
        so it cannot contain one.
        """
        return f"{variable}.`{key}`"

    def count_events(self, where: str) -> str:
        """A `COUNT { }` subquery over the events of customer `c` (Cypher 5; LadybugDB runs it)."""
        return (
            f"COUNT {{ MATCH (c)-[:HAS_RECORD]->(:Record)-[:PERFORMED]->(e:Event) WHERE {where} }}"
        )

    def count_accounts(self, where: str) -> str:
        """A `COUNT { }` subquery over the accounts customer `c` belongs to (`group` calls)."""
        return (
            "COUNT { MATCH (c)-[:HAS_RECORD]->(:Record)-[:MEMBER_OF]->(a:Account) "
            f"WHERE {where} }}"
        )

    def aggregate_events(
        self,
        variable: str,
        where: str,
        *,
        carried: Sequence[str],
        function: Literal["sum", "avg"],
        key: str,
        alias: str,
        count_alias: str,
    ) -> str:
        """One step of a segment's aggregate chain over the events of customer `c`.

        `OPTIONAL MATCH` keeps customers without a matching event; `count_alias` counts the
        events that have the property, because `sum` of nothing is 0 on Neo4j but null on
        LadybugDB. The `WITH` carries `c` and the aggregates of earlier steps (`carried`).
        """
        keep = "".join(f", {name}" for name in carried)
        ref = self.property_ref(variable, key)
        return (
            f"OPTIONAL MATCH (c)-[:HAS_RECORD]->(:Record)-[:PERFORMED]->({variable}:Event) "
            f"WHERE {where} "
            f"WITH c{keep}, {function}({ref}) AS {alias}, count({ref}) AS {count_alias}"
        )

    def evidence_path(self) -> str:
        """The shortest evidence path between records `$record_a` and `$record_b`.

        It runs over `MATCHED` edges and shared identifiers that link (`linking = true`), and
        returns parallel lists: `keys` and `labels` of the nodes in order, and `types`,
        `rules`, `fields`, `scores` of the relationships between them.
        """
        start = "MATCH (a:Record {key: $record_a}) MATCH (b:Record {key: $record_b}) "
        if self.engine == "neo4j":
            hops = f"*..{MAX_EVIDENCE_HOPS}"
            return (
                start + f"MATCH p = shortestPath((a)-[:MATCHED|HAS_IDENTIFIER{hops}]-(b)) "
                "WHERE all(n IN nodes(p) WHERE NOT n:Identifier OR n.linking) "
                "RETURN [n IN nodes(p) | n.key] AS keys, "
                "[n IN nodes(p) | labels(n)[0]] AS labels, "
                "[r IN relationships(p) | type(r)] AS types, "
                "[r IN relationships(p) | r.rule] AS rules, "
                "[r IN relationships(p) | r.fields] AS fields, "
                "[r IN relationships(p) | r.score] AS scores"
            )
        return (
            start + f"MATCH p = (a)-[:MATCHED|HAS_IDENTIFIER* SHORTEST 1..{MAX_EVIDENCE_HOPS} "
            "(r, n | WHERE n.linking IS NULL OR n.linking = true)]-(b) "
            "RETURN properties(nodes(p), 'key') AS keys, "
            "properties(nodes(p), '_label') AS labels, "
            "properties(rels(p), '_label') AS types, "
            "properties(rels(p), 'rule') AS rules, "
            "properties(rels(p), 'fields') AS fields, "
            "properties(rels(p), 'score') AS scores"
        )


LADYBUG = Dialect(engine="ladybug")
NEO4J = Dialect(engine="neo4j")


#: Row writes both engines send as they are: each takes `$rows` (a list of maps), but
#: `stamp_state`, which takes `$key` and `$value`.
ROW_WRITES: Final[dict[str, str]] = {
    "remember_erased": (
        "UNWIND $rows AS row MERGE (e:ErasedIdentifier {hash: row.hash}) "
        "ON CREATE SET e.kind = row.kind, e.ts = row.ts"
    ),
    # A reviewer's split undone (`idgraph unsplit`); pairs are stored a < b, from a to b.
    "drop_cannot_links": (
        "UNWIND $rows AS row "
        "MATCH (a:Record {key: row.a})-[k:CANNOT_LINK]->(b:Record {key: row.b}) DELETE k"
    ),
    "update_rfm": (
        "UNWIND $rows AS row MATCH (c:Customer {id: row.id}) "
        "SET c.rfm_recency = row.rfm_recency, c.rfm_frequency = row.rfm_frequency, "
        "c.rfm_monetary = row.rfm_monetary, c.rfm_score = row.rfm_score"
    ),
    "retire_customer_ids": (
        "UNWIND $rows AS row MATCH (x:CustomerId {id: row.id}) "
        "SET x.status = row.status, x.retired_ts = row.ts"
    ),
    # A group call's membership (`idgraph.store.accounts`); its account is merged before.
    "merge_member_of": (
        "UNWIND $rows AS row MATCH (r:Record {key: row.record}) "
        "MATCH (a:Account {id: row.account}) MERGE (r)-[m:MEMBER_OF]->(a) "
        "ON CREATE SET m.since_ts = row.since_ts, m.updated_ts = row.updated_ts "
        "ON MATCH SET m.since_ts = CASE WHEN row.since_ts < m.since_ts THEN row.since_ts "
        "ELSE m.since_ts END, m.updated_ts = CASE WHEN row.updated_ts > m.updated_ts "
        "THEN row.updated_ts ELSE m.updated_ts END"
    ),
    # The version the columnar mirror beside the store must carry (`idgraph.state.mirror`).
    "stamp_state": "MERGE (m:Meta {key: $key}) SET m.value = $value",
}


#: Neo4j's batched, idempotent writes (`store/neo4j.py` says in which order). Each takes `$rows`
#: (a list of maps) except the `delete_*` loops, which take `$limit` (and `$rules`) and return
#: how many they removed. `SET x = row` replaces every property, so a trait a customer lost or
#: a field a record no longer has goes away (Neo4j stores no nulls).
NEO4J_WRITES: Final[dict[str, str]] = {
    "merge_records": "UNWIND $rows AS row MERGE (r:Record {key: row.key}) SET r = row",
    "merge_identifiers": "UNWIND $rows AS row MERGE (i:Identifier {key: row.key}) SET i = row",
    "merge_record_identifiers": (
        "UNWIND $rows AS row MATCH (r:Record {key: row.record}) "
        "MATCH (i:Identifier {key: row.identifier}) MERGE (r)-[:HAS_IDENTIFIER]->(i)"
    ),
    "merge_cannot_links": (
        "UNWIND $rows AS row MATCH (a:Record {key: row.a}) MATCH (b:Record {key: row.b}) "
        "MERGE (a)-[k:CANNOT_LINK]->(b) SET k.reason = row.reason, k.ts = row.ts"
    ),
    "merge_events": (
        "UNWIND $rows AS row MERGE (e:Event {id: row.id}) SET e = row "
        "WITH e, row MATCH (r:Record {key: row.record_key}) MERGE (r)-[:PERFORMED]->(e)"
    ),
    "merge_matched": (
        "UNWIND $rows AS row MATCH (a:Record {key: row.a}) MATCH (b:Record {key: row.b}) "
        "MERGE (a)-[m:MATCHED {rule: row.rule}]->(b) SET m.fields = row.fields, m.score = row.score"
    ),
    "merge_customers": "UNWIND $rows AS row MERGE (c:Customer {id: row.id}) SET c = row",
    # Newest group call wins key by key (`idgraph.store.accounts`); LadybugDB, which has no
    # `+=`, runs `ladybug_account_statement` instead.
    "merge_accounts": (
        "UNWIND $rows AS row MERGE (a:Account {id: row.id}) "
        "ON CREATE SET a.first_seen_ts = row.first_seen_ts, a.updated_ts = row.updated_ts "
        "WITH a, row, row.updated_ts >= a.updated_ts AS newer "
        "SET a += CASE WHEN newer THEN row.props ELSE {} END, "
        "a.first_seen_ts = CASE WHEN row.first_seen_ts < a.first_seen_ts "
        "THEN row.first_seen_ts ELSE a.first_seen_ts END, "
        "a.updated_ts = CASE WHEN newer THEN row.updated_ts ELSE a.updated_ts END"
    ),
    "detach_moved_records": (
        "UNWIND $rows AS row MATCH (c:Customer)-[h:HAS_RECORD]->(:Record {key: row.record}) "
        "WHERE c.id <> row.customer DELETE h"
    ),
    "merge_memberships": (
        "UNWIND $rows AS row MATCH (c:Customer {id: row.customer}) "
        "MATCH (r:Record {key: row.record}) MERGE (c)-[:HAS_RECORD]->(r)"
    ),
    "delete_empty_customers": (
        "MATCH (c:Customer) WHERE NOT (c)-[:HAS_RECORD]->(:Record) "
        "WITH c LIMIT $limit DETACH DELETE c RETURN count(*) AS n"
    ),
    "delete_computed_evidence": (
        "MATCH (:Record)-[m:MATCHED]->(:Record) WHERE NOT m.rule IN $rules "
        "WITH m LIMIT $limit DELETE m RETURN count(*) AS n"
    ),
    "drop_records": (
        "UNWIND $rows AS row MATCH (r:Record {key: row.key}) "
        "OPTIONAL MATCH (r)-[:PERFORMED]->(e:Event) DETACH DELETE e, r"
    ),
    "drop_orphan_identifiers": (
        "UNWIND $rows AS row MATCH (i:Identifier {key: row.key}) "
        "WHERE NOT EXISTS { MATCH (i)<-[:HAS_IDENTIFIER]-(:Record) } DETACH DELETE i"
    ),
    "drop_empty_customers": (
        "UNWIND $rows AS row MATCH (c:Customer {id: row.id}) "
        "WHERE NOT EXISTS { MATCH (c)-[:HAS_RECORD]->(:Record) } DETACH DELETE c"
    ),
    "drop_computed_evidence": (
        "UNWIND $rows AS row MATCH (:Record {key: row.key})-[m:MATCHED]->(:Record) "
        "WHERE NOT m.rule IN $rules DELETE m"
    ),
    "merge_customer_ids": (
        "UNWIND $rows AS row MERGE (x:CustomerId {id: row.id}) "
        "ON CREATE SET x.created_ts = row.created_ts, x.status = row.status"
    ),
    "merge_merged_into": (
        "UNWIND $rows AS row MATCH (a:CustomerId {id: row.old}) MATCH (b:CustomerId {id: row.new}) "
        "MERGE (a)-[m:MERGED_INTO]->(b) "
        "SET m.ts = row.ts, m.evidence = row.evidence, m.records = row.records"
    ),
    "merge_split_from": (
        "UNWIND $rows AS row MATCH (a:CustomerId {id: row.new}) MATCH (b:CustomerId {id: row.old}) "
        "MERGE (a)-[m:SPLIT_FROM]->(b) "
        "SET m.ts = row.ts, m.reason = row.reason, m.records = row.records"
    ),
    # Keyed by time too: records can move between the same two customers more than once.
    "merge_moved_to": (
        "UNWIND $rows AS row MATCH (a:CustomerId {id: row.origin}) "
        "MATCH (b:CustomerId {id: row.target}) "
        "MERGE (a)-[m:MOVED_TO {ts: row.ts}]->(b) "
        "SET m.reason = row.reason, m.evidence = row.evidence, m.records = row.records"
    ),
    **ROW_WRITES,
}

#: What the Neo4j store asks the server before it writes.
NEO4J_CHECKS: Final[dict[str, str]] = {
    "constraints": (
        "SHOW CONSTRAINTS YIELD type, labelsOrTypes, properties "
        "RETURN type, labelsOrTypes AS labels, properties"
    ),
}

#: LadybugDB's writes besides `COPY FROM`: one explicit transaction per ingest, row updates by
#: `UNWIND`, and the deletes that let customers and computed evidence be rewritten whole (with
#: the segment memberships read first, to be copied back onto the customers that remain).
LADYBUG_WRITES: Final[dict[str, str]] = {
    "begin": "BEGIN TRANSACTION",
    "commit": "COMMIT",
    "rollback": "ROLLBACK",
    "update_records": "UNWIND $rows AS row MATCH (r:Record {key: row.key}) SET "
    + ", ".join(f"r.{name} = row.{name}" for name in NODE_TABLES["Record"] if name != "key"),
    "update_identifiers": (
        "UNWIND $rows AS row MATCH (i:Identifier {key: row.key}) "
        "SET i.linking = row.linking, i.reason = row.reason"
    ),
    "segment_memberships": (
        "MATCH (c:Customer)-[m:IN_SEGMENT]->(s:Segment) "
        "RETURN c.id AS customer, s.name AS segment, m.since_ts AS since_ts"
    ),
    # The walks of these two reads are OPTIONAL MATCHes after the keyed MATCH: LadybugDB then
    # finds each key through its index and walks from it (5 ms for 800 keys at 100k
    # customers); a walk in the first MATCH is planned as a join over a scan of the whole
    # relationship table, or costs a statement per key (`LadybugStore._keyed_rows`, 50-90 ms).
    # Keys without a match give one row of nulls, which the callers drop.
    "segment_memberships_of": (
        "UNWIND $ids AS cid MATCH (c:Customer {id: cid}) "
        "OPTIONAL MATCH (c)-[m:IN_SEGMENT]->(s:Segment) "
        "RETURN c.id AS customer, s.name AS segment, m.since_ts AS since_ts"
    ),
    "delete_customers": "MATCH (c:Customer) DETACH DELETE c",
    "delete_customers_of": "UNWIND $ids AS cid MATCH (c:Customer {id: cid}) DETACH DELETE c",
    "delete_computed_evidence": (
        "MATCH (:Record)-[m:MATCHED]->(:Record) WHERE NOT m.rule IN $rules DELETE m"
    ),
    "delete_computed_evidence_of": (
        "UNWIND $keys AS k MATCH (:Record {key: k})-[m:MATCHED]->(:Record) "
        "WHERE NOT m.rule IN $rules DELETE m"
    ),
    "computed_evidence_of": (
        "UNWIND $keys AS k MATCH (a:Record {key: k}) "
        "OPTIONAL MATCH (a)-[m:MATCHED]->(b:Record) WHERE NOT m.rule IN $rules "
        "RETURN a.key AS a, b.key AS b, m.rule AS rule, m.fields AS fields, m.score AS score"
    ),
    "delete_evidence_edge": (
        "MATCH (:Record {key: $a})-[m:MATCHED]->(:Record {key: $b}) "
        "WHERE m.rule = $rule AND m.fields = $fields DELETE m"
    ),
    "delete_records": (
        "UNWIND $keys AS k MATCH (r:Record {key: k}) "
        "OPTIONAL MATCH (r)-[:PERFORMED]->(e:Event) DETACH DELETE e, r"
    ),
    "delete_orphan_identifiers": (
        "UNWIND $keys AS k MATCH (i:Identifier {key: k}) "
        "WHERE NOT EXISTS { MATCH (i)<-[:HAS_IDENTIFIER]-(:Record) } DETACH DELETE i"
    ),
    **ROW_WRITES,
}


def _identifier(name: str) -> str:
    """`name`, checked to be a plain identifier before it is back-quoted into a statement."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"not a property name: {name!r}")
    return name
