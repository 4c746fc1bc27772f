"""Copies of an embedded store for runs that change them: the benches' and the tests'.

One copier, so every copy carries what the store is made of: its file (or folder), its
write-ahead log when it has one (commits not yet checkpointed live only there) and its
resolution mirror (`<store>.state`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["copy_store"]

#: What a store is made of: its file (or folder), its write-ahead log, its mirror.
_PARTS = ("", ".wal", ".state")
#: What a service that ran on a copy left beside it, removed with an earlier copy.
_LEFT = (".calls",)


def copy_store(store: Path, target: Path, *, flush: bool = False) -> Path:
    """Copy `store` with its log and mirror to `target` and return `target`.

    What an earlier copy left at `target` is removed first, with the call log
    (`<target>.calls`) of a service that ran on it; the folder holding `target` is made.

    Args:
        flush: fsync every file of the copy, so a timed run that follows does not pay for
            writing out a fresh copy (a checkpoint syncs the file: about 3 s of a 1M add).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    for old in (Path(f"{target}{suffix}") for suffix in (*_PARTS, *_LEFT)):
        if old.is_dir():
            shutil.rmtree(old)
        elif old.exists():
            old.unlink()
    for suffix in _PARTS:
        source = Path(f"{store}{suffix}")
        if not source.exists():
            continue
        copied = Path(f"{target}{suffix}")
        if source.is_dir():
            shutil.copytree(source, copied)
        else:
            shutil.copy2(source, copied)
        if flush:
            for path in copied.rglob("*") if copied.is_dir() else [copied]:
                if path.is_file():
                    with path.open("rb+") as handle:
                        os.fsync(handle.fileno())
    return target
