"""The comparison-ready view of records that blocking and comparisons read, as columns.

Names are folded (`name_key`: accents, case, punctuation) and first names nickname-resolved;
the full name joins both; email local parts lose their dots (gmail drops them anyway);
postcodes their spaces. Each costly function runs once per distinct value.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import polars as pl

from idgraph.normalize.fields import name_key
from idgraph.normalize.nicknames import canonical_first_name

__all__ = ["VIEW_FIELDS", "match_view", "per_distinct"]

#: Columns of the view (besides `key`); each is null where the record has no value.
VIEW_FIELDS = (
    "full_name",
    "first_name",
    "last_name",
    "birth_date",
    "postcode",
    "email_local",
    "city",
    "street",
    "phone",
    "country",
)


def per_distinct(values: pl.Series, function: Callable[[str], str]) -> pl.Series:
    """`function` applied once per distinct non-null value, mapped back onto `values`."""
    distinct = values.drop_nulls().unique()
    if distinct.len() == 0:
        return values.cast(pl.Utf8)
    mapped = pl.Series([function(v) for v in distinct.to_list()], dtype=pl.Utf8)
    return values.replace_strict(distinct, mapped, default=None, return_dtype=pl.Utf8)


def _first_key(name: str) -> str:
    return canonical_first_name(name_key(name))


def _full_name(first: str | None, last: str | None) -> str:
    canon = canonical_first_name(name_key(first or ""))
    return name_key(f"{canon} {last or ''}")


def match_view(records: pl.DataFrame, fields: Collection[str] = VIEW_FIELDS) -> pl.DataFrame:
    """`key` and the match keys in `fields` of every record, aligned with `records`.

    Examples:
        >>> frame = pl.DataFrame({"key": ["a"], "first_name": ["Bob"], "last_name": ["O'Neil"],
        ...     "email": ["bob.o@mail.it"], "postcode": ["SW1A 1AA"]})
        >>> match_view(frame, ["full_name", "email_local", "postcode"]).row(0)
        ('a', 'robert oneil', 'boboo', 'SW1A1AA')
    """
    wanted = set(fields)
    out: dict[str, pl.Series] = {"key": records["key"]}
    first = records["first_name"] if "first_name" in records.columns else None
    last = records["last_name"] if "last_name" in records.columns else None
    if "first_name" in wanted and first is not None:
        out["first_name"] = per_distinct(first, _first_key)
    if "last_name" in wanted and last is not None:
        out["last_name"] = per_distinct(last, name_key)
    if "full_name" in wanted and (first is not None or last is not None):
        pairs = pl.DataFrame(
            {
                "f": first
                if first is not None
                else pl.repeat(None, records.height, dtype=pl.Utf8, eager=True),
                "l": last
                if last is not None
                else pl.repeat(None, records.height, dtype=pl.Utf8, eager=True),
            }
        )
        distinct = pairs.unique().filter(pl.col("f").is_not_null() | pl.col("l").is_not_null())
        distinct = distinct.with_columns(
            pl.Series(
                "full",
                [_full_name(f, la) for f, la in distinct.iter_rows()],
                dtype=pl.Utf8,
            )
        )
        out["full_name"] = pairs.join(
            distinct, on=["f", "l"], how="left", nulls_equal=True, maintain_order="left"
        )["full"]
    if "email_local" in wanted and "email" in records.columns:
        out["email_local"] = (
            records["email"].str.replace(r"@[^@]*$", "").str.replace_all(".", "", literal=True)
        )
    for name in ("birth_date", "phone", "country"):
        if name in wanted and name in records.columns:
            out[name] = records[name]
    if "postcode" in wanted and "postcode" in records.columns:
        out["postcode"] = records["postcode"].str.replace_all(" ", "", literal=True)
    for name in ("city", "street"):
        if name in wanted and name in records.columns:
            out[name] = per_distinct(records[name], name_key)
    frame = pl.DataFrame(out)
    for name in fields:
        if name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.Utf8).alias(name))
    return frame.with_columns(
        [
            pl.when(pl.col(name) == "").then(None).otherwise(pl.col(name)).alias(name)
            for name in fields
        ]
    )
