"""Placeholder: per-distinct-value normalization of whole columns (replaced by the fast module)."""

from __future__ import annotations

import polars as pl

from idgraph.errors import FieldError
from idgraph.normalize.record import NormalizeOptions, _normalize_value

_IDS = frozenset({"customer_id", "user_id", "anonymous_id", "device_id"})


def normalize_column(
    name: str, raw: pl.Series, options: NormalizeOptions
) -> tuple[pl.Series, pl.Series]:
    distinct = raw.drop_nulls().unique().to_list()
    values: list[str | None] = []
    reasons: list[str | None] = []
    for text in distinct:
        if name in _IDS:
            t = text.strip()
            values.append(None if not t or options.junk.is_junk(name, t) else t)
            reasons.append(None)
            continue
        try:
            values.append(_normalize_value(name, text, options))
            reasons.append(None)
        except FieldError as exc:
            values.append(None)
            reasons.append(exc.reason)
    lookup = pl.DataFrame(
        {
            "raw": pl.Series(distinct, dtype=pl.Utf8),
            "value": pl.Series(values, dtype=pl.Utf8),
            "reason": pl.Series(reasons, dtype=pl.Utf8),
        }
    )
    out = (
        pl.DataFrame({"raw": raw.cast(pl.Utf8)})
        .with_row_index("_pos")
        .join(lookup, on="raw", how="left")
        .sort("_pos")
    )
    return out["value"], out["reason"]
