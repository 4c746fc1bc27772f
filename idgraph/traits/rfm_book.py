"""Every stored buyer's RFM measures, kept sorted, so that a run rescores what it moves.

RFM scores are quintiles over all buyers: a run that touches a few hundred customers can
move the cut points and so the scores of customers it never touched. Ranking every buyer
again per run cost ~105 ms of each service micro-batch at a million customers. The book keeps
each measure's values sorted (with the buyer each value belongs to), so a run reads the old
and new cut points by position, and only the buyers whose value lies between an old cut and
its new place can change score: those are rescored, no one else.

The book describes the stored customers, as the mirror's `customers` table holds them. It
never changes during a run's planning (`rescore` only reads), and takes each written delta
(`apply`) as the kept table does, so it stays what the table says.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from idgraph.traits.compute import quintile_ranks, scores_by_cuts

__all__ = ["MEASURES", "RFM_BOOK", "Rescored", "RfmBook"]

#: The name the book is kept under beside the `customers` table (`Mirror.derived`).
RFM_BOOK = "rfm"
#: The stored measures, in the order of the three score digits (recency, frequency, monetary).
MEASURES = ("rfm_last_order_ts", "rfm_orders", "rfm_spent")

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Rescored:
    """Scores of the written buyers (in their order), and of the stored buyers that moved."""

    mine: tuple[Ints, Ints, Ints]
    moved_ids: pl.Series
    moved: tuple[Ints, Ints, Ints]


def _cuts(ordered: Floats) -> Floats:
    """The four cut points of sorted values (none when there are none)."""
    return ordered[quintile_ranks(ordered.size)] if ordered.size else np.zeros(0)


def _buyers(rows: pl.DataFrame) -> tuple[list[str], Floats, Ints]:
    """Ids, measures (3 × n; a missing measure counts as 0) and stored codes of `rows`'
    buyers (a code that is not three digits is -1: it matches no score)."""
    if not set(MEASURES) <= set(rows.columns):
        return [], np.zeros((3, 0)), np.zeros(0, dtype=np.int64)
    bought = rows.filter(pl.col("rfm_orders").fill_null(0) > 0)
    values = np.vstack(
        [bought[name].cast(pl.Float64).fill_null(0.0).to_numpy() for name in MEASURES]
    )
    codes = (
        bought["rfm_score"].cast(pl.Int64, strict=False).fill_null(-1).to_numpy()
        if "rfm_score" in bought.columns
        else np.full(bought.height, -1, dtype=np.int64)
    )
    return bought["id"].to_list(), values.astype(np.float64), codes.astype(np.int64)


class RfmBook:
    """The stored buyers: per slot an id, three measures and the stored code (`100 r + 10 f
    + m`); per measure the values in ascending order with their slots (ties by slot)."""

    def __init__(self, rows: pl.DataFrame) -> None:
        ids, values, codes = _buyers(rows)
        n = len(ids)
        self._ids: list[str | None] = list(ids)
        self._slot: dict[str, int] = dict(zip(ids, range(n), strict=True))
        self._free: list[int] = []
        self._values = values
        self._codes = codes
        self._who: list[Ints] = [
            np.argsort(values[m], kind="stable").astype(np.int64) for m in range(3)
        ]
        self._sorted: list[Floats] = [values[m][self._who[m]] for m in range(3)]
        # Stored codes the stored measures do not give (a store scored by other rules, or
        # whose measures were edited): rescored by the next run, as a full pass would.
        stale = self._codes != self._code_of(np.arange(n), [_cuts(s) for s in self._sorted])
        self._stale: Ints = np.flatnonzero(stale).astype(np.int64)

    @classmethod
    def of(cls, rows: pl.LazyFrame) -> RfmBook:
        """The book of a `customers` table's live rows."""
        names = rows.collect_schema().names()
        wanted = ["id", *(c for c in (*MEASURES, "rfm_score") if c in names)]
        if "rfm_orders" in names:
            rows = rows.filter(pl.col("rfm_orders") > 0)
        return cls(rows.select(wanted).collect())

    def __len__(self) -> int:
        return len(self._slot)

    def rescore(self, skip: Collection[str], buyers: pl.DataFrame) -> Rescored:
        """Scores after the stored customers `skip` are replaced by the written `buyers` (the
        run's customers with orders, measures in `MEASURES`): the buyers' own, and those of
        the stored buyers whose score moves."""
        _, added, _ = _buyers(buyers)
        gone = self._slots(skip)
        new_cuts: list[Floats] = []
        candidates: list[Ints] = [self._stale]
        for m in range(3):
            ordered = self._sorted[m]
            kept = np.delete(ordered, self._positions(m, gone))
            joining = np.sort(added[m])
            merged = np.insert(kept, np.searchsorted(kept, joining), joining)
            new, old = _cuts(merged), _cuts(ordered)
            new_cuts.append(new)
            if old.size == 0:
                continue
            for before, after in zip(old, new, strict=True):
                if before != after:
                    low, high = min(before, after), max(before, after)
                    start, stop = np.searchsorted(ordered, [low, high], side="right")
                    candidates.append(self._who[m][start:stop])
        mine = tuple(scores_by_cuts(new_cuts[m], added[m]) for m in range(3))
        slots = np.setdiff1d(np.concatenate(candidates), gone)
        codes = self._code_of(slots, new_cuts)
        slots = slots[codes != self._codes[slots]]
        moved = tuple(scores_by_cuts(new_cuts[m], self._values[m, slots]) for m in range(3))
        ids = pl.Series("id", [self._ids[s] for s in slots.tolist()], dtype=pl.Utf8)
        return Rescored(mine, ids, moved)  # type: ignore[arg-type]

    def apply(self, touched: pl.DataFrame, added: pl.DataFrame) -> None:
        """Take a delta of the `customers` table: the ids it rewrites or removes (`touched`),
        and its new rows (`added`)."""
        if "id" not in touched.columns:
            return
        self._remove(self._slots(touched["id"].drop_nulls().to_list()))
        ids, values, codes = _buyers(added)
        if ids:
            self._add(ids, values, codes)

    def _slots(self, ids: Collection[str]) -> Ints:
        slot = self._slot
        return np.array(sorted({slot[i] for i in ids if i in slot}), dtype=np.int64)

    def _positions(self, m: int, slots: Ints) -> Ints:
        """Where the values of `slots` sit (or would sit) in measure `m`'s order: the block of
        their value, then their slot within it, by a bisection of all blocks at once (a block
        of tied values can hold most buyers: one order count is common to many)."""
        ordered, who = self._sorted[m], self._who[m]
        values = self._values[m, slots]
        low = np.searchsorted(ordered, values, side="left")
        high = np.searchsorted(ordered, values, side="right")
        while (open_ := low < high).any():
            middle = (low + high) // 2
            before = open_ & (who[np.minimum(middle, who.size - 1)] < slots)
            low = np.where(before, middle + 1, low)
            high = np.where(open_ & ~before, middle, high)
        result: Ints = low.astype(np.int64)
        return result

    def _code_of(self, slots: Ints, cuts: list[Floats]) -> Ints:
        r, f, m = (scores_by_cuts(cuts[k], self._values[k, slots]) for k in range(3))
        code: Ints = 100 * r + 10 * f + m
        return code

    def _remove(self, slots: Ints) -> None:
        if slots.size == 0:
            return
        for m in range(3):
            at = self._positions(m, slots)
            self._sorted[m] = np.delete(self._sorted[m], at)
            self._who[m] = np.delete(self._who[m], at)
        for s in slots.tolist():
            del self._slot[self._ids[s]]
            self._ids[s] = None
        self._free.extend(slots.tolist())
        self._stale = np.setdiff1d(self._stale, slots)

    def _add(self, ids: list[str], values: Floats, codes: Ints) -> None:
        slots = np.empty(len(ids), dtype=np.int64)
        for i, key in enumerate(ids):
            if self._free:
                slot = self._free.pop()
            else:
                slot = len(self._ids)
                self._ids.append(None)
            self._ids[slot] = key
            self._slot[key] = slot
            slots[i] = slot
        grown = len(self._ids)
        if self._values.shape[1] < grown:
            room = max(grown, 2 * self._values.shape[1])
            self._values = np.hstack([self._values, np.zeros((3, room - self._values.shape[1]))])
            self._codes = np.concatenate([self._codes, np.full(room - self._codes.size, -1)])
        self._values[:, slots] = values
        self._codes[slots] = codes
        for m in range(3):
            # Sorted by (value, slot) first, so equal insertion points keep the slot order.
            order = np.lexsort((slots, values[m]))
            inserted = slots[order]
            at = self._positions(m, inserted)
            self._sorted[m] = np.insert(self._sorted[m], at, values[m][order])
            self._who[m] = np.insert(self._who[m], at, inserted)
