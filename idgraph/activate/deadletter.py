"""The dead-letter files: changes a destination still refused after the retry budget.

One JSONL file per destination in the dead-letter folder; each line is one batch with the
reason, the attempts made and the changes (keys, customer ids, change, reason, time — no
traits or identifiers: those are read again when the batch is resent).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from idgraph.activate.destinations import Batch, DeliveredChange
from idgraph.errors import ConfigError

__all__ = ["DeadLetters"]


class DeadLetters:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, destination: str) -> Path:
        return self.folder / f"{destination}.jsonl"

    def add(self, destination: str, batch: Batch, *, reason: str, attempts: int) -> None:
        """Append one batch; flushed to disk before the outbox forgets it."""
        line = {
            "destination": destination,
            "reason": reason,
            "attempts": attempts,
            "failed_at": int(time.time() * 1000),
            "segment": batch.segment,
            "run_ts": batch.run_ts,
            "changes": [
                {"id": c.id, "customer": c.customer, "change": c.change, "reason": c.reason,
                 "ts": c.ts}
                for c in batch.changes
            ],
        }  # fmt: skip
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.path(destination).open("ab") as handle:
            handle.write(orjson.dumps(line) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())

    def read(self, destination: str) -> Iterator[dict[str, Any]]:
        """The dead batches of one destination, oldest first.

        Raises:
            ConfigError: a line is not what `add` writes (naming the file and line).
        """
        path = self.path(destination)
        if not path.is_file():
            return
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                try:
                    data = orjson.loads(raw)
                    data["changes"] = [DeliveredChange(**c) for c in data["changes"]]
                except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
                    raise ConfigError(
                        f"line {number}: not a dead-letter entry ({exc})", path=path
                    ) from exc
                yield data

    def rewrite(self, destination: str, entries: list[dict[str, Any]]) -> None:
        """Keep only `entries` (those still failing), replacing the file whole."""
        path = self.path(destination)
        if not entries:
            path.unlink(missing_ok=True)
            return
        tmp = path.with_name(f".{path.name}.tmp")
        with tmp.open("wb") as handle:
            for entry in entries:
                plain = {**entry, "changes": [_plain(c) for c in entry["changes"]]}
                handle.write(orjson.dumps(plain) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)


def _plain(change: DeliveredChange) -> dict[str, Any]:
    return {"id": change.id, "customer": change.customer, "change": change.change,
            "reason": change.reason, "ts": change.ts}  # fmt: skip
