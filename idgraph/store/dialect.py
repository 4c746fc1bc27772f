"""Everything that differs between Neo4j's Cypher and LadybugDB's, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from idgraph.store.schema import NODE_TABLES, PRIMARY_KEYS, REL_TABLES, ColumnType

Engine = Literal["ladybug", "neo4j"]


@dataclass(frozen=True, slots=True)
class Dialect:
    """Text fragments whose spelling depends on the engine."""

    engine: Engine

    def schema_ddl(self) -> list[str]:
        """Statements creating the schema, each safe to run again."""
        if self.engine == "neo4j":
            raise NotImplementedError("Neo4j DDL lives in cypher/schema.cypher")
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

    def add_column(self, label: str, name: str, kind: ColumnType) -> str | None:
        """DDL adding a property column, or None where properties need no declaration."""
        if self.engine == "neo4j":
            return None
        return f"ALTER TABLE {label} ADD IF NOT EXISTS `{name}` {kind}"


LADYBUG = Dialect(engine="ladybug")
NEO4J = Dialect(engine="neo4j")
