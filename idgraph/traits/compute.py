"""Computed traits: a customer's events -> one value per configured trait, for every customer.

Pure and columnar: events arrive as one frame (customer, name, ts, id) with their scalar
properties in a long frame, each trait is a masked aggregation over integer customer codes
(numpy `bincount` / `ufunc.at`, Polars group-bys), and nothing here touches a store. Exact
definitions are in docs/traits.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from idgraph.frames import property_text
from idgraph.traits.config import LifecycleConfig, RfmConfig, TraitsConfig, TraitSpec

DAY_MS = 86_400_000
#: Columns of the events frame `compute_traits` reads.
EVENT_COLUMNS = ("customer", "name", "ts", "id")
AGE_BANDS = ("under_18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+")
_BAND_FLOORS = (18, 25, 35, 45, 55, 65)
#: Kinds of scalar values, in the order most_frequent ties are broken: booleans, numbers, text.
_BOOL, _NUMBER, _TEXT = 0, 1, 2
_KIND_CODES = {"boolean": _BOOL, "number": _NUMBER, "string": _TEXT}
#: Monetary sums are ranked after rounding, so float summation order cannot split a tie.
_MONEY_DECIMALS = 6

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]
#: One trait for every customer: the values, and where a value exists.
Column = tuple[list[Any], Mask]


@dataclass(frozen=True, slots=True)
class TraitEvents:
    """Events as traits read them: (customer, name, ts, id) and their scalar properties, long
    (id, name, kind, value) as `idgraph.frames.EVENT_PROPERTIES` holds them."""

    events: pl.DataFrame
    properties: pl.DataFrame


def events_frame(rows: Iterable[tuple[str | None, str, int, Mapping[str, Any]]]) -> TraitEvents:
    """The events from `(customer id, event name, ts epoch ms, properties)` tuples."""
    events: dict[str, list[Any]] = {"customer": [], "name": [], "ts": [], "id": []}
    props: dict[str, list[Any]] = {"id": [], "name": [], "kind": [], "value": []}
    for number, (customer, name, ts, properties) in enumerate(rows):
        event_id = f"e{number}"
        events["customer"].append(customer)
        events["name"].append(name)
        events["ts"].append(int(ts))
        events["id"].append(event_id)
        for prop, value in properties.items() if isinstance(properties, Mapping) else ():
            scalar = property_text(value)
            if scalar is not None:
                props["id"].append(event_id)
                props["name"].append(prop)
                props["kind"].append(scalar[0])
                props["value"].append(scalar[1])
    return TraitEvents(
        pl.DataFrame(
            events,
            schema={"customer": pl.Utf8, "name": pl.Utf8, "ts": pl.Int64, "id": pl.Utf8},
        ),
        pl.DataFrame(
            props, schema={"id": pl.Utf8, "name": pl.Utf8, "kind": pl.Utf8, "value": pl.Utf8}
        ),
    )


def compute_trait_columns(
    config: TraitsConfig,
    events: TraitEvents,
    *,
    customers: pl.Series,
    as_of_ms: int,
    birth_dates: pl.Series | None = None,
) -> pl.DataFrame:
    """Every configured trait for every customer, as of one instant, one column per trait.

    Events after `as_of_ms`, or of customers not in `customers`, are ignored. A trait without
    a value (no matching event, no birth date, no purchase) is null, so it overrides a source
    trait of the same name.

    Args:
        config: the traits to compute.
        events: the customers' events and their scalar properties.
        customers: every customer id; each gets a row (in this order), events or not.
        as_of_ms: the instant windows and day counts are measured from (epoch ms).
        birth_dates: `YYYY-MM-DD` per customer, aligned with `customers` (for `age`).
    """
    table = _EventTable(events, customers, as_of_ms)
    columns: dict[str, Column] = {}
    for spec in config.traits:
        columns[spec.name] = _trait(table, spec)
    builtins = config.builtins
    if builtins.age:
        dates = (
            birth_dates
            if birth_dates is not None
            else pl.repeat(None, len(customers), dtype=pl.Utf8, eager=True)
        )
        columns.update(_age(dates.to_list(), as_of_ms))
    if builtins.rfm is not None:
        columns.update(_rfm(table, builtins.rfm))
    if builtins.lifecycle is not None:
        columns.update(_lifecycle(table, builtins.lifecycle))
    out: dict[str, pl.Series] = {}
    for name, (values, present) in columns.items():
        series = pl.Series(name, values, strict=False)
        out[name] = series.set(pl.Series(~present), None) if not present.all() else series
    return pl.DataFrame(out, height=len(customers)) if out else pl.DataFrame(height=len(customers))


def compute_traits(
    config: TraitsConfig,
    events: TraitEvents,
    *,
    customers: Sequence[str],
    as_of_ms: int,
    birth_dates: Sequence[str | None] | None = None,
) -> dict[str, dict[str, Any]]:
    """`compute_trait_columns` as customer id -> trait name -> value.

    Examples:
        >>> from idgraph.traits.config import TraitsConfig
        >>> config = TraitsConfig.model_validate(
        ...     {"traits": [{"name": "orders", "kind": "count", "event": "Order Completed"}]}
        ... )
        >>> frame = events_frame([("c1", "Order Completed", 0, {}), ("c1", "Page Viewed", 0, {})])
        >>> compute_traits(config, frame, customers=["c1", "c2"], as_of_ms=DAY_MS)
        {'c1': {'orders': 1}, 'c2': {'orders': 0}}
    """
    frame = compute_trait_columns(
        config,
        events,
        customers=pl.Series(list(customers), dtype=pl.Utf8),
        as_of_ms=as_of_ms,
        birth_dates=None if birth_dates is None else pl.Series(list(birth_dates), dtype=pl.Utf8),
    )
    rows = frame.to_dicts() if frame.width else [{} for _ in customers]
    return dict(zip(customers, rows, strict=True))


class _EventTable:
    """Events up to as-of as customer codes, timestamps and names; property columns cached."""

    def __init__(self, events: TraitEvents, customers: pl.Series, as_of_ms: int) -> None:
        codes = pl.DataFrame({"customer": customers.cast(pl.Utf8)}).with_row_index("code")
        frame = (
            events.events.with_row_index("_event")
            .join(codes, on="customer", how="inner")
            .filter(pl.col("ts") <= as_of_ms)
            .sort("_event")
        )
        self.size = len(customers)
        self.as_of_ms = as_of_ms
        self.code: Ints = frame["code"].to_numpy().astype(np.int64)
        self.ts: Ints = frame["ts"].to_numpy().astype(np.int64)
        self.names = frame["name"]
        self.ids = frame.select("id").with_row_index("_row")
        self.properties = events.properties
        self._numbers: dict[str, Floats] = {}
        self._scalars: dict[str, tuple[npt.NDArray[np.int8], Floats, npt.NDArray[Any]]] = {}

    def mask(self, events: tuple[str, ...] | None, within_days: int | None) -> Mask:
        """Events of those names (None: any) at or after as-of minus `within_days`."""
        if events is None:
            mask: Mask = np.ones(len(self.ts), dtype=bool)
        else:
            mask = self.names.is_in(list(events)).to_numpy().astype(bool)
        if within_days is not None:
            mask = mask & (self.ts >= self.as_of_ms - within_days * DAY_MS)
        return mask

    def counts(self, mask: Mask) -> Ints:
        return np.bincount(self.code[mask], minlength=self.size).astype(np.int64)

    def _property(self, prop: str) -> pl.DataFrame:
        """(row, kind, value) of one property over the table's events."""
        wanted = self.properties.filter(pl.col("name") == prop).unique(subset=["id"], keep="first")
        return self.ids.join(wanted.select("id", "kind", "value"), on="id", how="inner")

    def numbers(self, prop: str) -> Floats:
        """The property as a float per event; NaN where missing, not a number, or not finite."""
        if prop not in self._numbers:
            values = np.full(len(self.ts), math.nan)
            found = self._property(prop).filter(pl.col("kind") == "number")
            rows = found["_row"].to_numpy().astype(np.int64)
            values[rows] = found["value"].cast(pl.Float64).to_numpy()
            values[~np.isfinite(values)] = math.nan
            self._numbers[prop] = values
        return self._numbers[prop]

    def scalars(self, prop: str) -> tuple[npt.NDArray[np.int8], Floats, npt.NDArray[Any]]:
        """The property as (kind, number, text) per event; kind -1 where unusable."""
        if prop not in self._scalars:
            size = len(self.ts)
            kinds = np.full(size, -1, dtype=np.int8)
            nums = np.zeros(size, dtype=np.float64)
            texts = np.full(size, "", dtype=object)
            found = self._property(prop).filter(
                (pl.col("kind") != "string") | (pl.col("value") != "")
            )
            rows = found["_row"].to_numpy().astype(np.int64)
            kind = found["kind"].replace_strict(_KIND_CODES, return_dtype=pl.Int8).to_numpy()
            kinds[rows] = kind
            value = found["value"]
            nums[rows] = np.where(
                kind == _BOOL,
                (value == "true").to_numpy().astype(np.float64),
                np.where(
                    kind == _NUMBER,
                    value.cast(pl.Float64, strict=False).fill_null(0.0).to_numpy(),
                    0.0,
                ),
            )
            texts[rows] = np.where(kind == _TEXT, value.to_numpy(), "")
            finite = np.isfinite(nums)
            kinds[~finite] = -1
            nums[~finite] = 0.0
            self._scalars[prop] = (kinds, nums, texts)
        return self._scalars[prop]

    def extreme_ts(self, mask: Mask, *, latest: bool) -> Ints:
        """Per customer the latest (or earliest) masked timestamp; meaningless where count is 0."""
        out = np.full(self.size, np.iinfo(np.int64).min if latest else np.iinfo(np.int64).max)
        (np.maximum if latest else np.minimum).at(out, self.code[mask], self.ts[mask])
        return out


