"""Tables handed to LadybugDB as Parquet files rather than as Python objects.

The engine can scan an Arrow table or a Polars frame by its variable name, but its first such
scan in a process imports pandas: 0.3-0.4 s, a fifth of a 5k-record ingest, paid by every
`idgraph ingest` and every CLI command that writes. A Parquet file it reads natively, with
the same types (STRING, INT64, DOUBLE, BOOLEAN, STRING[]) and as fast at a million rows.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

__all__ = ["clear_leftovers", "parquet_source", "string_literal"]


@contextmanager
def parquet_source(frame: pl.DataFrame, folder: Path, prefix: str) -> Iterator[str]:
    """A Cypher string literal naming a Parquet file in `folder` that holds `frame`; the
    file is removed when the block ends, whatever happens in it.

    `folder` is the store's own: the file is as large as the rows being written, which that
    disk holds anyway, while the system's temporary folder may be small. `prefix` names the
    store, for `clear_leftovers`.
    """
    handle, name = tempfile.mkstemp(prefix=prefix, suffix=".parquet", dir=folder)
    os.close(handle)
    path = Path(name)
    try:
        frame.write_parquet(path, statistics=False)
        yield string_literal(str(path))
    finally:
        path.unlink(missing_ok=True)


def clear_leftovers(folder: Path, prefix: str) -> int:
    """Remove the files a process killed mid-write left behind; how many there were.

    Only for the one process that may write the store (the engine's lock says so): the
    prefix names the store, so another store's files in the same folder stay.
    """
    stale = list(folder.glob(f"{prefix}*.parquet"))
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


def string_literal(text: str) -> str:
    """`text` as a single-quoted Cypher string (a file path is not a parameter of COPY or
    LOAD FROM).

    Examples:
        >>> print(string_literal("/data/it's \\\\ here"))
        '/data/it\\'s \\\\ here'
    """
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
