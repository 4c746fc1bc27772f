"""Parquet tables that take small changes cheaply: a base file plus one delta file per run.

Each table has a *group* key: the unit a change replaces (a record's row, all identifiers of
a record, one customer). A delta holds the new rows of every group it touches, and a
tombstone row for every group it deletes; reading keeps, per group, the rows of the newest
generation that mentions it. Compaction folds the deltas into a new base once they grow past
a quarter of it, so a read costs about one pass over the live rows.

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
        groups. Compacts when the deltas grow past a quarter of the base."""
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
        grown = TableFiles(
            base=files.base,
            deltas=[*files.deltas, name],
            base_rows=files.base_rows,
            delta_rows=files.delta_rows + rows.height,
        )
        if grown.delta_rows * 4 > max(grown.base_rows, 100_000) or len(grown.deltas) > 32:
            merged = self.scan(root, grown).collect()
            return self.write_base(root, merged, tag)
        return grown


def _write(frame: pl.DataFrame, path: Path) -> None:
    """Write a Parquet file durably (fsync) before any manifest can name it."""
    tmp = path.with_suffix(".tmp")
    frame.write_parquet(tmp, compression="zstd", compression_level=1, statistics=False)
    with tmp.open("rb") as f:
        os.fsync(f.fileno())
    tmp.replace(path)
