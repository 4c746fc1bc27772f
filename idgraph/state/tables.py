"""Parquet tables that take small changes cheaply: a base file plus one delta file per run.

Each table has a *group* key: the unit a change replaces (a record's row, all identifiers of
a record, one customer). A delta holds the new rows of every group it touches, and a
tombstone row for every group it deletes; reading keeps, per group, the rows of the newest
generation that mentions it. Compaction folds the deltas into a new base once they grow past
a quarter of it, so a read costs about one pass over the live rows.

A process that keeps the live rows in memory (`idgraph.state.cache`) applies each new delta to
them (`LiveRows`) instead of reading every file again; it folds many deltas into one
(`fold_deltas`) rather than rewriting the base, since its reads do not pay per file.

Nothing here is transactional on its own: `idgraph.state.mirror` publishes a set of files
atomically through its manifest.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np
import polars as pl

from idgraph.state.index import KeyIndex

__all__ = ["DeltaTable", "Derived", "LiveRows", "TableFiles"]

_GEN = "_gen"
_DEAD = "_dead"
#: Chunks the tail of kept rows may have before `LiveRows.apply` makes it one again.
_MAX_CHUNKS = 16


class Derived(Protocol):
    """What a structure kept beside a table's live rows (`LiveRows.derived`) must take."""

    def apply(self, touched: pl.DataFrame, added: pl.DataFrame) -> None:
        """The groups a delta rewrites or removes (`touched`), and its new rows (`added`)."""


D = TypeVar("D", bound=Derived)


