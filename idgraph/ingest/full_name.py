"""A whole name in one cell ("Ann Smith", "Smith, Ann", "Dr Jan van der Berg") as first and
last name, the two fields matching compares.

Exports, point-of-sale systems and tracking calls (Segment's `name` trait) often carry one
name column. The rule is kept simple so that a person can predict it: with a comma, the last
name comes first ("Smith, Ann"); without one, the first word is the first name and the rest
the last name, so particles stay with the surname ("Jan van der Berg" -> "Jan", "van der
Berg"). A leading title (Mr, Mrs, Dr, Herr, Frau, Sig.ra, Mme, ...) is dropped when a word
follows it; a title and one word is a surname ("Herr Müller"). Given first and last name
columns win over the split wherever they are filled. The scalar form (`split_full_name`,
for tracking calls) and the columnar one (`split_full_names`, for tables) give the same
answer; a test holds them to it.
"""

from __future__ import annotations

import re

import polars as pl

__all__ = ["TITLES", "split_full_name", "split_full_names"]

#: Honorifics dropped from the front of a whole name, compared without case or a final dot.
#: Not "M" (an initial as often as Monsieur) nor "Don" (a first name as often as a title).
TITLES = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "miss",
        "mx",
        "dr",
        "prof",
        "sir",
        "dame",
        "herr",
        "frau",
        "sig",
        "sig.ra",
        "sig.na",
        "signor",
        "signora",
        "dott",
        "dott.ssa",
        "mme",
        "mlle",
        "sr",
        "sra",
        "srta",
    }
)
_TITLE = (
    r"(?i)^(?:" + "|".join(re.escape(t) for t in sorted(TITLES, key=len, reverse=True)) + r")\.? "
)
_TITLE_RE = re.compile(_TITLE)


def split_full_name(text: str | None) -> tuple[str | None, str | None]:
    """(first name, last name) of one whole name; None where a part is missing.

    Examples:
        >>> split_full_name("Ann Smith")
        ('Ann', 'Smith')
        >>> split_full_name("Smith, Ann")
        ('Ann', 'Smith')
        >>> split_full_name("Dr. Jan van der Berg")
        ('Jan', 'van der Berg')
        >>> split_full_name("Madonna")
        ('Madonna', None)
    """
    name = " ".join((text or "").split())
    if "," in name:
        last, _, first = name.partition(",")
        return first.strip() or None, last.strip() or None
    plain = _TITLE_RE.sub("", name, count=1)
    if plain != name and " " not in plain:
        return None, plain  # "Mr Smith", "Herr Müller": a title and a surname
    first, _, last = plain.partition(" ")
    return first or None, last or None


def split_full_names(names: pl.Series) -> tuple[pl.Series, pl.Series]:
    """`split_full_name` over a column (nulls stay null), as two columns."""
    name = names.str.replace_all(r"\s+", " ").str.strip_chars(" ")
    frame = pl.DataFrame(
        {
            "name": name,
            "plain": name.str.replace(_TITLE, ""),
            "comma": name.str.contains(",").fill_null(False),
        }
    )
    surname_only = (pl.col("plain") != pl.col("name")) & ~pl.col("plain").str.contains(" ")
    parts = frame.select(
        first=pl.when(pl.col("comma"))
        .then(pl.col("name").str.extract(r",(.*)$", 1).str.strip_chars(" "))
        .when(surname_only)
        .then(None)
        .otherwise(pl.col("plain").str.extract(r"^([^ ]+)", 1)),
        last=pl.when(pl.col("comma"))
        .then(pl.col("name").str.extract(r"^([^,]*),", 1).str.strip_chars(" "))
        .when(surname_only)
        .then(pl.col("plain"))
        .otherwise(pl.col("plain").str.extract(r"^[^ ]+ (.+)$", 1)),
    )
    first, last = parts["first"], parts["last"]
    return first.set(first == "", None), last.set(last == "", None)
