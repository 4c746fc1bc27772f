"""Streets, cities, postcodes and raw identifiers on a whole column at once.

On printable ASCII, NFC changes nothing, the only whitespace is the space and there are no
control characters, so `normalize_text` is "collapse runs of spaces", `normalize_postcode` adds
upper-casing and three checks, and an identifier is only trimmed; each then meets the junk rule
of `normalize.record._normalize_value` (or, for identifiers, of `columns`: junk on the trimmed
value). Other values go to Python.
"""

from __future__ import annotations

from functools import lru_cache

import polars as pl

from idgraph.normalize._columnar.common import Fast, null_strings, printable, reason_of
from idgraph.normalize._columnar.junk import junk_test
from idgraph.normalize.fields import normalize_postcode
from idgraph.normalize.junk import JunkConfig

__all__ = ["fast_identifier", "fast_postcode", "fast_text"]

_POSTCODE_LONGEST = 12


def _collapse(raw: pl.Series) -> pl.Series:
    return raw.str.replace_all(" {2,}", " ").str.strip_chars(" ")


def _keep_unless_junk(value: pl.Series, junk: JunkConfig, kind: str) -> pl.Series:
    dropped = (value == "").fill_null(False) | junk_test(junk, kind).mask(value)
    return pl.select(pl.when(dropped).then(None).otherwise(value)).to_series()


def fast_text(raw: pl.Series, kind: str, junk: JunkConfig) -> Fast:
    """`normalize_text` (street, city) for the printable-ASCII rows of `raw`."""
    values = _keep_unless_junk(_collapse(raw), junk, kind)
    return Fast(values, null_strings(len(raw)), printable(raw))


def fast_identifier(raw: pl.Series, kind: str, junk: JunkConfig) -> Fast:
    """A trimmed identifier, or null when blank or junk, for the printable-ASCII rows."""
    values = _keep_unless_junk(raw.str.strip_chars(" "), junk, kind)
    return Fast(values, null_strings(len(raw)), printable(raw))


@lru_cache(maxsize=1)
def _postcode_reasons() -> tuple[str, str, str]:
    return (
        reason_of(normalize_postcode, "A!"),
        reason_of(normalize_postcode, "--"),
        reason_of(normalize_postcode, "A" * (_POSTCODE_LONGEST + 1)),
    )


def fast_postcode(raw: pl.Series, junk: JunkConfig) -> Fast:
    """`normalize_postcode` for the printable-ASCII rows of `raw`."""
    characters, no_alnum, too_long = _postcode_reasons()
    frame = pl.DataFrame({"text": raw.str.strip_chars(" ")}).with_columns(
        code=pl.col("text").str.replace_all(" {2,}", " ").str.to_uppercase()
    )
    code = pl.col("code")
    frame = frame.select(
        "text",
        "code",
        reason=pl.when(code == "")
        .then(None)
        .when(~code.str.contains(r"^[A-Z0-9 -]+$"))
        .then(pl.lit(characters))
        .when(~code.str.contains("[A-Z0-9]"))
        .then(pl.lit(no_alnum))
        .when(code.str.len_chars() > _POSTCODE_LONGEST)
        .then(pl.lit(too_long)),
    )
    refused = frame["reason"].is_not_null()
    # A refused value that is itself junk is dropped: the rule reads the trimmed raw text.
    subject = pl.select(pl.when(refused).then(frame["text"]).otherwise(frame["code"]))
    dropped = (frame["code"] == "").fill_null(False) | junk_test(junk, "postcode").mask(
        subject.to_series()
    )
    values = pl.select(pl.when(dropped | refused).then(None).otherwise(frame["code"]))
    problems = pl.select(pl.when(dropped).then(None).otherwise(frame["reason"]))
    return Fast(values.to_series(), problems.to_series(), printable(raw))
