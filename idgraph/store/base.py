"""The one seam between idgraph's logic and a graph database.

Subclasses implement a handful of hooks (`_run`, `_apply`, `_translate`, `state_dir`, `close`);
the shared behaviour (query naming, DEBUG logging without parameter values, error wrapping,
reading the state resolution keeps in its mirror) lives in final methods here so both engines
behave alike.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar, final

import polars as pl

from idgraph.errors import IdGraphError, StoreError, StoreQueryError
from idgraph.stages import Progress
from idgraph.store.dialect import Dialect
from idgraph.store.plan import WritePlan
from idgraph.store.queries import STATE_KEY, STATE_READS
from idgraph.store.schema import NODE_TABLES, ColumnType

logger = logging.getLogger(__name__)

Row = dict[str, Any]
T = TypeVar("T")

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

    @final
    def query_frame(
        self,
        name: str,
        cypher: str,
        schema: Mapping[str, pl.DataType | type[pl.DataType]],
        params: Mapping[str, Any],
    ) -> pl.DataFrame:
        """Run one named read of plain values and return it as a frame of `schema`.

        For reads of many rows a run works on as columns (the events of a micro-batch's
        customers): an engine that answers in Arrow hands its columns over without a Python
        value per cell.
        """
        logger.debug("cypher %s (frame)", name)
        with self._engine_errors(name):
            frame = self._run_frame(cypher, dict(params))
        if frame.height == 0:
            return pl.DataFrame(schema=schema)
        return frame.select(list(schema)).cast(dict(schema))  # type: ignore[arg-type]

    def _run_frame(self, cypher: str, params: dict[str, Any]) -> pl.DataFrame:
        return pl.DataFrame(self._run_columns(cypher, params))

    @contextmanager
    def _engine_errors(self, name: str, *, writes: bool = False) -> Iterator[None]:
        """Engine exceptions become idgraph's own here, once, named after the statement.

        `writes`: the statements write (an apply, a rehearsal); a store may hold writes back
        while it checkpoints."""
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
    def apply(self, plan: WritePlan, *, version: str, progress: Progress | None = None) -> None:
        """Write one ingest's changes atomically: all of them, or none.

        `version` is stamped on the store in the same transaction: the columnar mirror beside
        it (`idgraph.state`) is trusted only while it carries the same version. `progress`
        gets `(table or statement, done, rows)` as each is written and `("rows", done,
        total)` over all of them (see `WriteProgress`).

        The store may narrow the plan's frames once it has written them, keeping the keys,
        ids and heights read afterwards: a big load would otherwise hold every copied column
        beside the store's own buffers. Count rows (`plan_rows`) before applying.
        """
        logger.debug(
            "apply: %d new records, %d events, %d customers",
            plan.new_records.height,
            plan.new_events.height,
            plan.customers.height,
        )
        with self._engine_errors("apply", writes=True):
            self._apply(plan, version, progress or _ignore)

    @final
    def rehearse(self, plan: WritePlan, check: Callable[[], T]) -> T:
        """Write `plan` in a transaction, run `check` (its reads see the plan), roll back.

        What a change would do to what the store computes from it (segment memberships) is
        read from the store itself, by the same statements as after the real change. Nothing
        is kept; the mirror is not touched. The caller keeps other writers out meanwhile.

        Raises:
            StoreError: this store cannot hold a change uncommitted while it reads
                (`RehearsalUnsupported`), or a statement failed.
        """
        logger.debug("rehearse: %d customers", plan.customers.height)
        with self._engine_errors("rehearse", writes=True):
            return self._rehearse(plan, check)

    def _rehearse(self, plan: WritePlan, check: Callable[[], T]) -> T:
        raise RehearsalUnsupported(f"{self.location} cannot preview a change (no rehearsal)")

    @final
    def state_version(self) -> str:
        """The version the last write stamped ("" for a store never written by this idgraph)."""
        rows = self.query("state_version", STATE_READS["state_version"], {"key": STATE_KEY})
        return str(rows[0]["version"] or "") if rows else ""

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
    def account_properties(self) -> dict[str, str]:
        """Property names of `Account` nodes (group calls' accounts: `id`, the timestamps and
        every scalar trait) mapped to a type (string/number/boolean); not the `traits` JSON."""
        return {
            name: _TRAIT_TYPE[kind]
            for name, kind in self.columns("Account").items()
            if kind in _TRAIT_TYPE and name != "traits"
        }

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

    def _translate(self, exc: Exception, name: str) -> StoreError:
        """Turn an engine exception into idgraph's own; engines add their special cases."""
        return StoreQueryError(name, _first_line(str(exc)))

    @abstractmethod
    def _apply(self, plan: WritePlan, version: str, progress: Progress) -> None:
        """Write `plan` and stamp `version` in one transaction, rolling back on any failure;
        report what is written through a `WriteProgress`."""

    @abstractmethod
    def state_dir(self) -> Path:
        """Where the columnar mirror of this store lives (`idgraph.state.mirror`)."""

    @abstractmethod
    def _run(self, cypher: str, params: dict[str, Any]) -> list[Row]:
        """Execute one read statement on the engine."""

    @abstractmethod
    def _run_write(self, cypher: str, params: dict[str, Any]) -> list[Row]:
        """Execute one statement that may write, in a transaction of its own."""

    @abstractmethod
    def _run_write_all(self, steps: list[tuple[str, dict[str, Any]]]) -> None:
        """Execute writing statements in order, in one transaction, rolling back on failure."""

    def checkpoint(self) -> bool:
        """Fold what the engine still holds only in its write-ahead log into the store's files;
        False when there is nothing to ask (Neo4j checkpoints on its own).

        The embedded store does so when it is closed; a server stopped by a signal may never
        get there (uvicorn re-raises the signal once its app has shut down), so `idgraph serve`
        calls this as its app stops, and in lulls between calls.
        """
        return False

    def file_bytes(self) -> int:
        """Bytes of the store's files on this machine, as far as the engine may cache them in
        memory (0: a server's store, Neo4j)."""
        return 0

    def checkpoint_due(self) -> bool:
        """Whether the write-ahead log has grown far enough that the engine will soon fold it
        into the store at a commit, stalling that commit: a writer that can checkpoint in the
        background meanwhile (the service's resolver) does it now. Neo4j: never."""
        return False

    def reopen(self) -> None:
        """Close the engine and open it again, giving back what it kept of past writes.

        A long-lived writer (the service's resolver) calls this when its memory has grown; the
        embedded engine holds memory from every write until it is closed. Neo4j, a server,
        has nothing to give back here.
        """
        return None

    @property
    def down(self) -> str | None:
        """Why the store is closed after a failed `reopen()` (None: it is open)."""
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


