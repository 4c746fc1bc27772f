"""Row positions by the value of one column, for looking up a few keys in a large frame.

The service's resolver reads the rows of a few hundred records from mirror tables of
hundreds of thousands to millions of rows after every micro-batch. `is_in` over a whole
column costs time in proportion to the table, and a micro-batch made dozens of them: that was
the part of its fixed cost that grew with the store. A `KeyIndex` sorts the 64-bit hashes of
one column once, when the kept rows are rebuilt, and answers with binary searches; the
positions it returns may include rows whose hash merely collides, so callers compare the
values of the rows they gather.
"""

from __future__ import annotations

import numpy as np
import polars as pl

__all__ = ["KeyIndex"]


class KeyIndex:
    """The positions of a column's rows, ordered by the hash of their value.

    Args:
        column: the column as kept (its dtype is what lookups cast their keys to).
    """

    def __init__(self, column: pl.Series) -> None:
        self._dtype = column.dtype
        hashes = column.hash().to_numpy()
        self._order = np.argsort(hashes, kind="stable").astype(np.uint32, copy=False)
        self._hashes = hashes[self._order]

    def candidates(self, keys: pl.Series) -> np.ndarray:
        """Ascending positions of the rows that may hold one of `keys` (a superset: hash
        collisions included, nulls never asked for)."""
        keys = keys.cast(self._dtype).drop_nulls()
        if keys.len() == 0 or len(self._hashes) == 0:
            return np.empty(0, dtype=np.uint32)
        wanted = np.unique(keys.hash().to_numpy())
        low = np.searchsorted(self._hashes, wanted, side="left")
        high = np.searchsorted(self._hashes, wanted, side="right")
        counts = high - low
        total = int(counts.sum())
        if total == 0:
            return np.empty(0, dtype=np.uint32)
        starts = np.repeat(low - (np.cumsum(counts) - counts), counts)
        return np.sort(self._order[starts + np.arange(total)])
