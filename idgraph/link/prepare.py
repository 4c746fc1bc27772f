"""Cleaning and encoding: each used column becomes integer codes over its distinct cleaned values.

Everything downstream works on these codes: exact agreement is `codes[l] == codes[r]`, term
frequencies are counts per code, and derived values (phonetic keys, dates, numbers, nicknames) are
computed once per distinct value, never once per record or pair.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jellyfish
import numpy as np
import numpy.typing as npt
import pandas as pd

from idgraph.errors import ConfigError
from idgraph.link.config import CleanStep, FieldSpec, LinkConfig
from idgraph.normalize.nicknames import canonical_first_name

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ObjArray = npt.NDArray[np.object_]


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


_STEPS: dict[CleanStep, Callable[[Any], Any]] = {
    "lower": lambda s: s.str.lower(),
    "upper": lambda s: s.str.upper(),
    "ascii": lambda s: s.map(_ascii),
    "strip": lambda s: s.str.strip(),
    "collapse_spaces": lambda s: s.str.replace(r"\s+", " ", regex=True).str.strip(),
    "digits_only": lambda s: s.str.replace(r"\D+", "", regex=True),
    "alnum_only": lambda s: s.str.replace(r"[^0-9A-Za-z]+", "", regex=True),
    "letters_only": lambda s: s.str.replace(r"[^A-Za-z]+", "", regex=True),
}


def clean_values(values: Any, spec: FieldSpec) -> Any:
    """Distinct raw values (a pandas Series of str) cleaned; empty or listed nulls become None."""
    out = values
    for step in spec.clean:
        out = _STEPS[step](out)
    nulls = {"", *spec.null_values}
    return out.where(~out.isin(nulls), None)


@dataclass
class Encoded:
    """One column as codes (-1 = null) into `values`, the distinct cleaned strings.

    Derived per-value arrays (phonetic codes, parsed dates, numbers) are cached on first use.
    """

    codes: IntArray
    values: ObjArray
    date_format: str = "%Y-%m-%d"
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def null(self) -> BoolArray:
        return self.codes < 0

    def counts(self) -> IntArray:
        """Records per distinct value."""
        return np.bincount(self.codes[self.codes >= 0], minlength=len(self.values)).astype(np.int64)

    def derived_codes(self, kind: str) -> IntArray:
        """Per distinct value, a code of its derived key (-1 when the key is empty)."""
        key = f"codes:{kind}"
        if key not in self._cache:
            fn: Callable[[str], str] = {
                "soundex": jellyfish.soundex,
                "metaphone": jellyfish.metaphone,
                "nickname": canonical_first_name,
            }[kind]
            derived = pd.Series([fn(v) if v else "" for v in self.values], dtype=object)
            codes, _ = pd.factorize(derived.where(derived != "", None), use_na_sentinel=True)
            self._cache[key] = np.asarray(codes, dtype=np.int64)
        result: IntArray = self._cache[key]
        return result

    def prefix_codes(self, n: int, *, last: bool = False) -> IntArray:
        key = f"{'last' if last else 'first'}:{n}"
        if key not in self._cache:
            s = pd.Series(self.values, dtype=object).str
            part = s[-n:] if last else s[:n]
            codes, _ = pd.factorize(part, use_na_sentinel=True)
            self._cache[key] = np.asarray(codes, dtype=np.int64)
        result: IntArray = self._cache[key]
        return result

    def dates(self) -> IntArray:
        """Per distinct value, (year, month, day) as an (n, 3) array; -1 rows do not parse."""
        if "dates" not in self._cache:
            parsed = pd.to_datetime(
                pd.Series(self.values, dtype=object), format=self.date_format, errors="coerce"
            )
            ok = parsed.notna().to_numpy()
            out = np.full((len(self.values), 3), -1, dtype=np.int64)
            if ok.any():
                good = parsed[ok].dt
                out[ok, 0] = good.year.to_numpy()
                out[ok, 1] = good.month.to_numpy()
                out[ok, 2] = good.day.to_numpy()
            self._cache["dates"] = out
        result: IntArray = self._cache["dates"]
        return result

    def numbers(self) -> FloatArray:
        """Per distinct value, the number it holds (NaN when it is not a number)."""
        if "numbers" not in self._cache:
            parsed = pd.to_numeric(pd.Series(self.values, dtype=object), errors="coerce")
            self._cache["numbers"] = np.asarray(parsed, dtype=np.float64)
        result: FloatArray = self._cache["numbers"]
        return result


def encode(raw: Any, spec: FieldSpec) -> Encoded:
    """Encode one raw column (any dtype) after cleaning; cleaning runs once per distinct value."""
    as_text = raw.astype("string").astype(object).where(raw.notna(), None)
    raw_codes, uniques = pd.factorize(as_text, use_na_sentinel=True)
    cleaned = clean_values(pd.Series(uniques, dtype=object).astype(str), spec)
    clean_codes, values = pd.factorize(cleaned, use_na_sentinel=True)
    lookup = np.append(np.asarray(clean_codes, dtype=np.int64), -1)
    codes = lookup[np.asarray(raw_codes, dtype=np.int64)]
    return Encoded(codes, np.asarray(values, dtype=object), spec.date_format)


def join_columns(parts: list[Encoded]) -> Encoded:
    """Several encoded columns joined by a space; null when any part is null."""
    frame = pd.DataFrame({i: p.codes for i, p in enumerate(parts)})
    null = (frame < 0).any(axis=1).to_numpy()
    combos, uniques = pd.factorize(pd.MultiIndex.from_frame(frame))
    texts = np.array(
        [
            " ".join(str(parts[i].values[c]) for i, c in enumerate(row)) if min(row) >= 0 else ""
            for row in uniques
        ],
        dtype=object,
    )
    text_codes, values = pd.factorize(pd.Series(texts).where(texts != "", None))
    codes = np.asarray(text_codes, dtype=np.int64)[np.asarray(combos, dtype=np.int64)]
    codes[null] = -1
    joined = Encoded(codes, np.asarray(values, dtype=object))
    sorted_words = pd.Series([" ".join(sorted(str(v).split(" "))) for v in joined.values])
    joined._cache["codes:swapped"] = np.asarray(pd.factorize(sorted_words)[0], dtype=np.int64)
    return joined


@dataclass
class Prepared:
    """A table ready for linking: ids in row order and the encoded columns the config uses."""

    ids: ObjArray
    columns: dict[str, Encoded]

    @property
    def n(self) -> int:
        return len(self.ids)


def prepare(df: Any, config: LinkConfig) -> Prepared:
    """Clean and encode every column the config reads.

    Raises:
        ConfigError: a column the config names is missing, or the unique id is not unique.
    """
    missing = sorted(c for c in config.referenced_columns() if c not in df.columns)
    if missing:
        raise ConfigError(
            f"the config names columns the table lacks: {', '.join(missing)} "
            f"(table has: {', '.join(map(str, df.columns))})"
        )
    ids = df[config.unique_id]
    if ids.isna().any() or ids.duplicated().any():
        raise ConfigError(f"unique_id column {config.unique_id!r} has nulls or repeated values")
    used = config.referenced_columns() - {config.unique_id}
    columns = {c: encode(df[c], config.field(c)) for c in sorted(used)}
    for comparison in config.comparisons:
        if comparison.columns is not None:
            columns[f"+{comparison.output_name}"] = join_columns(
                [columns[c] for c in comparison.columns]
            )
    return Prepared(np.asarray(ids.to_numpy(), dtype=object), columns)


def comparison_column(prepared: Prepared, comparison_name: str, column: str | None) -> Encoded:
    """The encoded values a comparison reads: its own column, or its joined columns."""
    return prepared.columns[column if column is not None else f"+{comparison_name}"]
