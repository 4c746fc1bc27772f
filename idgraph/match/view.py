"""The comparison-ready view of records that blocking and comparisons read, as columns.

Names are folded (`name_key`: accents, case, punctuation) and first names nickname-resolved;
the full name joins both; email local parts lose their dots (gmail drops them anyway);
postcodes their spaces. Each costly function runs once per distinct value. A record's
customer id is an identifier, not a field: `with_customer_ids` brings it in for scoring.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import polars as pl

from idgraph.normalize.fields import name_key
from idgraph.normalize.nicknames import canonical_first_name

__all__ = ["VIEW_FIELDS", "match_view", "per_distinct", "with_customer_ids"]

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
    "customer_id",
)


def per_distinct(values: pl.Series, function: Callable[[str], str]) -> pl.Series:
    """`function` applied once per distinct non-null value, mapped back onto `values`."""
    distinct = values.drop_nulls().unique()
    if distinct.len() == 0:
        return values.cast(pl.Utf8)
    mapped = pl.Series([function(v) for v in distinct.to_list()], dtype=pl.Utf8)
    return values.replace_strict(distinct, mapped, default=None, return_dtype=pl.Utf8)


def name_keys(values: pl.Series) -> pl.Series:
    """`name_key` of every value: plain ASCII names in Polars, the rest once per distinct value.

    For ASCII text `name_key` lower-cases, drops apostrophes, backticks and dots, turns
    every other character that is not a letter or digit into a space and collapses spaces;
    accents, other scripts and folded letters need the per-value function.

    Examples:
        >>> name_keys(pl.Series(["O'Neil-Smith", "J.R.  Ewing", "Søren", None])).to_list()
        ['oneil smith', 'jr ewing', 'soren', None]
    """
    text = values.cast(pl.Utf8)
    if text.len() > 1_000:
        # Names, cities and streets repeat: at a million records each column holds at most
        # a twentieth as many distinct values, and the regexes run on those alone.
        distinct = text.unique()
        if distinct.len() * 2 < text.len():
            keys = name_keys(distinct)
            return text.replace_strict(distinct, keys, default=None, return_dtype=pl.Utf8)
    ascii_ = text.str.contains(r"^[\x20-\x7e]*$")
    fast = (
        pl.select(
            pl.lit(text)
            .str.to_lowercase()
            .str.replace_all(r"['`.]", "")
            .str.replace_all(r"[^a-z0-9]+", " ")
            .str.strip_chars(" ")
        )
        .to_series()
        .alias(values.name)
    )
    rest = text.filter(~ascii_.fill_null(True) & text.is_not_null())
    if rest.len() == 0:
        return fast
    slow = per_distinct(text.set(ascii_.fill_null(True), None), name_key)
    return fast.zip_with(ascii_.fill_null(False), slow)


def _first_keys(values: pl.Series) -> pl.Series:
    return per_distinct(name_keys(values), canonical_first_name)


def with_customer_ids(records: pl.DataFrame, identifiers: pl.DataFrame) -> pl.DataFrame:
    """`records` with a `customer_id` column: the smallest customer id each record holds
    (null for none), from `identifiers` rows (record, kind, value), for `match_view`.

    Examples:
        >>> records = pl.DataFrame({"key": ["a", "b"]})
        >>> ids = pl.DataFrame({"record": ["a", "a", "b"], "kind": ["customer_id", "customer_id",
        ...     "email"], "value": ["C7", "C2", "b@x.io"]})
        >>> with_customer_ids(records, ids)["customer_id"].to_list()
        ['C2', None]
    """
    held = (
        identifiers.lazy()
        .filter(pl.col("kind") == "customer_id")
        .group_by("record")
        .agg(pl.col("value").min().alias("customer_id"))
        .rename({"record": "key"})
    )
    base = records.lazy().drop("customer_id", strict=False)
    return base.join(held, on="key", how="left", maintain_order="left").collect()


def match_view(records: pl.DataFrame, fields: Collection[str] = VIEW_FIELDS) -> pl.DataFrame:
    """`key` and the match keys in `fields` of every record, aligned with `records`.

    Examples:
        >>> frame = pl.DataFrame({"key": ["a"], "first_name": ["Bob"], "last_name": ["O'Neil"],
        ...     "email": ["bob.o@mail.it"], "postcode": ["SW1A 1AA"]})
        >>> match_view(frame, ["full_name", "email_local", "postcode"]).row(0)
        ('a', 'robert oneil', 'bobo', 'SW1A1AA')
    """
    wanted = set(fields)
    out: dict[str, pl.Series] = {"key": records["key"]}
    first = records["first_name"] if "first_name" in records.columns else None
    last = records["last_name"] if "last_name" in records.columns else None
    first_key = _first_keys(first) if first is not None else None
    last_key = name_keys(last) if last is not None else None
    if "first_name" in wanted and first_key is not None:
        out["first_name"] = first_key
    if "last_name" in wanted and last_key is not None:
        out["last_name"] = last_key
    if "full_name" in wanted and (first_key is not None or last_key is not None):
        # name_key works character by character, so the key of "first last" is the keys of
        # its parts joined by a space.
        parts = [key.replace("", None) for key in (first_key, last_key) if key is not None]
        out["full_name"] = pl.select(
            pl.concat_str(parts, separator=" ", ignore_nulls=True).alias("full_name")
        ).to_series()
    if "email_local" in wanted and "email" in records.columns:
        out["email_local"] = (
            records["email"].str.replace(r"@[^@]*$", "").str.replace_all(".", "", literal=True)
        )
    for name in ("birth_date", "phone", "country", "customer_id"):
        if name in wanted and name in records.columns:
            out[name] = records[name]
    if "postcode" in wanted and "postcode" in records.columns:
        out["postcode"] = records["postcode"].str.replace_all(" ", "", literal=True)
    for name in ("city", "street"):
        if name in wanted and name in records.columns:
            out[name] = name_keys(records[name])
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