@dataclass(slots=True)
class TableFiles:
    """The files of one table a manifest names: the base and the deltas, oldest first."""

    base: str | None = None
    deltas: list[str] = field(default_factory=list)
    #: Rows in the base and in all deltas (for the compaction rule).
    base_rows: int = 0
    delta_rows: int = 0

    def to_json(self) -> dict[str, object]:
        return {
            "base": self.base,
            "deltas": list(self.deltas),
            "base_rows": self.base_rows,
            "delta_rows": self.delta_rows,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> TableFiles:
        base = data.get("base")
        deltas = data.get("deltas")
        return cls(
            base=str(base) if base else None,
            deltas=[str(d) for d in deltas] if isinstance(deltas, list) else [],
            base_rows=int(str(data.get("base_rows") or 0)),
            delta_rows=int(str(data.get("delta_rows") or 0)),
        )


@dataclass(frozen=True, slots=True)
class DeltaTable:
    """One table of the mirror: its name, group key and column schema."""

    name: str
    group: tuple[str, ...]
    schema: dict[str, pl.DataType | type[pl.DataType]]
    #: The group column that tells groups apart best: kept rows are indexed by it to find
    #: the groups a delta replaces (None: the first).
    selective: str | None = None
    #: Whether a process that keeps the mirror in memory keeps this table too; the event
    #: tables only grow, and runs look their rows up in the graph (`idgraph.state.events`).
    kept: bool = True

    def empty(self) -> pl.DataFrame:
        return pl.DataFrame(schema=self.schema)

    def scan(self, root: Path, files: TableFiles) -> pl.LazyFrame:
        """The live rows: per group, those of the newest generation that mentions it."""
        parts: list[pl.LazyFrame] = []
        if files.base:
            parts.append(
                pl.scan_parquet(root / files.base).with_columns(
                    pl.lit(0, dtype=pl.Int32).alias(_GEN), pl.lit(False).alias(_DEAD)
                )
            )
        for number, delta in enumerate(files.deltas, start=1):
            parts.append(
                pl.scan_parquet(root / delta).with_columns(
                    pl.lit(number, dtype=pl.Int32).alias(_GEN)
                )
            )
        if not parts:
            return self.empty().lazy()
        frame = pl.concat(parts, how="diagonal_relaxed")
        if files.deltas:
            newest = frame.group_by(list(self.group)).agg(pl.col(_GEN).max())
            frame = frame.join(newest, on=[*self.group, _GEN], how="semi")
        live = frame.filter(~pl.col(_DEAD)).drop(_GEN, _DEAD)
        return live if self.extensible else live.select(list(self.schema))

    @property
    def extensible(self) -> bool:
        """Customers gain trait columns over time: read whatever columns were written."""
        return self.name == "customers"

    def write_base(self, root: Path, frame: pl.DataFrame, tag: str) -> TableFiles:
        """Replace the whole table with `frame`."""
        name = f"{self.name}-{tag}-base.parquet"
        _write(frame, root / name)
        return TableFiles(base=name, base_rows=frame.height)

    def write_delta(
        self,
        root: Path,
        files: TableFiles,
        upserts: pl.DataFrame,
        deleted: pl.DataFrame,
        tag: str,
    ) -> TableFiles:
        """Add a delta: `upserts` replace their groups, `deleted` (group columns) removes
        groups. Returns the files with the delta; compacting them is the caller's choice
        (`needs_base`, `write_base`, `fold_deltas`)."""
        if upserts.height == 0 and deleted.height == 0:
            return files
        rows = upserts.with_columns(pl.lit(False).alias(_DEAD))
        if deleted.height:
            gone = (
                deleted.select(list(self.group))
                .unique()
                .join(upserts.select(list(self.group)).unique(), on=list(self.group), how="anti")
            )
            tombs = gone.with_columns(pl.lit(True).alias(_DEAD))
            rows = pl.concat([rows, tombs], how="diagonal_relaxed")
        name = f"{self.name}-{tag}-delta.parquet"
        _write(rows, root / name)
        return TableFiles(
            base=files.base,
            deltas=[*files.deltas, name],
            base_rows=files.base_rows,
            delta_rows=files.delta_rows + rows.height,
        )

    @staticmethod
    def needs_base(files: TableFiles) -> bool:
        """Whether the deltas have grown past a quarter of the base (at least 25,000 rows):
        then they are folded into a new base, so disk and reads stay about the live rows."""
        return files.delta_rows * 4 > max(files.base_rows, 100_000)

    def fold_deltas(self, root: Path, files: TableFiles, tag: str) -> TableFiles:
        """Replace the deltas by one holding, per group, the rows (or tombstone) of the newest
        delta that mentions it: the same live rows, one file, the base untouched."""
        if len(files.deltas) < 2:
            return files
        parts = [
            pl.scan_parquet(root / delta).with_columns(pl.lit(number, dtype=pl.Int32).alias(_GEN))
            for number, delta in enumerate(files.deltas, start=1)
        ]
        frame = pl.concat(parts, how="diagonal_relaxed")
        newest = frame.group_by(list(self.group)).agg(pl.col(_GEN).max())
        rows = (
            frame.join(newest, on=[*self.group, _GEN], how="semi", maintain_order="left")
            .drop(_GEN)
            .collect()
        )
        name = f"{self.name}-{tag}-fold.parquet"
        _write(rows, root / name)
        return TableFiles(
            base=files.base, deltas=[name], base_rows=files.base_rows, delta_rows=rows.height
        )


class LiveRows:
    """A table's live rows kept in memory, taking each new delta without copying the table.

    The rows are `rows` less those marked dead, then `tail` (the live rows of the deltas
    applied since `rows` was made, in the order applied): what `DeltaTable.scan` reads of
    the same files. Once the dead and tail rows pass an eighth of the table, or a delta brings
    a column or type the rows do not have, they are folded into new `rows` (one copy).

    Lookups of a few keys (`where`, and the groups a delta replaces) use a `KeyIndex` of
    `rows` per column asked for, made on first use and dropped with `rows`; the tail is small
    enough to filter. The dead marks are one flag per row set in place, so a delta costs
    what it touches, not the table's length.
    """

    def __init__(self, table: DeltaTable, rows: pl.DataFrame) -> None:
        self.table = table
        self._rows = rows
        self._dead: np.ndarray | None = None
        self._dead_count = 0
        self._tail: pl.DataFrame | None = None
        self._frame: pl.DataFrame | None = rows
        self._indexes: dict[str, KeyIndex] = {}
        self._derived: dict[str, Derived] = {}

    def frame(self) -> pl.DataFrame:
        """The live rows as one frame (made once per change)."""
        if self._frame is None:
            rows = self._rows if self._dead is None else self._rows.filter(pl.Series(~self._dead))
            self._frame = rows if self._tail is None else pl.concat([rows, self._tail])
        return self._frame

    def lazy(self) -> pl.LazyFrame:
        """The live rows, lazily: a query filters them without copying the table first."""
        if self._frame is not None:
            return self._frame.lazy()
        rows = self._rows.lazy()
        if self._dead is not None:
            rows = self._rows.with_columns(pl.Series(_DEAD, self._dead)).lazy()
            rows = rows.filter(~pl.col(_DEAD)).drop(_DEAD)
        return rows if self._tail is None else pl.concat([rows, self._tail.lazy()])

    def where(self, column: str, keys: pl.Series) -> pl.DataFrame:
        """The live rows whose `column` holds one of `keys`, in the order of `frame()`."""
        wanted = keys.cast(self._rows.schema[column]).unique()
        held = pl.col(column).is_in(wanted.implode())
        positions = self._index(column).candidates(wanted)
        if self._dead is not None and len(positions):
            positions = positions[~self._dead[positions]]
        found = self._rows[positions].filter(held)
        if self._tail is None:
            return found
        return pl.concat([found, self._tail.filter(held)])

    def _index(self, column: str) -> KeyIndex:
        index = self._indexes.get(column)
        if index is None:
            index = self._indexes[column] = KeyIndex(self._rows[column])
        return index

    def derived(self, name: str, make: Callable[[pl.LazyFrame], D]) -> D:
        """A structure made from the live rows (`make`) once, then kept up to date by taking
        every delta these rows take (`Derived.apply`) instead of being made again."""
        kept = self._derived.get(name)
        if kept is None:
            kept = self._derived[name] = make(self.lazy())
        return kept  # type: ignore[return-value]

    def apply(self, delta: pl.DataFrame) -> None:
        """Apply a delta file (as read): its groups' rows replace theirs, tombstones remove."""
        group = list(self.table.group)
        delta = delta.drop_nulls(group)
        touched = delta.select(group).unique()
        added = delta.filter(~pl.col(_DEAD)).drop(_DEAD)
        for kept in self._derived.values():
            kept.apply(touched, added)
        dead = self._hits(touched)
        if any(self._rows[c].null_count() for c in group):
            # `scan` joins on the group: a row without a key never survives a delta.
            keyless = self._rows.select(pl.any_horizontal(pl.col(group).is_null())).to_series()
            dead = np.union1d(dead, np.flatnonzero(keyless.to_numpy()))
        if len(dead):
            if self._dead is None:
                self._dead = np.zeros(self._rows.height, dtype=np.bool_)
            self._dead_count += int(len(dead) - np.count_nonzero(self._dead[dead]))
            self._dead[dead] = True
        tail = self._tail
        if tail is not None:
            tail = tail.join(touched, on=group, how="anti", maintain_order="left")
        self._frame = None
        # The delta's rows in the columns and types of the kept rows, when it brings no other.
        aligned = pl.concat([self._rows.head(0), added], how="diagonal_relaxed")
        if aligned.schema != self._rows.schema:
            self._tail = tail
            self._fold(added)
            return
        tail = aligned if tail is None else pl.concat([tail, aligned])
        self._tail = tail.rechunk() if tail.n_chunks() > _MAX_CHUNKS else tail
        changed = self._tail.height + self._dead_count
        if changed > max(self._rows.height // 8, 1_000):
            self._fold()

    def _hits(self, touched: pl.DataFrame) -> np.ndarray:
        """The positions of the kept rows that belong to a group of `touched`."""
        group = list(self.table.group)
        if touched.height == 0:
            return np.empty(0, dtype=np.uint32)
        column = self.table.selective or group[0]
        positions = self._index(column).candidates(touched[column])
        found = (
            self._rows[positions]
            .select(group)
            .with_columns(pl.Series("_row", positions))
            .join(touched, on=group, how="semi")["_row"]
        )
        return found.to_numpy()

    def _fold(self, added: pl.DataFrame | None = None) -> None:
        """Make the live rows (and `added` after them) the kept rows."""
        self._frame = None
        parts = [self.frame()] if added is None else [self.frame(), added]
        rows = pl.concat(parts, how="diagonal_relaxed").rechunk()
        self._rows = rows if self.table.extensible else rows.select(list(self.table.schema))
        self._indexes = {}
        self._dead = None
        self._dead_count = 0
        self._tail = None
        self._frame = self._rows


def _write(frame: pl.DataFrame, path: Path) -> None:
    """Write a Parquet file durably (fsync) before any manifest can name it."""
    tmp = path.with_suffix(".tmp")
    frame.write_parquet(tmp, compression="zstd", compression_level=1, statistics=False)
    with tmp.open("rb") as f:
        os.fsync(f.fileno())
    tmp.replace(path)
