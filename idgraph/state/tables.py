"""Parquet tables that take small changes cheaply: a base file plus one delta file per run.

Each table has a *group* key: the unit a change replaces (a record's row, all identifiers of
a record, one customer). A delta holds the new rows of every group it touches, and a
tombstone row for every group it deletes; reading keeps, per group, the rows of the newest
generation that mentions it. Compaction folds the deltas into a new base once they grow past
a quarter of it, so a read costs about one pass over the live rows.

A process that keeps the live rows in memory (`idgraph.state.cache`) applies each new delta to
them (`apply_delta`) instead of reading every file again; it folds many deltas into one
(`fold_deltas`) rather than rewriting the base, since its reads do not pay per file.

Nothing here is transactional on its own: `idgraph.state.mirror` publishes a set of files
atomically through its manifest.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

__all__ = ["DeltaTable", "TableFiles"]

_GEN = "_gen"
_DEAD = "_dead"
#: Chunks a frame kept in memory may have before `apply_delta` makes it one again.
_MAX_CHUNKS = 16


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
        return live if self._extensible else live.select(list(self.schema))

    @property
    def _extensible(self) -> bool:
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

    def apply_delta(self, live: pl.DataFrame, delta: pl.DataFrame) -> pl.DataFrame:
        """The live rows once the delta file `delta` (as read) is applied to `live`: what
        `scan` reads when that delta is the newest file."""
        group = list(self.group)
        if any(live[c].null_count() for c in group):
            # `scan` joins on the group: a row without a key never survives a delta.
            live = live.drop_nulls(group)
        delta = delta.drop_nulls(group)
        touched = delta.select(group).unique()
        if len(group) == 1:
            hit = live[group[0]].is_in(touched[group[0]].implode())
            if hit.any():
                live = live.filter(~hit)
        else:
            live = live.join(touched, on=group, how="anti", maintain_order="left")
        rows = delta.filter(~pl.col(_DEAD)).drop(_DEAD)
        if all(live.schema.get(c) == t for c, t in rows.schema.items()):
            # What the relaxed concat gives, without its cost on a wide table.
            rows = rows.select(
                pl.col(c) if c in rows.columns else pl.lit(None, dtype=t).alias(c)
                for c, t in live.schema.items()
            )
            merged = pl.concat([live, rows])
        else:
            merged = pl.concat([live, rows], how="diagonal_relaxed")
        if merged.n_chunks() > _MAX_CHUNKS:
            # Each delta adds a chunk; reads over many small chunks slow down.
            merged = merged.rechunk()
        return merged if self._extensible else merged.select(list(self.schema))


def _write(frame: pl.DataFrame, path: Path) -> None:
    """Write a Parquet file durably (fsync) before any manifest can name it."""
    tmp = path.with_suffix(".tmp")
    frame.write_parquet(tmp, compression="zstd", compression_level=1, statistics=False)
    with tmp.open("rb") as f:
        os.fsync(f.fileno())
    tmp.replace(path)
