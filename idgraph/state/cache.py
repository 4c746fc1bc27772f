"""The mirror's live tables kept in memory across the runs of one long-lived process.

Each incremental run reads its scope from the mirror's Parquet files (`idgraph.state.tables`);
the service's resolver runs one every second or so, and re-reading whole tables each time cost
more than resolving. With `keep_mirror_in_memory(True)` (the service turns it on; one-shot CLI
runs need not hold the tables twice) a table's live rows are kept per mirror folder, stamped
with the files they were read from. A run whose manifest names the same files reads the frame
as it is; one whose manifest adds delta files to them applies those deltas to the frame; any
other set of files — a compaction elsewhere, a mirror rebuilt from the graph, a folder written
by another process — is read again from disk.

The cache never decides whether the mirror is current: `open_mirror` still checks the mirror's
version against the graph's before every run. A mirror file is written once under a name no
other write uses and never changed, so rows read from the files a manifest names are the rows
those files hold; each file's size, modification time and inode are checked too, so a folder
replaced by a copy is read again.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import polars as pl

from idgraph.state.tables import D, DeltaTable, LiveRows, TableFiles

__all__ = [
    "forget_mirrors",
    "keep_mirror_in_memory",
    "kept_tables",
    "live_derived",
    "live_rows",
    "live_view",
    "live_where",
    "mirror_in_memory",
    "refiled",
]

#: Mirror folders whose tables are kept (the least recently read are dropped first).
_MAX_ROOTS = 2

T = TypeVar("T")

#: (size, mtime_ns, inode) of a file, or None when it is missing.
_Stamp = tuple[int, int, int] | None


@dataclass(slots=True)
class _Entry:
    base: str | None
    deltas: list[str]
    stamps: list[_Stamp]
    live: LiveRows


class _Cache:
    def __init__(self) -> None:
        self.enabled = False
        self.lock = threading.Lock()
        self.roots: OrderedDict[str, dict[str, _Entry]] = OrderedDict()
        #: One lock per (root, table): reading one table does not wait for another. Kept when
        #: a root's tables are dropped, so two threads never hold two locks for one table.
        self.table_locks: dict[tuple[str, str], threading.Lock] = {}

    def tables(self, root: str) -> dict[str, _Entry]:
        with self.lock:
            tables = self.roots.get(root)
            if tables is None:
                tables = self.roots[root] = {}
                while len(self.roots) > _MAX_ROOTS:
                    self.roots.popitem(last=False)
            self.roots.move_to_end(root)
            return tables

    def table_lock(self, root: str, name: str) -> threading.Lock:
        with self.lock:
            return self.table_locks.setdefault((root, name), threading.Lock())


_CACHE = _Cache()


def keep_mirror_in_memory(enabled: bool = True) -> None:
    """Keep the mirror's live tables in memory across runs in this process (or stop, and drop
    what is kept). For a long-lived process that runs many small ingests: the service."""
    _CACHE.enabled = enabled
    if not enabled:
        forget_mirrors()


def mirror_in_memory() -> bool:
    """Whether this process keeps mirror tables in memory (`keep_mirror_in_memory`)."""
    return _CACHE.enabled


def forget_mirrors() -> None:
    """Drop every table kept in memory; the next read of each comes from disk."""
    with _CACHE.lock:
        _CACHE.roots.clear()


def kept_tables(root: Path) -> frozenset[str]:
    """The tables of the mirror at `root` whose rows this process keeps now."""
    with _CACHE.lock:
        return frozenset(_CACHE.roots.get(_key(root), {}))


def live_rows(root: Path, table: DeltaTable, files: TableFiles) -> pl.DataFrame:
    """The live rows of `table` in the files `files` under `root`: `table.scan(...)` collected,
    from memory when the same files, or a prefix of them, were read before."""
    return _live(root, table, files, LiveRows.frame)


def live_view(root: Path, table: DeltaTable, files: TableFiles) -> pl.LazyFrame:
    """`live_rows`, lazily: a filter reads the kept rows without a copy of the whole table."""
    return _live(root, table, files, LiveRows.lazy)


def live_where(
    root: Path, table: DeltaTable, files: TableFiles, column: str, keys: pl.Series
) -> pl.DataFrame:
    """`live_rows` whose `column` holds one of `keys`, found through the kept rows' index."""
    return _live(root, table, files, lambda live: live.where(column, keys))


def live_derived(
    root: Path,
    table: DeltaTable,
    files: TableFiles,
    name: str,
    make: Callable[[pl.LazyFrame], D],
    use: Callable[[D], T],
) -> T:
    """`use` of a structure made from the kept rows (`LiveRows.derived`), brought up to date
    with the rows (under the table's lock: no delta arrives while `use` reads it)."""
    return _live(root, table, files, lambda live: use(live.derived(name, make)))


def refiled(root: Path, table: DeltaTable, files: TableFiles, compacted: TableFiles) -> None:
    """`compacted` were just written to hold the live rows of `files` (a compaction): keep
    the rows read for `files`, and their indexes, as those of `compacted`."""
    key = _key(root)
    with _CACHE.table_lock(key, table.name):
        entry = _CACHE.tables(key).get(table.name)
        if entry is None or entry.base != files.base or entry.deltas != files.deltas:
            return  # not read yet, or read from other files: the next read goes to disk
        entry.base = compacted.base
        entry.deltas = list(compacted.deltas)
        entry.stamps = [_stamp(root / name) for name in _names(compacted)]


def _live(root: Path, table: DeltaTable, files: TableFiles, read: Callable[[LiveRows], T]) -> T:
    """`read` of the kept rows of `files`, brought up to date first (under the table's lock:
    what it returns holds the rows of one moment)."""
    key = _key(root)
    with _CACHE.table_lock(key, table.name):
        tables = _CACHE.tables(key)
        entry = tables.get(table.name)
        if entry is not None and _extends(root, entry, files):
            for name in files.deltas[len(entry.deltas) :]:
                stamp = _stamp(root / name)
                entry.live.apply(pl.read_parquet(root / name))
                entry.deltas.append(name)
                entry.stamps.append(stamp)
            return read(entry.live)
        stamps = [_stamp(root / name) for name in _names(files)]
        live = LiveRows(table, table.scan(root, files).collect())
        tables[table.name] = _Entry(files.base, list(files.deltas), stamps, live)
        return read(live)


def _extends(root: Path, entry: _Entry, files: TableFiles) -> bool:
    """Whether `files` are the entry's files, perhaps with more deltas, unchanged on disk."""
    if entry.base != files.base or files.deltas[: len(entry.deltas)] != entry.deltas:
        return False
    names = [entry.base, *entry.deltas] if entry.base else entry.deltas
    return all(
        stamp is not None and _stamp(root / name) == stamp
        for name, stamp in zip(names, entry.stamps, strict=True)
    )


def _names(files: TableFiles) -> list[str]:
    return [files.base, *files.deltas] if files.base else list(files.deltas)


def _stamp(path: Path) -> _Stamp:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _key(root: Path) -> str:
    return os.path.abspath(root)