class RehearsalUnsupported(StoreError):
    """The store cannot write a change, read it back and roll it back (`rehearse`)."""


class WriteProgress:
    """Reports a store's writes: each table (or statement) with its rows as it is written,
    and `("rows", done, total)` over all of them, `total` counted before the first."""

    def __init__(self, progress: Progress, total: int) -> None:
        self._progress = progress
        self._total = total
        self._done = 0
        self._seen: set[str] = set()
        progress("rows", 0, total)

    def key(self, name: str) -> str:
        """`name`, numbered when a table is written twice ("MATCHED", "MATCHED (2)")."""
        key, n = name, 1
        while key in self._seen:
            n += 1
            key = f"{name} ({n})"
        self._seen.add(key)
        return key

    @contextmanager
    def table(self, name: str, rows: int) -> Iterator[None]:
        """Around writing `rows` rows of `name` at once (a `COPY`); nothing for no rows."""
        if not rows:
            yield
            return
        key = self.key(name)
        self._progress(key, 0, rows)
        yield
        self.wrote(key, rows, rows)

    def wrote(self, key: str, done: int, rows: int, added: int | None = None) -> None:
        """`done` of `rows` rows of `key` are written, `added` of them since the last call
        (all of `done` when not given)."""
        self._progress(key, done, rows)
        self._done = min(self._done + (done if added is None else added), self._total)
        self._progress("rows", self._done, self._total)

    def finish(self) -> None:
        self._progress("rows", self._total, self._total)


def _ignore(_key: str, _done: int, _total: int) -> None:
    """A progress callback that reports nowhere."""


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else "unknown error"
