"""The one seam between idgraph's logic and a graph database.

Subclasses implement a handful of hooks (`_run`, `_apply`, `_translate`, `close`); the shared
behaviour (query naming, DEBUG logging without parameter values, error wrapping, reading the
state resolution needs) lives in final methods here so both engines behave alike.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any, cast, final

import orjson

from idgraph.errors import IdGraphError, StoreError, StoreQueryError
from idgraph.models import EXPLICIT_LINK_RULES, Link, Record
from idgraph.store import adjacency
from idgraph.store.dialect import Dialect
from idgraph.store.plan import IdentifierRow, KnownRows, StoredEvent, StoreState, WritePlan
from idgraph.store.queries import SCOPE_READS, SCOPED_STATE_READS, STATE_READS
from idgraph.store.schema import NODE_TABLES, ColumnType
from idgraph.types import FIELD_NAMES, IdentifierKind

logger = logging.getLogger(__name__)

Row = dict[str, Any]

_TRAIT_TYPE: dict[ColumnType, str] = {
    "STRING": "string",
    "INT64": "number",
    "DOUBLE": "number",
    "BOOLEAN": "boolean",
}
#: Keys per `UNWIND` statement. Large on purpose: on the embedded engine each keyed statement
#: costs a scan of the tables it joins whatever the number of keys, so fewer statements win.
_ID_BATCH = 50_000


class GraphStore(ABC):
    """A graph store holding idgraph's schema (see `cypher/schema.cypher`)."""

    dialect: Dialect
    #: Human-readable location, safe to print (never contains credentials).
    location: str

    @final
    def query(self, name: str, cypher: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Run one named read statement and return its rows as dicts keyed by column name.

        Values always travel as parameters; `name` is what logs and errors show. Both engines
        return graph values in one shape: a node is the dict of its properties; a relationship
        is its properties plus `type`; a path is `{"nodes": [...], "relationships": [...]}`
        whose nodes also carry `label` and whose relationships carry the keys of their `start`
        and `end` nodes.
        """
        logger.debug("cypher %s", name)
        with self._engine_errors(name):
            return self._run(cypher, dict(params or {}))

    @final
    def query_columns(
        self, name: str, cypher: str, params: Mapping[str, Any] | None = None
    ) -> dict[str, list[Any]]:
        """Run one named read of plain values and return it column by column.

        For reads of many rows (a whole population of buyers) that would otherwise cost a
        Python dict per row; a column the statement returns is absent when there is no row.
        """
        logger.debug("cypher %s (columns)", name)
        with self._engine_errors(name):
            return self._run_columns(cypher, dict(params or {}))

    @contextmanager
    def _engine_errors(self, name: str) -> Iterator[None]:
        """Engine exceptions become idgraph's own here, once, named after the statement."""
        try:
            yield
        except IdGraphError:
            raise
        except Exception as exc:
            raise self._translate(exc, name) from exc

    def _run_columns(self, cypher: str, params: dict[str, Any]) -> dict[str, list[Any]]:
        rows = self._run(cypher, params)
        return {column: [row[column] for row in rows] for column in (rows[0] if rows else ())}

    @final
    def load_state(
        self, keys: Collection[str] | None = None, *, known: KnownRows | None = None
    ) -> StoreState:
        """What resolution needs from earlier ingests: all of it, or about records `keys` only.

        With `keys` (an incremental ingest's scope, `idgraph/scope.py`) identifiers are those
        of these records, and links, events and cannot-links those starting at them; rows in
        `known` are not read again.
        """
        with self._engine_errors("load_state"):
            return self._load_state(None if keys is None else sorted(keys), known or KnownRows())

    @final
    def apply(self, plan: WritePlan) -> None:
        """Write one ingest's changes atomically: all of them, or none."""
        logger.debug(
            "apply: %d new records, %d events, %d customers",
            len(plan.new_records),
            len(plan.new_events),
            len(plan.customers),
        )
        with self._engine_errors("apply"):
            self._apply(plan)

    @final
    def apply_schema(self) -> list[str]:
        """Create the schema's tables, constraints and indexes; safe to run again.

        Returns:
            The statements that ran, in order.
        """
        statements = self.dialect.schema_statements()
        for number, statement in enumerate(statements, start=1):
            self.write(f"schema#{number}", statement)
        if self.dialect.declares_columns:
            # Stores made by an older idgraph lack columns added to the schema since.
            for label, columns in NODE_TABLES.items():
                present = self.columns(label)
                for name, kind in columns.items():
                    ddl = self.dialect.add_column(label, name, kind)
                    if name not in present and ddl:
                        self.write(f"schema:add:{label}.{name}", ddl)
                        statements.append(ddl)
        return statements

    @final
    def write_all(self, name: str, steps: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Run several writing statements in one transaction: all take effect, or none."""
        logger.debug("cypher %s (%d statements, one transaction)", name, len(steps))
        with self._engine_errors(name):
            self._run_write_all([(cypher, dict(params)) for cypher, params in steps])

    @final
    def write(self, name: str, cypher: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Run one named statement that may change the store (schema, overrides, tests)."""
        logger.debug("cypher %s (write)", name)
        with self._engine_errors(name):
            return self._run_write(cypher, dict(params or {}))

    @final
    def existing_event_ids(self, ids: list[str]) -> set[str]:
        """Which of `ids` are stored already (re-ingest must add nothing)."""
        found: set[str] = set()
        for start in range(0, len(ids), _ID_BATCH):
            rows = self.query(
                "existing_event_ids",
                STATE_READS["existing_event_ids"],
                {"ids": ids[start : start + _ID_BATCH]},
            )
            found.update(row["id"] for row in rows)
        return found

    @final
    def columns(self, label: str) -> dict[str, ColumnType]:
        """Property names of `label` mapped to their column type, as the engine reports them."""
        statement = self.dialect.property_types(label)
        params = {"label": label} if "$label" in statement else {}
        columns: dict[str, ColumnType] = {}
        for row in self.query(f"property_types:{label}", statement, params):
            kind = self.dialect.column_type(row["type"])
            if kind is not None:
                columns.setdefault(row["name"], kind)
        return columns

    @final
    def customer_properties(self) -> dict[str, str]:
        """Property names of `Customer` nodes mapped to a trait type (string/number/boolean)."""
        return {
            name: _TRAIT_TYPE[kind]
            for name, kind in self.columns("Customer").items()
            if kind in _TRAIT_TYPE
        }

    @final
    def scope_rows(self, name: str, values: Collection[str], *, param: str = "keys") -> list[Row]:
        """Rows of one `SCOPE_READS` statement over many keys."""
        return self.keyed_read(name, SCOPE_READS[name], param, values)

    @final
    def keyed_read(
        self,
        name: str,
        cypher: str,
        param: str,
        values: Collection[str],
        extra: Mapping[str, Any] | None = None,
    ) -> list[Row]:
        """Rows of a statement that starts `UNWIND $<param> AS <var>`, over many values.

        Values go in batches of 50,000; `extra` holds the statement's other parameters.
        """
        ordered = sorted(set(values))
        if not ordered:
            return []
        with self._engine_errors(name):
            return self._keyed_rows(cypher, param, ordered, dict(extra or {}))

    def _keyed_rows(
        self, cypher: str, param: str, values: list[str], extra: dict[str, Any]
    ) -> list[Row]:
        rows: list[Row] = []
        for start in range(0, len(values), _ID_BATCH):
            rows.extend(self._run(cypher, {**extra, param: values[start : start + _ID_BATCH]}))
        return rows

    @final
    def load_records(self, keys: Collection[str], *, identifiers: bool = True) -> list[Record]:
        """Just the records `keys`, with their identifiers unless told not to (no events,
        links or customers)."""
        with self._engine_errors("load_records"):
            state = StoreState()
            return list(self._records(sorted(keys), state, identifiers=identifiers).values())

    def _records(
        self,
        keys: list[str] | None,
        state: StoreState,
        *,
        identifiers: bool = True,
        known: KnownRows | None = None,
    ) -> dict[str, Record]:
        known = known or KnownRows()
        unread = None if keys is None else [k for k in keys if k not in known.records]
        for row in self._state_rows(unread, "state_records"):
            key = row["key"]
            state.records[key] = Record(
                key=key,
                source=row["source"],
                source_id=row["source_id"],
                kind=row["kind"],
                updated_ts=row["updated_ts"] or 0,
                fields={n: row[n] for n in FIELD_NAMES if row.get(n)},
                traits=orjson.loads(row["traits"]) if row["traits"] else {},
            )
        for key in keys or ():
            if key in known.records:
                state.records[key] = known.records[key].copy()
        if not identifiers:
            return state.records
        if keys is None:
            for row in self._state_rows(None, "state_record_identifiers"):
                state.records[row["record"]].identifiers.add((row["kind"], row["value"]))
            return state.records
        # Scoped: each record's identifier keys come from the scope index, then the
        # identifiers themselves (with their verdicts) by primary key.
        state.index = {k: known.index[k] for k in state.records if k in known.index}
        state.index |= adjacency.read_records(
            self, [k for k in state.records if k not in known.index]
        )
        wanted = {k for key in state.records for k in state.index[key].identifier_keys}
        state.identifiers |= {k: known.identifiers[k] for k in wanted if k in known.identifiers}
        unknown = sorted(wanted - known.identifiers.keys())
        for row in self._state_rows(unknown, "state_identifiers"):
            _identifier(state, row)
        for key, record in state.records.items():
            for identifier in state.index[key].identifier_keys:
                found = state.identifiers.get(identifier)
                if found is not None:
                    record.identifiers.add((cast(IdentifierKind, found.kind), found.value))
        return state.records

    def _load_state(self, keys: list[str] | None, known: KnownRows) -> StoreState:
        """Read records, explicit links, the record->customer map, events and column types."""
        state = StoreState()
        self._records(keys, state, known=known)
        rules = sorted(EXPLICIT_LINK_RULES)
        if keys is None:
            for row in self._state_rows(None, "state_identifiers"):
                _identifier(state, row)
            for row in self._state_rows(None, "state_assignment"):
                state.assignment[row["record"]] = row["customer"]
            tied: list[str] | None = None
            event_rows = self._state_rows(None, "state_events")
        else:
            for key, index in state.index.items():
                if index.customer is not None:
                    state.assignment[key] = index.customer
            tied = sorted(key for key, index in state.index.items() if index.ties)
            event_ids = sorted({e for index in state.index.values() for e in index.event_ids})
            event_rows = self._state_rows(event_ids, "state_events")
        for row in self._state_rows(tied, "state_links", rules=rules):
            state.links.append(Link(row["a"], row["b"], row["rule"]))
        for row in event_rows:
            properties = orjson.loads(row["properties"]) if row["properties"] else {}
            event = StoredEvent(row["record"], row["name"], row["ts"], properties, row["id"])
            state.events.append(event)
            first, last = state.record_event_span.get(row["record"], (row["ts"], row["ts"]))
            state.record_event_span[row["record"]] = (min(first, row["ts"]), max(last, row["ts"]))
        state.apart = [(row["a"], row["b"]) for row in self._state_rows(tied, "state_cannot_links")]
        state.customer_columns = self.columns("Customer")
        state.event_columns = self.columns("Event")
        return state

    def _state_rows(self, keys: list[str] | None, name: str, **params: Any) -> list[Row]:
        if keys is None:
            return self.query(name, STATE_READS[name], params)
        return self.keyed_read(name, SCOPED_STATE_READS[name], "keys", keys, params)

    def _translate(self, exc: Exception, name: str) -> StoreError:
        """Turn an engine exception into idgraph's own; engines add their special cases."""
        return StoreQueryError(name, _first_line(str(exc)))

    @abstractmethod
    def _apply(self, plan: WritePlan) -> None:
        """Write `plan` in one transaction, rolling back on any failure."""

    @abstractmethod
    def _run(self, cypher: str, params: dict[str, Any]) -> list[Row]:
        """Execute one read statement on the engine."""

    @abstractmethod
    def _run_write(self, cypher: str, params: dict[str, Any]) -> list[Row]:
        """Execute one statement that may write, in a transaction of its own."""

    @abstractmethod
    def _run_write_all(self, steps: list[tuple[str, dict[str, Any]]]) -> None:
        """Execute writing statements in order, in one transaction, rolling back on failure."""

    def checkpoint(self) -> None:
        """Fold what the engine still holds only in its write-ahead log into the store's files.

        The embedded store does so when it is closed; a server stopped by a signal may never
        get there (uvicorn re-raises the signal once its app has shut down), so `idgraph serve`
        calls this as its app stops, and in lulls between calls. Neo4j checkpoints on its own.
        """
        return None

    @abstractmethod
    def close(self) -> None:
        """Release the engine's resources."""

    def __enter__(self) -> GraphStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _identifier(state: StoreState, row: Row) -> None:
    key = row["key"]
    state.identifiers[key] = IdentifierRow(
        key, row["kind"], row["value"], bool(row["linking"]), row["reason"] or ""
    )


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else "unknown error"
