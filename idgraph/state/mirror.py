"""The resolution state as columns, kept beside the graph: what an incremental ingest reads.

The graph (embedded or Neo4j) is the truth that queries read; finding an incremental run's
scope there costs a keyed walk per identifier and block, which the embedded engine plans as
scans of whole tables. So every run also writes what resolution needs — records, their
identifiers and traits, identifier verdicts, explicit links, cannot-links, events, customers,
the id registry and how many records hold each match value — as Parquet tables in a folder
beside the store (`idgraph.db.state/`), and an incremental run reads its scope from there with
joins.

The mirror is a cache of the graph, never a second truth. Every write stamps a new version in
the graph (`(:Meta {key: "state"})`, in the run's transaction) and in the mirror's manifest
(written after the commit, atomically). A mirror whose version differs from the graph's — a
crash between the two, a store written by another machine, a store made before the mirror
existed — is rebuilt from the graph before it is used.

A long-lived process (the service) may keep the live tables in memory between runs
(`idgraph.state.cache`): reads then cost a lookup, each run's new delta is applied to the kept
frame, and many deltas are folded into one instead of into a rewritten base. The event tables
are the exception: they grow with every call, so runs look events up in the graph
(`idgraph.state.events`) and the mirror's copy serves whole-table reads from disk.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson
import polars as pl

from idgraph.frames import EVENT_PROPERTIES, IDENTIFIERS, RECORDS, VALUE_COUNTS
from idgraph.state import cache
from idgraph.state.tables import D, DeltaTable, TableFiles
from idgraph.store.plan import APART_ROWS, LINK_ROWS, VERDICTS
from idgraph.store.schema import ColumnType

logger = logging.getLogger(__name__)

T = TypeVar("T")

__all__ = ["MIRROR_TABLES", "Mirror", "MirrorChanges", "new_version"]

#: Bump when a table's layout changes: an older mirror is then rebuilt from the graph.
LAYOUT = 2
_MANIFEST = "manifest.json"
#: Deltas a table may have before they are compacted: into a new base when read from disk
#: (each file costs a read), into one delta when kept in memory (the base need not change).
_MAX_DELTAS = 32

MIRROR_TABLES: dict[str, DeltaTable] = {
    table.name: table
    for table in (
        DeltaTable("records", ("key",), {**RECORDS, "customer": pl.Utf8}),
        DeltaTable(
            "record_traits", ("record",), {"record": pl.Utf8, "name": pl.Utf8, "value": pl.Utf8}
        ),
        DeltaTable("identifiers", ("record",), dict(IDENTIFIERS)),
        DeltaTable("blocks", ("record",), {"record": pl.Utf8, "block": pl.Utf8}),
        DeltaTable("verdicts", ("key",), dict(VERDICTS)),
        DeltaTable("links", ("a", "b", "rule"), dict(LINK_ROWS)),
        DeltaTable("apart", ("a", "b"), dict(APART_ROWS)),
        DeltaTable(
            "events",
            ("id",),
            {"id": pl.Utf8, "record_key": pl.Utf8, "name": pl.Utf8, "ts": pl.Int64},
            kept=False,
        ),
        DeltaTable("event_properties", ("id",), dict(EVENT_PROPERTIES), kept=False),
        DeltaTable("customers", ("id",), {"id": pl.Utf8}),
        DeltaTable("registry", ("id",), {"id": pl.Utf8, "created_ts": pl.Int64, "status": pl.Utf8}),
        # How many records hold each match value (term frequencies); see `count_rows`.
        DeltaTable("value_counts", ("field", "value"), dict(VALUE_COUNTS), selective="value"),
    )
}


def max_deltas(table: DeltaTable) -> int:
    """Deltas `table` may have before they are compacted: `_MAX_DELTAS`, a little more for
    each table after the first, so that a service's micro-batches do not compact every table
    in the same one (a pause of about a second at 100k customers)."""
    return _MAX_DELTAS + 3 * list(MIRROR_TABLES).index(table.name)


def _in_memory(name: str) -> bool:
    """Whether this process keeps the table `name` in memory (`idgraph.state.cache`)."""
    return cache.mirror_in_memory() and MIRROR_TABLES[name].kept


def new_version() -> str:
    """A fresh state version, stamped in the graph and the manifest by one run."""
    return uuid.uuid4().hex


@dataclass(slots=True)
class MirrorChanges:
    """What one run changes in the mirror: per table, rows to upsert and groups to delete."""

    full: bool = False
    upserts: dict[str, pl.DataFrame] = field(default_factory=dict)
    deletes: dict[str, pl.DataFrame] = field(default_factory=dict)
    customer_columns: dict[str, ColumnType] = field(default_factory=dict)
    event_columns: dict[str, ColumnType] = field(default_factory=dict)
    config: str = ""


@dataclass(slots=True)
class Mirror:
    """An opened mirror folder and its manifest."""

    root: Path
    version: str = ""
    generation: int = 0
    files: dict[str, TableFiles] = field(default_factory=dict)
    customer_columns: dict[str, ColumnType] = field(default_factory=dict)
    event_columns: dict[str, ColumnType] = field(default_factory=dict)
    #: Fingerprint of the match config the blocks were computed under.
    config: str = ""

    @classmethod
    def open(cls, root: Path) -> Mirror | None:
        """The mirror at `root`, or None when there is none (or one of another layout)."""
        try:
            data = orjson.loads((root / _MANIFEST).read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None
        if data.get("layout") != LAYOUT:
            return None
        files = {name: TableFiles.from_json(spec) for name, spec in data["tables"].items()}
        if set(files) != set(MIRROR_TABLES):
            return None
        named = [f for spec in files.values() for f in [spec.base, *spec.deltas] if f]
        if any(not (root / f).is_file() for f in named):
            return None
        return cls(
            root,
            str(data.get("version") or ""),
            int(data.get("generation") or 0),
            files,
            dict(data.get("customer_columns") or {}),
            dict(data.get("event_columns") or {}),
            str(data.get("config") or ""),
        )

    def scan(self, name: str) -> pl.LazyFrame:
        """The live rows of one table, lazily (filter and select before collecting)."""
        files = self.files.get(name, TableFiles())
        if _in_memory(name):
            return cache.live_view(self.root, MIRROR_TABLES[name], files)
        return MIRROR_TABLES[name].scan(self.root, files)

    def load(self, name: str) -> pl.DataFrame:
        """The live rows of one table."""
        files = self.files.get(name, TableFiles())
        if _in_memory(name):
            return cache.live_rows(self.root, MIRROR_TABLES[name], files)
        return self.scan(name).collect()

    def where(self, name: str, column: str, keys: pl.Series | Collection[str]) -> pl.DataFrame:
        """The live rows of one table whose `column` holds one of `keys`: a run's lookup of
        the rows of some records, customers or values (through an index when kept in memory,
        so it costs what the keys find, not the table)."""
        wanted = keys if isinstance(keys, pl.Series) else pl.Series(column, list(keys), pl.Utf8)
        files = self.files.get(name, TableFiles())
        if _in_memory(name):
            return cache.live_where(self.root, MIRROR_TABLES[name], files, column, wanted)
        scan = MIRROR_TABLES[name].scan(self.root, files)
        dtype = scan.collect_schema()[column]
        return scan.filter(pl.col(column).is_in(wanted.cast(dtype).implode())).collect()

    def derived(
        self,
        name: str,
        kind: str,
        make: Callable[[pl.LazyFrame], D],
        use: Callable[[D], T],
    ) -> T:
        """`use` of a structure made from one table's live rows (`make`, named `kind`): kept
        and brought up to date delta by delta when the mirror is in memory, made afresh for
        this one use otherwise."""
        if _in_memory(name):
            files = self.files.get(name, TableFiles())
            return cache.live_derived(self.root, MIRROR_TABLES[name], files, kind, make, use)
        return use(make(self.scan(name)))

    def view(self, name: str, columns: list[str] | None = None) -> pl.LazyFrame:
        """The live rows of one table (its `columns`), for a run that filters them several
        times: kept in memory, or read from disk once now."""
        if _in_memory(name):
            frame = self.scan(name)
            return frame if columns is None else frame.select(columns)
        if columns is None:
            return self.load(name).lazy()
        return self.scan(name).select(columns).collect().lazy()

    def write(self, changes: MirrorChanges, version: str) -> Mirror:
        """Write `changes` as new files and return the mirror they make (not yet published).

        The current manifest still names the old files, so nothing a reader sees changes
        until `publish`.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        generation = self.generation + 1
        tag = f"{generation:08d}-{version[:8]}"
        files: dict[str, TableFiles] = {}
        for name, table in MIRROR_TABLES.items():
            current = self.files.get(name, TableFiles())
            upserts = changes.upserts.get(name)
            if changes.full:
                frame = upserts if upserts is not None else table.empty()
                files[name] = table.write_base(self.root, frame, tag)
                continue
            deletes = changes.deletes.get(name)
            grown = table.write_delta(
                self.root,
                current,
                upserts if upserts is not None else table.empty(),
                deletes
                if deletes is not None
                else pl.DataFrame(schema={k: pl.Utf8 for k in table.group}),
                tag,
            )
            files[name] = self._compacted(table, grown, tag)
        columns = dict(self.customer_columns) if not changes.full else {}
        columns.update(changes.customer_columns)
        event_columns = dict(self.event_columns) if not changes.full else {}
        event_columns.update(changes.event_columns)
        config = changes.config or self.config
        return Mirror(self.root, version, generation, files, columns, event_columns, config)

    def _compacted(self, table: DeltaTable, files: TableFiles, tag: str) -> TableFiles:
        """`files`, compacted when their deltas have grown too big or too many."""
        if not cache.mirror_in_memory():
            if table.needs_base(files) or len(files.deltas) > max_deltas(table):
                return table.write_base(self.root, table.scan(self.root, files).collect(), tag)
            return files
        if not table.kept:
            # A long-lived process reads such a table whole only in a full run: one file per
            # run is cheap to keep, and folding them costs what the deltas hold.
            if table.needs_base(files):
                return table.write_base(self.root, table.scan(self.root, files).collect(), tag)
            if len(files.deltas) > max_deltas(table):
                return table.fold_deltas(self.root, files, tag)
            return files
        if table.needs_base(files):
            compacted = table.write_base(self.root, cache.live_rows(self.root, table, files), tag)
        elif len(files.deltas) > max_deltas(table):
            cache.live_view(self.root, table, files)  # the kept rows take the newest delta
            compacted = table.fold_deltas(self.root, files, tag)
        else:
            return files
        # The new files hold the kept rows: the next run need not read them back.
        cache.refiled(self.root, table, files, compacted)
        return compacted

    def publish(self) -> None:
        """Make this mirror's files the current ones (atomic), and remove files no longer named."""
        data: dict[str, Any] = {
            "layout": LAYOUT,
            "version": self.version,
            "generation": self.generation,
            "tables": {name: spec.to_json() for name, spec in self.files.items()},
            "customer_columns": self.customer_columns,
            "event_columns": self.event_columns,
            "config": self.config,
        }
        tmp = self.root / f"{_MANIFEST}.tmp"
        tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
        with tmp.open("rb") as f:
            os.fsync(f.fileno())
        tmp.replace(self.root / _MANIFEST)
        named = {f for spec in self.files.values() for f in [spec.base, *spec.deltas] if f}
        for path in self.root.glob("*.parquet"):
            if path.name not in named:
                path.unlink(missing_ok=True)
        for path in self.root.glob("*.tmp"):
            if path.name != f"{_MANIFEST}.tmp":
                path.unlink(missing_ok=True)