def _trait(table: _EventTable, spec: TraitSpec) -> Column:
    mask = table.mask(spec.event, spec.within_days)
    everyone = np.ones(table.size, dtype=bool)
    if spec.kind == "count":
        return table.counts(mask).tolist(), everyone
    if spec.kind in ("first_seen", "last_seen", "days_since_last"):
        present = table.counts(mask) > 0
        stamps = table.extreme_ts(mask, latest=spec.kind != "first_seen")
        if spec.kind == "days_since_last":
            stamps = np.where(present, (table.as_of_ms - stamps) // DAY_MS, 0)
        return stamps.tolist(), present
    assert spec.property is not None
    if spec.kind in ("distinct_count", "most_frequent"):
        return _by_value(table, mask, spec.property, most_frequent=spec.kind == "most_frequent")
    values = table.numbers(spec.property)
    valid = mask & ~np.isnan(values)
    codes, picked = table.code[valid], values[valid]
    counts = np.bincount(codes, minlength=table.size)
    if spec.kind == "sum":
        return np.bincount(codes, weights=picked, minlength=table.size).tolist(), everyone
    present = counts > 0
    if spec.kind == "avg":
        sums = np.bincount(codes, weights=picked, minlength=table.size)
        return (sums / np.maximum(counts, 1)).tolist(), present
    out = np.full(table.size, math.inf if spec.kind == "min" else -math.inf)
    (np.minimum if spec.kind == "min" else np.maximum).at(out, codes, picked)
    return out.tolist(), present


def _by_value(table: _EventTable, mask: Mask, prop: str, *, most_frequent: bool) -> Column:
    kinds, nums, texts = table.scalars(prop)
    valid = mask & (kinds >= 0)
    frame = pl.DataFrame(
        {
            "code": table.code[valid],
            "kind": kinds[valid],
            "num": nums[valid],
            "text": pl.Series(texts[valid].tolist(), dtype=pl.Utf8),
        }
    )
    if not most_frequent:
        distinct = frame.unique()
        counts = np.bincount(distinct["code"].to_numpy().astype(np.int64), minlength=table.size)
        return counts.tolist(), np.ones(table.size, dtype=bool)
    best = (
        frame.group_by("code", "kind", "num", "text")
        .len()
        .sort(
            ["code", "len", "kind", "num", "text"],
            descending=[False, True, False, False, False],
        )
        .unique(subset=["code"], keep="first", maintain_order=True)
    )
    values: list[Any] = [None] * table.size
    present = np.zeros(table.size, dtype=bool)
    for code, kind, num, text in best.select("code", "kind", "num", "text").iter_rows():
        values[code] = bool(num) if kind == _BOOL else float(num) if kind == _NUMBER else text
        present[code] = True
    return values, present


def _age(birth_dates: Sequence[str | None], as_of_ms: int) -> dict[str, Column]:
    """Whole years at the as-of date (UTC); a birthday on 29 February counts from 1 March."""
    day = datetime.fromtimestamp(as_of_ms / 1000, tz=UTC)
    born = pl.Series(list(birth_dates), dtype=pl.Utf8).str.to_date("%Y-%m-%d", strict=False)
    year = born.dt.year().cast(pl.Float64).fill_null(np.nan).to_numpy()
    month = born.dt.month().cast(pl.Float64).fill_null(np.nan).to_numpy()
    dom = born.dt.day().cast(pl.Float64).fill_null(np.nan).to_numpy()
    before_birthday = (month > day.month) | ((month == day.month) & (dom > day.day))
    age = day.year - year - before_birthday
    present = ~np.isnan(age) & (age >= 0)
    ages = np.where(present, age, 0).astype(np.int64)
    band_index = np.searchsorted(np.array(_BAND_FLOORS), ages, side="right")
    bands = [AGE_BANDS[i] for i in band_index.tolist()]
    return {"age": (ages.tolist(), present), "age_band": (bands, present)}


def quintile_ranks(n: int) -> list[int]:
    """Where the four cut points sit among `n` values in ascending order: a score passes
    k + 1 once `below` reaches ceil(k * n / 5), once the value is larger than that value."""
    return [-(-k * n // 5) - 1 for k in range(1, 5)]


def scores_by_cuts(cuts: npt.ArrayLike, values: npt.ArrayLike) -> Ints:
    """Scores 1..5 of `values` against the ascending `cuts` (`quintile_ranks`): one more per
    cut strictly below the value, so ties share the lower score."""
    scores: Ints = (1 + np.searchsorted(cuts, values, side="left")).astype(np.int64)
    return scores


def quintile_scores(values: npt.ArrayLike) -> Ints:
    """Scores 1..5 where larger values are better: `1 + floor(5 * below / n)`.

    `below` counts the values strictly smaller, so ties share the lower score.

    Examples:
        >>> quintile_scores([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]).tolist()
        [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
        >>> quintile_scores([5, 5, 5, 7]).tolist()
        [1, 1, 1, 4]
    """
    array = np.asarray(values)
    n = array.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    # The score passes k + 1 once `below` reaches ceil(k * n / 5): once the value is larger
    # than the ceil(k * n / 5)-th smallest. Four order statistics (a partition, linear) and
    # a search among those four (ascending) cuts, where ranking every value meant a sort: at
    # a million buyers that was most of an incremental run's rescoring.
    ranks = quintile_ranks(n)
    cuts = np.partition(array, ranks)[ranks]
    scores = scores_by_cuts(cuts, array)
    if array.dtype.kind == "f" and (missing := np.isnan(array)).any():
        # A NaN ranks after every number (as sorting places it): its `below` is their count.
        counted = int(n - missing.sum())
        scores[missing] = 1 + sum(counted >= rank + 1 for rank in ranks)
    result: Ints = scores.astype(np.int64)
    return result


def _rfm(table: _EventTable, rfm: RfmConfig) -> dict[str, Column]:
    mask = table.mask(rfm.event, rfm.within_days)
    counts = table.counts(mask)
    buyers = counts > 0
    last = table.extreme_ts(mask, latest=True)
    money = table.numbers(rfm.monetary)
    valid = mask & ~np.isnan(money)
    spent = np.bincount(table.code[valid], weights=money[valid], minlength=table.size)
    spent = np.round(spent, _MONEY_DECIMALS)
    scores = {
        name: np.zeros(table.size, dtype=np.int64)
        for name in ("rfm_recency", "rfm_frequency", "rfm_monetary")
    }
    measured = rfm_scores(last[buyers], counts[buyers], spent[buyers])
    for name, values in zip(scores, measured, strict=True):
        scores[name][buyers] = values
    columns: dict[str, Column] = {name: (s.tolist(), buyers) for name, s in scores.items()}
    columns["rfm_score"] = (rfm_text(*scores.values()), buyers)
    columns["rfm_last_order_ts"] = (last.tolist(), buyers)
    columns["rfm_orders"] = (counts.tolist(), buyers)
    columns["rfm_spent"] = (spent.tolist(), buyers)
    return columns


def rfm_scores(last: npt.ArrayLike, orders: npt.ArrayLike, spent: npt.ArrayLike) -> list[Ints]:
    """Recency, frequency and monetary quintile scores of a population of buyers.

    An incremental ingest calls this with every buyer's stored measures, so the customers it
    touches are scored against everyone, exactly as a full run scores them.
    """
    return [quintile_scores(last), quintile_scores(orders), quintile_scores(spent)]


def rfm_text(recency: Ints, frequency: Ints, monetary: Ints) -> list[str]:
    """The three scores as one `rfm_score` string per customer, e.g. "545"."""
    return rfm_codes(recency, frequency, monetary).to_list()


def rfm_codes(recency: Ints, frequency: Ints, monetary: Ints) -> pl.Series:
    """`rfm_text` as a Series, built without a Python string per customer (scores are 0..5).

    Examples:
        >>> import numpy as np
        >>> rfm_codes(np.array([5, 1, 0]), np.array([4, 2, 0]), np.array([5, 3, 0])).to_list()
        ['545', '123', '000']
    """
    number = 100 * np.asarray(recency, dtype=np.int64) + 10 * np.asarray(frequency) + monetary
    return pl.Series("rfm_score", number, dtype=pl.Int64).cast(pl.Utf8).str.zfill(3)


def _lifecycle(table: _EventTable, life: LifecycleConfig) -> dict[str, Column]:
    mask = table.mask(life.event, None)
    bought = table.counts(mask) > 0
    first = table.extreme_ts(mask, latest=False)
    last = table.extreme_ts(mask, latest=True)

    def since(days: int) -> int:
        return table.as_of_ms - days * DAY_MS

    stage = np.select(
        [
            ~bought,
            first >= since(life.new_days),
            last >= since(life.active_days),
            last >= since(life.lapsing_days),
        ],
        ["prospect", "new", "active", "lapsing"],
        default="lapsed",
    )
    return {"lifecycle_stage": (stage.tolist(), np.ones(table.size, dtype=bool))}
