"""Small sources written on the fly: a CRM-shaped CSV with its mapping, a JSONL call stream.

Tests that ingest a few hand-made people, one run at a time, write them with these.
"""

from __future__ import annotations

from pathlib import Path

import orjson

MAPPING = """source: {source}
id: id
columns:
  email: email
  phone: phone
  first_name: first
  last_name: last
  birth_date: dob
"""
COLUMNS = ["id", "email", "phone", "first", "last", "dob"]


def write_csv(folder: Path, source: str, rows: list[dict[str, str]]) -> Path:
    """`<folder>/<source>.csv` with `rows` (missing columns empty) and its mapping beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{source}.csv"
    lines = [",".join(COLUMNS)] + [",".join(row.get(c, "") for c in COLUMNS) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / f"{source}.mapping.yaml").write_text(MAPPING.format(source=source), encoding="utf-8")
    return path


def write_calls(folder: Path, calls: list[dict[str, object]]) -> Path:
    """`<folder>/web.jsonl`: one call per line."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "web.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(call) for call in calls) + b"\n")
    return path
