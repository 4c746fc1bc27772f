"""`normalize_email` (with the junk rule of `_normalize_value`) on a whole column at once.

Emails are nearly all distinct, so even one Python call per distinct value is too slow. Two
tiers, both exact on printable ASCII, where ``str.strip`` only strips spaces and ``str.lower``
is ``to_lowercase``:

- the common shape (``Ann.Lee+shop@Example.com``: letters, digits, dots, dashes and underscores,
  an optional ``+tag``, a valid domain) passes every check of `normalize_email` by construction,
  so only lower-casing, the tag cut and Gmail's dots remain;
- any other printable-ASCII value runs `normalize_email` step for step: ``mailto:``, then its
  four checks in the same order, with the same reasons.

Anything else (accents, tabs, control characters) is left to the Python function.
"""

from __future__ import annotations

from functools import lru_cache

import polars as pl

from idgraph.normalize._columnar.common import Fast, null_strings, printable, reason_of
from idgraph.normalize._columnar.junk import junk_test
from idgraph.normalize.fields import normalize_email
from idgraph.normalize.junk import JunkConfig

__all__ = ["fast_email"]

#: `_DOMAIN_LABEL` of `fields` on ASCII, labels joined by dots, at least two.
_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_DOMAIN = rf"^{_LABEL}(?:\.{_LABEL})+$"
_LABEL_ANY_CASE = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
#: The common shape. Classes spell out both cases: ``(?i)`` would also admit the Kelvin sign.
_COMMON = (
    r"^[A-Za-z0-9][A-Za-z0-9._-]*(?:\+[A-Za-z0-9._+-]*)?"
    rf"@{_LABEL_ANY_CASE}(?:\.{_LABEL_ANY_CASE})+$"
)
#: `_EMAIL_FORBIDDEN` of `fields` on printable ASCII, where ``\s`` is only the space.
_FORBIDDEN = r"[ <>()\[\],;:\"\\]"
_GMAIL = ("gmail.com", "googlemail.com")


@lru_cache(maxsize=1)
def _reasons() -> tuple[str, str, str, str]:
    return (
        reason_of(normalize_email, "a"),
        reason_of(normalize_email, "a b@example.com"),
        reason_of(normalize_email, "+a@example.com"),
        reason_of(normalize_email, "a@example"),
    )


def _common(lower: pl.Series) -> pl.Series:
    """Canonical form of lower-cased common-shape addresses: no ``+tag``, Gmail without dots."""
    flags = pl.DataFrame({"email": lower}).select(
        tagged=pl.col("email").str.contains("+", literal=True).fill_null(False),
        gmail=(
            pl.col("email").str.ends_with("@gmail.com")
            | pl.col("email").str.ends_with("@googlemail.com")
        ).fill_null(False),
    )
    tagged = flags["tagged"].arg_true()
    if len(tagged):
        lower = lower.scatter(tagged, lower.gather(tagged).str.replace(r"\+[^@]*", ""))
    gmail = flags["gmail"].arg_true()
    if len(gmail):
        local = lower.gather(gmail).str.strip_suffix("@gmail.com")
        local = local.str.strip_suffix("@googlemail.com").str.replace_all(".", "", literal=True)
        lower = lower.scatter(gmail, local + "@gmail.com")
    return lower


def _stepwise(text: pl.Series) -> tuple[pl.Series, pl.Series, pl.Series]:
    """`normalize_email` step by step on trimmed printable-ASCII text: (value, reason, blank)."""
    at_count, forbidden, empty_local, bad_domain = _reasons()
    lower = pl.col("text").str.to_lowercase()
    body = (
        pl.when(lower.str.starts_with("mailto:"))
        .then(lower.str.slice(7).str.replace(r"\?.*", "").str.strip_chars(" "))
        .otherwise(lower)
    )
    frame = pl.DataFrame({"text": text}).with_columns(body=body)
    parts = pl.col("body").str.split_exact("@", 1)
    local = parts.struct.field("field_0").str.replace(r"\+.*", "")
    domain = parts.struct.field("field_1")
    gmail = domain.is_in(_GMAIL)
    frame = frame.with_columns(
        local=pl.when(gmail).then(local.str.replace_all(".", "", literal=True)).otherwise(local),
        domain=pl.when(gmail).then(pl.lit("gmail.com")).otherwise(domain),
    )
    reason = (
        pl.when(pl.col("body").str.count_matches("@", literal=True) != 1)
        .then(pl.lit(at_count))
        .when(pl.col("body").str.contains(_FORBIDDEN))
        .then(pl.lit(forbidden))
        .when(pl.col("local") == "")
        .then(pl.lit(empty_local))
        .when(~pl.col("domain").str.contains(_DOMAIN))
        .then(pl.lit(bad_domain))
    )
    out = frame.select(
        value=pl.concat_str("local", pl.lit("@"), "domain"),
        reason=reason,
        blank=pl.col("body") == "",
    )
    return out["value"], out["reason"], out["blank"]


def fast_email(raw: pl.Series, junk: JunkConfig) -> Fast:
    """Normalized emails for every printable-ASCII value of `raw`; see the module docstring."""
    frame = pl.DataFrame({"text": raw.str.strip_chars(" ")}).with_columns(
        common=pl.col("text").str.contains(_COMMON).fill_null(False),
        lower=pl.col("text").str.to_lowercase(),
    )
    text, common = frame["text"], frame["common"]
    value = _common(frame["lower"])
    reason = null_strings(len(raw))
    blank = pl.repeat(False, len(raw), dtype=pl.Boolean, eager=True)
    certain = common
    others = (~common & raw.is_not_null()).arg_true()
    if len(others):
        rest = text.gather(others)
        ascii_rest = printable(rest)
        rest_value, rest_reason, rest_blank = _stepwise(rest)
        value = value.scatter(others, rest_value)
        reason = reason.scatter(others, rest_reason)
        blank = blank.scatter(others, rest_blank)
        certain = certain.scatter(others, ascii_rest)
    # The junk rule reads the trimmed raw text of a refused value, else the normalized one.
    refused = reason.is_not_null() & ~blank
    subject = pl.select(pl.when(refused).then(text).otherwise(value)).to_series()
    dropped = blank | junk_test(junk, "email").mask(subject)
    values = pl.select(pl.when(dropped | refused).then(None).otherwise(value)).to_series()
    problems = pl.select(pl.when(dropped).then(None).otherwise(reason)).to_series()
    return Fast(values, problems, certain)
