"""Stage 2 over columns: raw sightings -> canonical values, the values dropped, the rows refused.

A sighting's golden fields and ids are normalized column by column (`normalize_column`, once
per distinct value); email and phone become identifiers later, when sightings fold into
records. A value that is unusable (a future birth date, a phone that does not parse) or that
looks real but is on the junk list (`test@example.com`, a fictional phone range) is dropped:
its row keeps every other value, and the value is listed in `dropped` with its reason, for
the reader to write as a `field` reject. A placeholder such as `n/a` or `0000000000` is
dropped silently, as blank cells are. A row that carries an identifier erased at a person's
request gets a problem (`problem_field` / `problem_reason`): that costs the whole line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from idgraph.frames import FIELDS, RAW_ID_KINDS
from idgraph.normalize.columns import normalize_column
from idgraph.normalize.erased import ERASED_REASON, REMEMBERED_KINDS, erasure_hash, erasure_key
from idgraph.normalize.junk import ANY_KIND, JunkConfig
from idgraph.normalize.record import NormalizeOptions

__all__ = [
    "DROPPED",
    "JUNK_REASON",
    "PROBLEM_FIELD",
    "PROBLEM_REASON",
    "NormalizedSightings",
    "normalize_sightings",
]

#: Columns `normalize_sightings` adds: the identifier kind erased, and why (null: none).
PROBLEM_FIELD = "problem_field"
PROBLEM_REASON = "problem_reason"
#: One row per dropped value: its row in the sightings, its field, why, and the raw text.
DROPPED = {"row": pl.UInt32, "field": pl.Utf8, "reason": pl.Utf8, "raw": pl.Utf8}
#: Why a well-formed value the junk lists refuse is dropped.
JUNK_REASON = "on the junk list (a test, placeholder or fictional value that would link strangers)"
#: Fields whose junk is reported as a dropped value when it is well-formed: the identifiers
#: that link records. Junk names or dates are dropped silently, as placeholders.
_REPORTED_JUNK = ("email", "phone")
_NO_JUNK = JunkConfig(use_defaults=False)

_VALUE_COLUMNS: tuple[str, ...] = (*FIELDS, *RAW_ID_KINDS)


@dataclass(frozen=True, slots=True)
class NormalizedSightings:
    """What `normalize_sightings` returns.

    Attributes:
        frame: the sightings with canonical values (null where blank, junk or dropped) and
            the two problem columns (an erased identifier, which refuses the whole row).
        dropped: the values dropped from their rows (`DROPPED`), by row, then in the
            reader's field order.
    """

    frame: pl.DataFrame
    dropped: pl.DataFrame


def normalize_sightings(
    raw: pl.DataFrame, options: NormalizeOptions, *, order: Sequence[str] = FIELDS
) -> NormalizedSightings:
    """Normalize every value column of `raw`; list the values dropped and the rows refused.

    Args:
        raw: sightings with raw strings in the field and id columns (`idgraph.frames`).
        options: region, date order, junk lists and erased identifiers of this source.
        order: golden fields in the order a row's dropped values are listed (a CSV
            mapping's column order); fields not listed rank after those listed.

    Returns:
        The normalized frame and the dropped values.

    Examples:
        >>> raw = pl.DataFrame(
        ...     {"email": ["ann@shop.it", "test@example.com", "n/a"], "phone": [None] * 3},
        ...     schema_overrides={"phone": pl.Utf8},
        ... )
        >>> out = normalize_sightings(raw, NormalizeOptions())
        >>> out.frame["email"].to_list()
        ['ann@shop.it', None, None]
        >>> out.dropped.select("row", "field", "raw").rows()
        [(1, 'email', 'test@example.com')]
    """
    ranked = [name for name in order if name in FIELDS]
    ranked += [name for name in FIELDS if name not in ranked]
    columns: dict[str, pl.Series] = {}
    found: list[pl.DataFrame] = []
    for name in _VALUE_COLUMNS:
        if name not in raw.columns:
            continue
        series = raw[name]
        if series.null_count() == series.len():
            continue
        values, reasons = normalize_column(name, series, options)
        columns[name] = values.alias(name)
        if name not in FIELDS:
            continue
        if name in _REPORTED_JUNK:
            reasons = _with_junk(name, series, values, reasons, options)
        rows = reasons.is_not_null().arg_true()
        if len(rows):
            found.append(
                pl.DataFrame(
                    {
                        "row": rows.cast(pl.UInt32),
                        "field": pl.repeat(name, len(rows), dtype=pl.Utf8, eager=True),
                        "reason": reasons.gather(rows),
                        "raw": series.gather(rows),
                        "_rank": pl.repeat(ranked.index(name), len(rows), eager=True),
                    }
                )
            )
    frame = raw.with_columns(list(columns.values()))
    if options.erased:
        erased = _erased_kind(frame, options.erased)
    else:
        erased = pl.Series(PROBLEM_FIELD, [None] * frame.height, dtype=pl.Utf8)
    frame = frame.with_columns(
        erased.alias(PROBLEM_FIELD),
        pl.when(erased.is_not_null()).then(pl.lit(ERASED_REASON)).alias(PROBLEM_REASON),
    )
    dropped = (
        pl.concat(found).sort("row", "_rank").drop("_rank")
        if found
        else pl.DataFrame(schema=DROPPED)
    )
    return NormalizedSightings(frame, dropped.cast(DROPPED))  # type: ignore[arg-type]


def _with_junk(
    name: str, raw: pl.Series, values: pl.Series, reasons: pl.Series, options: NormalizeOptions
) -> pl.Series:
    """`reasons` plus `JUNK_REASON` where a value was dropped as junk although it is
    well-formed and not a generic placeholder (``n/a``, ``0000000000``).

    Only the silently dropped values are looked at again, each distinct one once.
    """
    silent = (raw.is_not_null() & values.is_null() & reasons.is_null()).arg_true()
    if not len(silent):
        return reasons
    subject = raw.gather(silent)
    plain, _ = normalize_column(name, subject, options.model_copy(update={"junk": _NO_JUNK}))
    looked = pl.DataFrame({"text": subject.str.strip_chars(), "plain": plain})
    distinct = looked.filter(pl.col("plain").is_not_null()).unique()
    junk = options.junk
    distinct = distinct.with_columns(
        report=pl.Series(
            [
                not (junk.is_junk(ANY_KIND, text) or junk.is_junk(ANY_KIND, value))
                for text, value in distinct.iter_rows()
            ],
            dtype=pl.Boolean,
        )
    )
    report = looked.join(distinct, on=["text", "plain"], how="left", maintain_order="left")
    hit = silent.filter(report["report"].fill_null(False))
    if not len(hit):
        return reasons
    return reasons.scatter(hit, JUNK_REASON)


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
