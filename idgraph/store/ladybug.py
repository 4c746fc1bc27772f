"""The embedded default store: a LadybugDB database file, nothing to start.

Every ingest is one transaction, so a failure leaves the store as it was; the first load into an
empty store is the exception (each bulk load commits on its own, which peaks lower) and empties
what it wrote if it fails (`LadybugStore._first_load`). Large writes (a full run, a big batch)
are bulk-loaded with `COPY ... FROM` a Parquet file (`idgraph.store.staged`); row-by-row MERGE
is two orders of magnitude slower there. But LadybugDB checkpoints at the commit of any `COPY`:
it rewrites every storage group the transaction touched, and a small batch whose records join
customers all over the store touches nearly all of them. Small writes therefore create their
rows from the same files with `LOAD FROM ... CREATE`, which only appends to the
write-ahead log (`idgraph.db.wal`, durable at commit). The engine folds the log into the file
when the process closes the store, or sooner once the log passes `IDGRAPH_CHECKPOINT_MB`: a
one-shot `idgraph ingest` still pays one checkpoint, while `idgraph serve` pays one per that
many MiB of calls instead of one per call.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, TypeVar

import ladybug
import polars as pl
import pyarrow as pa

from idgraph.errors import StoreError, StoreUnavailable
from idgraph.memory import WORTH_TRIMMING, give_back
from idgraph.models import EXPLICIT_LINK_RULES
from idgraph.stages import Progress
from idgraph.store.accounts import account_writes, ladybug_account_statement
from idgraph.store.base import GraphStore, Row, WriteProgress
from idgraph.store.dialect import LADYBUG, LADYBUG_WRITES
from idgraph.store.gate import UseGate
from idgraph.store.ladybug_settings import BUFFER_POOL_ENV, checkpoint_bytes, megabytes
from idgraph.store.ladybug_values import plain
from idgraph.store.plan import EVIDENCE, WritePlan, plan_rows
from idgraph.store.queries import READS, STATE_KEY
from idgraph.store.rows import POLARS_TYPES, customer_frame, event_frame, node_frame
from idgraph.store.schema import NODE_TABLES, REL_TABLES, check_property_name
from idgraph.store.staged import clear_leftovers, parquet_source

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: A write of more rows than this is bulk-loaded with `COPY` (and checkpointed at commit).
BULK_ROWS = 50_000
#: The tables a first load into an empty store fills, emptied again if it fails.
FIRST_LOAD_TABLES = ("Record", "Identifier", "Event", "Customer", "CustomerId")
#: The state stamp's prefix while a first load runs.
LOADING = "loading:"
#: A stored evidence edge whose score moved less than this is not written again: the value
#: frequencies behind the scores grow with every micro-batch (`_replace_evidence`).
EVIDENCE_SCORE_TOLERANCE: Final = 0.001


class LadybugStore(GraphStore):
    """A LadybugDB database at `path` (created with the schema on first open)."""

    dialect = LADYBUG

    def __init__(
        self, path: Path | str, *, read_only: bool = False, cache_mb: int | None = None
    ) -> None:
        """Open (or create) the database; `cache_mb` bounds the engine's page cache, and
        `IDGRAPH_BUFFER_POOL_MB` when set overrides it (None and unset: the engine's default,
        most of the machine's RAM)."""
        self.location = str(path)
        target = Path(path)
        if read_only and not target.exists():
            raise StoreUnavailable(
                f"no idgraph store at {target}: run `idgraph ingest` first or pass --store"
            )
        if target.parent and not target.parent.exists():
            raise StoreUnavailable(
                f"cannot create store {target}: folder {target.parent} is missing"
            )
        self._target, self._read_only = target, read_only
        self._threshold = None if read_only else checkpoint_bytes()
        self._pool = megabytes(BUFFER_POOL_ENV, cache_mb)
        self._lock = threading.Lock()
        self._gate = UseGate()
        self._down: str | None = None
        self._open()
        self._records_seen: int | None = None
        self._bulk = True
        #: Where the rows of a write are staged for the engine (`idgraph.store.staged`).
        self._staging = (target.parent, f".{target.name}.load-")
        if self._threshold is not None:
            if clear_leftovers(*self._staging):
                logger.info("removed the staged rows of a write that did not finish")
            self.apply_schema()
            self._clear_unfinished_load()
        elif self.state_version().startswith(LOADING):
            raise StoreUnavailable(
                f"the first load into {target} did not finish: run `idgraph ingest` again"
            )

    def _open(self) -> None:
        try:
            self._db = ladybug.Database(
                str(self._target), read_only=self._read_only, buffer_pool_size=self._pool or 0
            )
            self._conn = ladybug.Connection(self._db)
        except RuntimeError as exc:
            raise StoreUnavailable(
                f"cannot open store {self._target}: {exc}. Is another idgraph process using it?"
            ) from exc
        # One Database serves many threads, each through a Connection of its own.
        self._local = threading.local()
        self._local.conn = self._conn
        self._connections = [self._conn]
        if self._threshold is not None:
            self._conn.execute(f"CALL checkpoint_threshold={self._threshold}")

    def checkpoint(self) -> bool:
        with self._engine_errors("checkpoint"):
            self.connection().execute("CHECKPOINT")
        return True

    def file_bytes(self) -> int:
        try:
            return os.path.getsize(self._target)
        except OSError:
            return 0

    def checkpoint_due(self) -> bool:
        """Past half the log size at which the engine checkpoints at a commit on its own.

        A checkpoint at 100k customers takes 1.3-2 s and holds back writes, not reads, so a
        checkpoint in a thread of its own overlaps the resolver's next micro-batch until that
        one writes, where one inside a commit stalls it whole.
        """
        if not self._threshold:
            return False
        try:
            size = os.path.getsize(f"{self._target}.wal")
        except OSError:
            return False
        return 2 * size >= self._threshold

    def reopen(self) -> None:
        """Checkpoint, close and open the database again, once no other thread is using it.

        The engine keeps memory from every write transaction until the database is closed:
        a service writing 800 calls/s grew ~6 MiB/s, and a bounded buffer pool then failed
        its writes ("buffer pool is full"). Opening takes ~0.1 s at 100k customers.

        The checkpoint is the long part (seconds on a large store), so it runs with the gate
        open to reads, and the resolver reads and resolves its next micro-batch meanwhile;
        only new writes are held (the engine would make them wait for the checkpoint anyway),
        so the close that follows finds an empty log. Only the close and the open keep every
        other thread out.
        """
        with self._gate.writes_held():
            if self._down is None:
                self.checkpoint()
            self._close_and_open()

    def _close_and_open(self) -> None:
        with self._gate.closed(), super()._engine_errors("reopen"):
            if self._down is None:
                self.connection().execute("CHECKPOINT")
                self._close_engine()
            try:
                self._open()
            except BaseException:
                # Closed and not open again: every use fails as unavailable until a reopen
                # works. (While it reopens, `down` stays None: uses wait at the gate.)
                self._down = "reopening the store failed"
                raise
            self._down = None
        give_back(WORTH_TRIMMING)

    @property
    def down(self) -> str | None:
        """Why the store is closed after a reopen that could not open it again (None: open).
        `reopen()` tries again."""
        return self._down

    @contextmanager
    def _engine_errors(self, name: str, *, writes: bool = False) -> Iterator[None]:
        with self._gate.use(writes=writes), super()._engine_errors(name):
            if self._down is not None:
                raise StoreUnavailable(f"{self._down}; the store is closed until it reopens")
            yield

    def close(self) -> None:
        with self._gate.closed():
            if self._down is None:
                self._close_engine()

    def _close_engine(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections = []
        self._db.close()

    def connection(self) -> ladybug.Connection:
        """This thread's connection on the database (the opening thread's for writes)."""
        conn: ladybug.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = ladybug.Connection(self._db)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _run(self, cypher: str, params: dict[str, Any]) -> list[Row]:
        result = _last(self.connection().execute(cypher, params))
        columns = result.get_column_names()
        rows: list[Row] = []
        while result.has_next():
            values = [plain(v) for v in result.get_next()]
            rows.append(dict(zip(columns, values, strict=True)))
        return rows

    def _run_columns(self, cypher: str, params: dict[str, Any]) -> dict[str, list[Any]]:
        result = _last(self.connection().execute(cypher, params))
        table = result.get_as_arrow()
        if table.num_rows == 0:
            return {}
        return {name: table.column(name).to_pylist() for name in table.column_names}

    def _run_frame(self, cypher: str, params: dict[str, Any]) -> pl.DataFrame:
        result = _last(self.connection().execute(cypher, params))
        frame = pl.from_arrow(result.get_as_arrow())
        assert isinstance(frame, pl.DataFrame)
        return frame

    def query_arrow(self, name: str, cypher: str, params: dict[str, Any] | None = None) -> pa.Table:
        """Run one named read and return its result as one Arrow table (for bulk exports)."""
        logger.debug("cypher %s (arrow)", name)
        with self._engine_errors(name):
            result = _last(self.connection().execute(cypher, dict(params or {})))
            return result.get_as_arrow(0)

    def _keyed_rows(
        self, cypher: str, param: str, values: list[str], extra: dict[str, Any]
    ) -> list[Row]:
        """Key by key when that is cheaper than one UNWIND over all of them.

        LadybugDB plans `UNWIND $keys AS k MATCH (r:Record {key: k})-[...]-(...)` as hash joins
        over scans of whole tables: a fixed cost that grows with the store (about 1.2 ms per
        thousand records on the machine of docs/benchmarks.md), even for one key. The same
        statement for one key is a primary-key lookup and an adjacency walk, 0.15 to 0.5 ms
        measured at a million records. So up to one key per 250 stored records — an HTTP call,
        a batch's changed customers — go one by one. A walk written as an OPTIONAL MATCH after
        the keyed MATCH is planned from the index, so such a statement goes as one UNWIND
        (800 records' evidence at 100k customers: 5 ms, against 54 ms key by key).
        """
        single = per_key_statement(cypher, param)
        # Primary-key reads without a walk are index lookups as an UNWIND too, and so are
        # walks in an OPTIONAL MATCH after the keyed MATCH; the cannot-link table is tiny, so
        # its scan is cheap.
        walks_first = "-[" in cypher.split(" OPTIONAL MATCH ", 1)[0]
        if single is None or not walks_first or ":CANNOT_LINK]" in cypher:
            return super()._keyed_rows(cypher, param, values, extra)
        if len(values) > max(_MIN_PER_KEY, self._record_count() // 250):
            return super()._keyed_rows(cypher, param, values, extra)
        conn = self.connection()
        rows: list[Row] = []
        for value in values:
            result = _last(conn.execute(single, {**extra, "key": value}))
            columns = result.get_column_names()
            rows.extend(
                dict(zip(columns, [plain(v) for v in row], strict=True)) for row in result.get_all()
            )
        return rows

    def _record_count(self) -> int:
        """Records in the store, read once per open (it only steers `_keyed_rows`)."""
        if self._records_seen is None:
            rows = self._run("MATCH (r:Record) RETURN count(r) AS n", {})
            self._records_seen = int(rows[0]["n"]) if rows else 0
        return self._records_seen

    def _run_write(self, cypher: str, params: dict[str, Any]) -> list[Row]:
        return self._run(cypher, params)

    def _run_write_all(self, steps: list[tuple[str, dict[str, Any]]]) -> None:
        conn = self.connection()
        conn.execute(LADYBUG_WRITES["begin"])
        try:
            for cypher, params in steps:
                conn.execute(cypher, params)
        except BaseException:
            _rollback(conn)
            raise
        conn.execute(LADYBUG_WRITES["commit"])

    # -- writing ------------------------------------------------------------------------------

    def state_dir(self) -> Path:
        return Path(f"{self.location}.state")

    def _apply(self, plan: WritePlan, version: str, progress: Progress) -> None:
        self._records_seen = None
        self._bulk = plan.full or plan_rows(plan) > BULK_ROWS
        if plan.full and self._holds_no_data():
            self._first_load(plan, version, progress)
            return
        conn = self.connection()
        conn.execute(LADYBUG_WRITES["begin"])
        try:
            self._write(plan, progress)
            conn.execute(LADYBUG_WRITES["stamp_state"], {"key": STATE_KEY, "value": version})
            for key, value in plan.meta.items():
                conn.execute(LADYBUG_WRITES["stamp_state"], {"key": key, "value": value})
        except BaseException:
            _rollback(conn)
            raise
        conn.execute(LADYBUG_WRITES["commit"])

    def _rehearse(self, plan: WritePlan, check: Callable[[], T]) -> T:
        """The plan written and read back on this thread's connection, then rolled back:
        other connections never see it (the engine's transactions are isolated)."""
        self._records_seen = None
        self._bulk = plan.full or plan_rows(plan) > BULK_ROWS
        conn = self.connection()
        conn.execute(LADYBUG_WRITES["begin"])
        try:
            self._write(plan, _no_progress)
            return check()
        finally:
            _rollback(conn)
            self._records_seen = None

    def _holds_no_data(self) -> bool:
        return not any(
            self._run(f"MATCH (n:{label}) RETURN count(n) AS n", {})[0]["n"]
            for label in FIRST_LOAD_TABLES
        )

    def _first_load(self, plan: WritePlan, version: str, progress: Progress) -> None:
        """Fill an empty store, each bulk load committing on its own.

        One transaction around a million-record load makes the engine hold every table's
        pages until the commit (peak memory +0.6 GB at 1M records) and is slower. Atomicity
        comes from the stamp instead: `LOADING` marks the store until the last write stamps
        the version, a failure here empties the data tables again, and a process killed
        mid-load leaves the mark for the next open to clear (`_clear_unfinished_load`).
        """
        conn = self.connection()
        conn.execute(LADYBUG_WRITES["stamp_state"], {"key": STATE_KEY, "value": LOADING + version})
        try:
            self._write(plan, progress)
            conn.execute(LADYBUG_WRITES["stamp_state"], {"key": STATE_KEY, "value": version})
        except BaseException:
            _rollback(conn)
            self._empty_data_tables()
            raise
        # After the version: a crash in between replays the calls (idempotent by event id)
        # rather than recording an offset for data the next open would empty again.
        for key, value in plan.meta.items():
            conn.execute(LADYBUG_WRITES["stamp_state"], {"key": key, "value": value})

    def _clear_unfinished_load(self) -> None:
        if not self.state_version().startswith(LOADING):
            return
        logger.warning(
            "the first load into %s did not finish; removing what it had written", self.location
        )
        self._empty_data_tables()

    def _empty_data_tables(self) -> None:
        """Drop and recreate the tables a first load fills (those that link to them first)."""
        conn = self.connection()
        for rel, (src, dst, _) in REL_TABLES.items():
            if src in FIRST_LOAD_TABLES or dst in FIRST_LOAD_TABLES:
                conn.execute(f"DROP TABLE IF EXISTS {rel}")
        for label in FIRST_LOAD_TABLES:
            conn.execute(f"DROP TABLE IF EXISTS {label}")
        conn.execute(LADYBUG_WRITES["stamp_state"], {"key": STATE_KEY, "value": ""})
        self.apply_schema()

    def _write(self, plan: WritePlan, progress: Progress) -> None:
        # The tables `plan_rows` counts are reported as they are written.
        wrote = WriteProgress(progress, plan_rows(plan))
        for label, columns in (("Customer", plan.customer_columns), ("Event", plan.event_columns)):
            for name, kind in columns.items():
                check_property_name(name)
                ddl = self.dialect.add_column(label, name, kind)
                if ddl:
                    self.connection().execute(ddl)
        with wrote.table("Record", plan.new_records.height):
            self._copy("Record", plan.new_records)
        # Each frame keeps only what is read after the write (keys, ids, counts) once copied:
        # at millions of records the copied columns would sit beside the store's buffers.
        plan.new_records = plan.new_records.select("key")
        self._set_frame("update_records", node_frame(plan.changed_records, NODE_TABLES["Record"]))
        with wrote.table("Identifier", plan.new_identifiers.height):
            self._copy("Identifier", plan.new_identifiers)
        plan.new_identifiers = plan.new_identifiers.select("key")
        self._set_frame(
            "update_identifiers", plan.changed_identifiers.select("key", "linking", "reason")
        )
        with wrote.table("HAS_IDENTIFIER", plan.new_record_identifiers.height):
            self._copy_rel("HAS_IDENTIFIER", plan.new_record_identifiers)
        plan.new_record_identifiers = plan.new_record_identifiers.clear()
        self._copy_rel("CANNOT_LINK", plan.new_apart)
        self._set_frame("drop_cannot_links", plan.removed_apart)
        self._write_accounts(plan, wrote)
        event_columns = self.columns("Event")
        with wrote.table("Event", plan.new_events.height):
            self._copy_table(
                "Event", event_frame(plan.new_events, plan.new_event_properties, event_columns)
            )
        with wrote.table("PERFORMED", plan.new_events.height):
            self._copy_rel("PERFORMED", plan.new_events.select("record_key", "id"))
        with wrote.table("MATCHED", plan.new_links.height):
            self._copy_rel(
                "MATCHED",
                plan.new_links.with_columns(
                    pl.lit("id").alias("fields"), pl.lit(1.0).alias("score")
                ),
            )
        customers, memberships = plan.customers, plan.memberships.select("customer", "record")
        if plan.full:
            kept = self._run(LADYBUG_WRITES["segment_memberships"], {})
            self.connection().execute(LADYBUG_WRITES["delete_customers"])
            self.connection().execute(
                LADYBUG_WRITES["delete_computed_evidence"], {"rules": sorted(EXPLICIT_LINK_RULES)}
            )
        else:
            updated = plan.customer_updates["id"]
            in_place = set(updated.to_list())
            ids = [c for c in plan.retired_customers if c not in in_place]
            kept = []
            if ids and self._run(READS["count_segments"], {})[0]["n"]:
                held = self._keyed("segment_memberships_of", ids, param="ids")
                kept = [row for row in held if row["segment"] is not None]
            self._keyed("delete_customers_of", ids, param="ids")
            plan.evidence = self._replace_evidence(plan.scope_records, plan.evidence)
            self._update_customers(plan.customer_updates)
            if len(updated):
                customers = customers.filter(~pl.col("id").is_in(updated.implode()))
                memberships = pl.concat(
                    [
                        memberships.filter(~pl.col("customer").is_in(updated.implode())),
                        plan.gained_memberships.select("customer", "record"),
                    ]
                )
        self._erase(plan)
        with wrote.table("Customer", plan.customers.height):
            self._copy_table("Customer", customer_frame(customers, self.columns("Customer")))
        plan.customers = plan.customers.select("id", "record_count", "flagged")
        with wrote.table("HAS_RECORD", plan.memberships.height):
            self._copy_rel("HAS_RECORD", memberships)
        del customers, memberships
        alive = set(plan.customers["id"].to_list()) if plan.customers.height else set()
        kept = [row for row in kept if row["customer"] in alive]
        self._copy_rel(
            "IN_SEGMENT",
            pl.DataFrame(
                {
                    "from": [row["customer"] for row in kept],
                    "to": [row["segment"] for row in kept],
                    "since_ts": [row["since_ts"] for row in kept],
                },
                schema={"from": pl.Utf8, "to": pl.Utf8, "since_ts": pl.Int64},
            ),
        )
        with wrote.table("MATCHED", plan.evidence.height):
            self._copy_rel("MATCHED", plan.evidence)
        plan.evidence = plan.evidence.clear()
        self._write_ids(plan)
        self._set_frame("update_rfm", plan.trait_updates)
        wrote.finish()

    def _update_customers(self, updates: pl.DataFrame) -> None:
        """Set the changed columns of customers that keep their id and records, in place
        (`WritePlan.customer_updates`); their relationships stay as they are. Each row sets
        only the columns it changes (`changed`), one statement per set of columns: the
        engine keeps memory per column and storage group a transaction sets until the next
        checkpoint (docs/serve.md)."""
        names = [name for name in updates.columns if name not in ("id", "changed")]
        if updates.height == 0 or not names:
            return
        for name in names:
            check_property_name(name)
        rows = customer_frame(updates.select("id", *names), self.columns("Customer"))
        groups = updates["changed"].list.sort().list.join(",")
        found = 0
        for group in sorted(set(groups.to_list())):
            mine = (groups == group).to_numpy()
            columns = [name for name in names if name in group.split(",")]
            if not columns:
                found += int(mine.sum())
                continue
            part = rows.filter(pl.Series(mine)).select("id", *columns)
            found += self._update_rows(part, columns)
        if found != updates.height:
            raise StoreError(
                f"Customer: {updates.height - found} of {updates.height} customers to update "
                "are not in the store; nothing was written"
            )

    def _update_rows(self, rows: pl.DataFrame, columns: list[str]) -> int:
        """Set `columns` of the customers `rows` (id first) holds; how many were found."""
        numbered = rows.rename({name: f"c{i}" for i, name in enumerate(rows.columns)})
        with parquet_source(numbered, *self._staging) as source:
            return _count_of(
                self.connection().execute(self.dialect.update_from("Customer", source, columns))
            )

    def _replace_evidence(self, scope: list[str], evidence: pl.DataFrame) -> pl.DataFrame:
        """Delete the scope's stored computed evidence that `evidence` no longer holds; return
        the rows of `evidence` still to write.

        A micro-batch re-resolves a few thousand records whose evidence is mostly what is
        stored, its score moved in the sixth digit as the value frequencies grew. Deleting and
        writing all of it again made `MATCHED` a third of each checkpoint at a million
        records. An edge with the same pair, rule and fields whose score moved less than
        `EVIDENCE_SCORE_TOLERANCE` stays as stored. When many edges changed (more than one per
        four records of the scope, a split say), all of the scope's are deleted and written
        again, in one statement rather than edge by edge.
        """
        if not scope:
            return evidence
        rules = sorted(EXPLICIT_LINK_RULES)
        stored = pl.DataFrame(
            self._keyed("computed_evidence_of", scope, rules=rules), schema=EVIDENCE, orient="row"
        ).drop_nulls("b")
        same = ["a", "b", "rule", "fields"]
        kept = (
            stored.join(evidence, on=same, how="inner", suffix="_new", nulls_equal=True)
            .filter((pl.col("score") - pl.col("score_new")).abs() <= EVIDENCE_SCORE_TOLERANCE)
            .select(same)
            .unique()
        )
        gone = stored.join(kept, on=same, how="anti", nulls_equal=True).select(same).unique()
        if gone.height > max(_MIN_PER_KEY, len(scope) // 4) or gone["fields"].null_count():
            self._keyed("delete_computed_evidence_of", scope, rules=rules)
            return evidence
        conn = self.connection()
        for row in gone.iter_rows(named=True):
            conn.execute(LADYBUG_WRITES["delete_evidence_edge"], row)
        return evidence.join(kept, on=same, how="anti", nulls_equal=True)

    def _write_accounts(self, plan: WritePlan, wrote: WriteProgress) -> None:
        """Accounts and memberships of group calls: merged row by row (they are few)."""
        if plan.groups.height == 0:
            return
        writes = account_writes(plan.groups, self.columns("Account"))
        for name, kind in writes.new_columns.items():
            ddl = self.dialect.add_column("Account", check_property_name(name), kind)
            if ddl:
                self.connection().execute(ddl)
        with wrote.table("Account", plan.groups.height):
            for start in range(0, len(writes.accounts), 2000):
                chunk = writes.accounts[start : start + 2000]
                # Only the columns this chunk sets: a column null in every row binds as text.
                given = {name for row in chunk for name in row["props"]}
                statement, names = ladybug_account_statement(
                    {name: kind for name, kind in writes.columns.items() if name in given}
                )
                rows = [
                    {
                        "id": row["id"],
                        "first_seen_ts": row["first_seen_ts"],
                        "updated_ts": row["updated_ts"],
                        "traits": row["traits"],
                        **{f"c{i}": row["props"].get(name) for i, name in enumerate(names)},
                    }
                    for row in chunk
                ]
                logger.debug("cypher merge_accounts")
                self.connection().execute(statement, {"rows": rows})
        with wrote.table("MEMBER_OF", plan.groups.height):
            self._set_rows("merge_member_of", writes.members)

    def _erase(self, plan: WritePlan) -> None:
        """Delete erased records, their events, and identifiers no one else holds."""
        if not plan.erased_records:
            return
        self._set_rows(
            "remember_erased",
            [{"hash": h, "kind": k, "ts": t} for h, k, t in plan.erased_hashes],
        )
        self._keyed("delete_records", plan.erased_records)
        self._keyed("delete_orphan_identifiers", plan.erased_identifiers)

    def _write_ids(self, plan: WritePlan) -> None:
        ids = plan.ids
        self._copy(
            "CustomerId",
            pl.DataFrame(
                {
                    "id": [i for i, _ in ids.created],
                    "created_ts": [ts for _, ts in ids.created],
                    "status": ["active"] * len(ids.created),
                },
                schema={"id": pl.Utf8, "created_ts": pl.Int64, "status": pl.Utf8},
            ),
        )
        retired = [{"id": old, "status": "merged", "ts": ts} for old, _, ts, _, _ in ids.merged]
        retired += [{"id": cid, "status": "erased", "ts": ts} for cid, ts in ids.erased]
        self._set_rows("retire_customer_ids", retired)
        # Each change is (from id, to id, *properties in the order of the table's columns).
        for rel, changes in (
            ("MERGED_INTO", ids.merged),
            ("SPLIT_FROM", ids.split),
            ("MOVED_TO", ids.moved),
        ):
            names = list(REL_TABLES[rel][2])
            rows: Sequence[tuple[Any, ...]] = changes
            self._copy_rel(
                rel,
                pl.DataFrame(
                    {
                        "from": [row[0] for row in rows],
                        "to": [row[1] for row in rows],
                        **{name: [row[2 + i] for row in rows] for i, name in enumerate(names)},
                    },
                    schema={
                        "from": pl.Utf8,
                        "to": pl.Utf8,
                        **{n: POLARS_TYPES[k] for n, k in REL_TABLES[rel][2].items()},
                    },
                ),
            )

    def _keyed(
        self, name: str, values: Collection[str], *, param: str = "keys", **extra: Any
    ) -> list[Row]:
        """Run one `LADYBUG_WRITES` statement over many keys, a batch at a time."""
        logger.debug("cypher %s", name)
        ordered = sorted(set(values))
        return self._keyed_rows(LADYBUG_WRITES[name], param, ordered, extra) if ordered else []

    def _copy(self, label: str, frame: pl.DataFrame) -> None:
        if frame.height == 0:
            return
        self._copy_table(label, node_frame(frame, NODE_TABLES[label]))

    def _copy_table(self, label: str, table: pl.DataFrame) -> None:
        if table.height == 0:
            return
        if self._bulk:
            # The tables copied before this one are gone by now: their pages go back first.
            give_back(table.height)
            with parquet_source(table, *self._staging) as source:
                self.connection().execute(self.dialect.copy_from(label, source))
            return
        names = table.columns
        properties = names if label in NODE_TABLES else names[2:]
        lead = [] if label in NODE_TABLES else ["src", "dst"]
        numbered = lead + [f"c{i}" for i in range(len(properties))]
        rows = table.rename(dict(zip(names, numbered, strict=True)))
        with parquet_source(rows, *self._staging) as source:
            result = self.connection().execute(self.dialect.create_from(label, source, properties))
        if label not in NODE_TABLES:
            created = _count_of(result)
            if created != table.height:
                raise StoreError(
                    f"{label}: {table.height - created} of {table.height} relationships "
                    "name a node the store does not hold; nothing was written"
                )

    def _copy_rel(self, rel: str, frame: pl.DataFrame) -> None:
        """A relationship table from a frame: its first two columns are the endpoints' keys,
        the others the relationship's properties in the schema's order."""
        if frame.height == 0:
            return
        props = REL_TABLES[rel][2]
        first, second = frame.columns[:2]
        table = frame.select(
            pl.col(first).alias("from"),
            pl.col(second).alias("to"),
            *[pl.col(name).cast(POLARS_TYPES[kind]) for name, kind in props.items()],
        )
        self._copy_table(rel, table)

    def _set_frame(self, name: str, frame: pl.DataFrame) -> None:
        if frame.height:
            self._set_rows(name, frame.to_dicts())

    def _set_rows(self, name: str, rows: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(rows), 2000):
            logger.debug("cypher %s", name)
            self.connection().execute(
                LADYBUG_WRITES[name], {"rows": list(rows[start : start + 2000])}
            )


#: Up to this many keys a keyed statement always goes key by key.
_MIN_PER_KEY = 16
_UNWIND = re.compile(r"^UNWIND \$(\w+) AS (\w+) ")


def _last(result: Any) -> Any:
    """The answer of an `execute`: the last statement's, when the text held several."""
    return result[-1] if isinstance(result, list) else result


def _count_of(result: Any) -> int:
    """The one number a statement returns (`RETURN count(*) AS n`)."""
    row = _last(result).get_next()
    return int(next(iter(row.values())) if isinstance(row, dict) else row[0])


def per_key_statement(cypher: str, param: str) -> str | None:
    """`UNWIND $param AS v <rest>` as the statement for one key `$key`, or None.

    Examples:
        >>> per_key_statement("UNWIND $keys AS k MATCH (r:Record {key: k}) RETURN k AS x", "keys")
        'MATCH (r:Record {key: $key}) RETURN $key AS x'
    """
    found = _UNWIND.match(cypher)
    if found is None or found.group(1) != param:
        return None
    rest = cypher[found.end() :]
    return re.sub(rf"(?<![\w$.]){re.escape(found.group(2))}(?!\w)", "$key", rest)


def _no_progress(_key: str, _done: int, _total: int) -> None:
    """A rehearsal reports no progress."""


def _rollback(conn: ladybug.Connection) -> None:
    """Roll back after a failed write, keeping the failure's own error.

    The engine aborts the transaction itself on some errors (a duplicate key in `COPY`), and
    its "no active transaction" would otherwise hide the cause.
    """
    try:
        conn.execute(LADYBUG_WRITES["rollback"])
    except RuntimeError as exc:
        logger.debug("rollback after a failed write: %s", exc)
