"""File destination: the changes of each run as CSV, JSONL or Parquet in a folder.

A file is named `<segment>-<run time>-<first change key>.<ext>` and written whole (temporary
file, then rename), so a repeat overwrites the same file instead of adding a second one.
Columns: idempotency_key, customer_id, change, reason, ts, then the traits asked for.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from idgraph.activate.config import FileDestination
from idgraph.activate.destinations.base import Batch, DeliveryFailed, iso, stamp

__all__ = ["FileSender", "write_atomic"]


def write_atomic(path: Path, write: Any) -> None:
    """Write through `write(tmp_path)`, then rename: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise DeliveryFailed(f"cannot write {path.name}: {exc.strerror or exc}") from exc


class FileSender:
    def __init__(self, dest: FileDestination) -> None:
        self.dest = dest

    def send(self, batch: Batch) -> None:
        rows: list[dict[str, Any]] = [
            {
                "idempotency_key": c.id,
                "customer_id": c.customer,
                "change": c.change,
                "reason": c.reason,
                "ts": iso(c.ts),
                **{t: c.traits.get(t) for t in self.dest.traits},
            }
            for c in batch.changes
        ]
        ext = self.dest.format
        path = self.dest.folder / f"{batch.segment}-{stamp(batch.run_ts)}-{batch.key[:12]}.{ext}"
        if ext == "jsonl":
            text = b"".join(orjson.dumps(r) + b"\n" for r in rows)
            write_atomic(path, lambda p: p.write_bytes(text))
            return
        frame = pl.DataFrame(rows, infer_schema_length=None)
        if ext == "csv":
            write_atomic(path, lambda p: frame.write_csv(p))
        else:
            write_atomic(path, lambda p: frame.write_parquet(p))

    def close(self) -> None:
        return None
