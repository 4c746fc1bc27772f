"""Stage 2 over columns: raw sightings -> canonical values, and each row's first problem.

A sighting's golden fields and ids are normalized column by column (`normalize_column`, once
per distinct value); email and phone become identifiers later, when sightings fold into
records. A row whose value is unusable, or which carries an identifier erased at a person's
request, gets a problem: the name of the first field at fault (in the reader's order) and
the reason. The reader decides what a problem costs (today: the whole line is rejected).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from idgraph.frames import FIELDS, RAW_ID_KINDS
from idgraph.normalize.columns import normalize_column
from idgraph.normalize.erased import ERASED_REASON, REMEMBERED_KINDS, erasure_hash, erasure_key
from idgraph.normalize.record import NormalizeOptions

__all__ = ["PROBLEM_FIELD", "PROBLEM_REASON", "normalize_sightings"]

#: Columns `normalize_sightings` adds: the first field at fault, and why (null: none).
PROBLEM_FIELD = "problem_field"
PROBLEM_REASON = "problem_reason"

_VALUE_COLUMNS: tuple[str, ...] = (*FIELDS, *RAW_ID_KINDS)


def normalize_sightings(
    raw: pl.DataFrame, options: NormalizeOptions, *, order: Sequence[str] = FIELDS
) -> pl.DataFrame:
    """Normalize every value column of `raw` and add `problem_field` / `problem_reason`.

    Args:
        raw: sightings with raw strings in the field and id columns (`idgraph.frames`).
        options: region, date order, junk lists and erased identifiers of this source.
        order: golden fields in the order their problems are reported (a CSV mapping's
            column order); fields not listed rank after those listed.

    Returns:
        `raw` with canonical values (null where blank, junk or unusable) and the two
        problem columns.
    """
    ranked = [name for name in order if name in FIELDS]
    ranked += [name for name in FIELDS if name not in ranked]
    columns: dict[str, pl.Series] = {}
    problems: list[pl.Expr] = []
    for name in _VALUE_COLUMNS:
        series = raw[name]
        if series.null_count() == series.len():
            continue
        values, reasons = normalize_column(name, series, options)
        columns[name] = values.alias(name)
        if name in FIELDS and reasons.null_count() < reasons.len():
            columns[f"_why_{name}"] = reasons.alias(f"_why_{name}")
    frame = raw.with_columns(list(columns.values()))
    for name in ranked:
        if f"_why_{name}" in frame.columns:
            problems.append(
                pl.when(pl.col(f"_why_{name}").is_not_null()).then(
                    pl.struct(field=pl.lit(name), reason=pl.col(f"_why_{name}"))
                )
            )
    if options.erased:
        frame = frame.with_columns(_erased_kind(frame, options.erased))
        problems.append(
            pl.when(pl.col("_erased").is_not_null()).then(
                pl.struct(field=pl.col("_erased"), reason=pl.lit(ERASED_REASON))
            )
        )
    first = (
        pl.coalesce(problems)
        if problems
        else pl.lit(None, dtype=pl.Struct({"field": pl.Utf8, "reason": pl.Utf8}))
    )
    frame = frame.with_columns(first.alias("_problem"))
    frame = frame.with_columns(
        pl.col("_problem").struct.field("field").alias(PROBLEM_FIELD),
        pl.col("_problem").struct.field("reason").alias(PROBLEM_REASON),
    )
    return frame.drop([c for c in frame.columns if c.startswith("_")])


def _erased_kind(frame: pl.DataFrame, erased: frozenset[str]) -> pl.Series:
    """Per row, the first identifier kind (in sorted order) whose value was erased."""
    secret = erasure_key()
    flags: list[pl.Expr] = []
    for kind in sorted(REMEMBERED_KINDS):
        values = frame[kind].drop_nulls().unique().to_list()
        hit = [v for v in values if erasure_hash(kind, v, secret) in erased]
        if hit:
            flags.append(pl.when(pl.col(kind).is_in(hit)).then(pl.lit(kind)))
    if not flags:
        return pl.Series("_erased", [None] * frame.height, dtype=pl.Utf8)
    return frame.select(pl.coalesce(flags).alias("_erased")).to_series()
