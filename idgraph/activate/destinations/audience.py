"""Audience destination: the customer-list files ad platforms match on.

Per run, `<segment>-<run time>-<key>.added.csv` and `.removed.csv`, each with columns
`type,sha256`: one row per identifier, an email lower-cased and trimmed or a phone in E.164,
SHA-256 hashed (hex). What was added for a customer is kept in a ledger (`.ledger.json` in the
folder, hashes only), so an exit removes exactly that, even after the customer was erased.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson

from idgraph.activate.config import AudienceDestination
from idgraph.activate.destinations.base import Batch, DeliveryFailed, stamp
from idgraph.activate.destinations.files import write_atomic
from idgraph.normalize.fields import normalize_phone

__all__ = ["AudienceSender", "hashed_identifier"]


def hashed_identifier(kind: str, value: str, *, default_region: str = "US") -> str | None:
    """The hex SHA-256 of an email (lower-cased, trimmed) or phone (E.164), None when the
    value does not normalize.

    Examples:
        >>> hashed_identifier("email", "  Ana@Example.COM ") == hashed_identifier(
        ...     "email", "ana@example.com")
        True
    """
    if kind == "email":
        text = value.strip().lower()
        if "@" not in text:
            return None
    else:
        try:
            text = normalize_phone(value, default_region) or ""
        except ValueError:
            return None
        if not text:
            return None
    return hashlib.sha256(text.encode()).hexdigest()


class AudienceSender:
    def __init__(self, dest: AudienceDestination) -> None:
        self.dest = dest
        self._ledger_path = dest.folder / ".ledger.json"
        self._ledger = self._read_ledger()

    def _read_ledger(self) -> dict[str, list[list[str]]]:
        if not self._ledger_path.is_file():
            return {}
        try:
            data = orjson.loads(self._ledger_path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise DeliveryFailed(f"cannot read the audience ledger: {exc}") from exc
        return dict(data)

    def send(self, batch: Batch) -> None:
        added: dict[tuple[str, str], None] = {}
        removed: dict[tuple[str, str], None] = {}
        for change in batch.changes:
            key = f"{batch.segment}\t{change.customer}"
            if change.change == "entered":
                rows = []
                for kind, value in change.identifiers:
                    digest = hashed_identifier(kind, value, default_region=self.dest.default_region)
                    if digest is not None:
                        rows.append([kind, digest])
                        added[(kind, digest)] = None
                self._ledger[key] = rows
            else:
                for kind, digest in self._ledger.pop(key, []):
                    removed[(kind, digest)] = None
        base = f"{batch.segment}-{stamp(batch.run_ts)}-{batch.key[:12]}"
        for suffix, rows_of in (("added", added), ("removed", removed)):
            text = "type,sha256\n" + "".join(f"{k},{d}\n" for k, d in rows_of)
            write_atomic(self.dest.folder / f"{base}.{suffix}.csv", _writer(text))
        ledger = orjson.dumps(self._ledger)
        write_atomic(self._ledger_path, lambda p: p.write_bytes(ledger))

    def close(self) -> None:
        return None


def _writer(text: str):  # type: ignore[no-untyped-def]
    def write(path: Path) -> None:
        path.write_text(text, encoding="utf-8")

    return write
