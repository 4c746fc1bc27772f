"""Shared identifiers of a household: holders of one phone or mailbox who are not one person.

A family shares its landline, its mailbox and its tablet. The birth-date guard already keeps
apart holders whose dates differ; what gets through are pairs where one record has no birth
date. There the first name decides: two holders whose first names are plainly different
names are two people, and their shared value does not link them (it still links the holders
whose names fit).

"Plainly different" must not catch one person's own names. The nickname table and the typo
tolerance of `first_names_compatible` cover most, a swapped first and last name covers some,
and the rest — pet names the table does not list ("Pino" for Giuseppe, "Katja" for
Katharina) — are learned from the data: a pair of names that recurs on shared identifiers
in several families, far more often than the two names' frequencies explain, is one name.
Spouses' names recur too, but only as often as chance pairs them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import polars as pl

from idgraph.match.tolerance import dates_compatible, first_names_compatible
from idgraph.match.view import match_view

__all__ = [
    "ALIAS_MIN_FAMILIES",
    "ALIAS_MIN_LIFT",
    "alias_frame",
    "clashing_pairs",
    "household_names",
    "household_pairs",
    "learn_aliases",
    "no_households",
    "none_found",
    "unlike_names_at_one_address",
]

Bools = npt.NDArray[np.bool_]

#: A learned alias recurs in at least this many families (distinct last names)...
ALIAS_MIN_FAMILIES = 3
#: ...and this many times more often than the two names' frequencies would pair them.
ALIAS_MIN_LIFT = 10.0

_ALIAS_SCHEMA = {"x": pl.Utf8, "y": pl.Utf8}

#: `no_households` judges from at least this many pairs...
HOUSEHOLD_MIN_PAIRS = 10
#: ...and finds none when at least this share of them are born on one day.
NO_HOUSEHOLD_SHARE = 0.5
#: Records at one address under one surname: more are a block of flats, not a family.
_FAMILY_MOST = 20


def alias_frame(aliases: list[tuple[str, str]]) -> pl.DataFrame:
    """Learned aliases (as a model keeps them) as the frame `household_pairs` takes."""
    return pl.DataFrame(
        {"x": [x for x, _ in aliases], "y": [y for _, y in aliases]}, schema=_ALIAS_SCHEMA
    )


def clashing_pairs(edges: pl.DataFrame, view: pl.DataFrame) -> pl.DataFrame:
    """The edges (by row `i`) whose two holders have known first names that are neither one
    name (`first_names_compatible`) nor each other's last name (a swapped record), with the
    two names in order (`x` < `y`) and the family (`family`: the smaller last name).

    Names repeat: each distinct pair of first names is compared once.
    """
    firsts, lasts = view["first_name"], view["last_name"]
    pairs = pl.DataFrame(
        {
            "i": np.arange(edges.height, dtype=np.int64),
            "fa": firsts.gather(edges["a"]),
            "fb": firsts.gather(edges["b"]),
            "la": lasts.gather(edges["a"]),
            "lb": lasts.gather(edges["b"]),
        }
    ).filter(
        pl.col("fa").is_not_null() & pl.col("fb").is_not_null() & (pl.col("fa") != pl.col("fb"))
    )
    empty = pairs.head(0).select("i", x="fa", y="fb", family="la")
    if not pairs.height:
        return empty
    distinct = pairs.select("fa", "fb").unique()
    distinct = distinct.filter(pl.Series(~first_names_compatible(distinct["fa"], distinct["fb"])))
    pairs = pairs.join(distinct, on=["fa", "fb"], how="semi")
    if not pairs.height:
        return empty
    # One holder's first name is the other's last (a missing last name never matches): a
    # record filled in the wrong order, even when the other record has no last name at all.
    swapped = first_names_compatible(pairs["fa"], pairs["lb"].fill_null("")) | (
        first_names_compatible(pairs["la"].fill_null(""), pairs["fb"])
    )
    return pairs.filter(pl.Series(~swapped)).select(
        "i",
        x=pl.min_horizontal("fa", "fb"),
        y=pl.max_horizontal("fa", "fb"),
        family=pl.min_horizontal("la", "lb"),
    )


def learn_aliases(clashing: pl.DataFrame, view: pl.DataFrame) -> pl.DataFrame:
    """Pairs of first names (`x` < `y`) that are one person's names in this data.

    `clashing` are the `clashing_pairs` of the identifier pairs, before any household veto.
    Lift compares a pair's families with what the two names' shares among all first names
    give for that many families of clashing holders.
    """
    if not clashing.height:
        return pl.DataFrame(schema=_ALIAS_SCHEMA)
    counts = view.group_by("first_name").agg(pl.len().alias("n")).drop_nulls("first_name")
    named = float(counts["n"].sum())
    pairs = clashing.group_by("x", "y").agg(pl.col("family").drop_nulls().n_unique().alias("f"))
    total = float(pairs["f"].sum())
    share = counts.select(pl.col("first_name"), (pl.col("n") / named).alias("p"))
    scored = pairs.join(share.rename({"first_name": "x", "p": "px"}), on="x").join(
        share.rename({"first_name": "y", "p": "py"}), on="y"
    )
    expected = pl.lit(total) * 2 * pl.col("px") * pl.col("py")
    return (
        scored.filter(
            (pl.col("f") >= ALIAS_MIN_FAMILIES) & (pl.col("f") >= expected * ALIAS_MIN_LIFT)
        )
        .select("x", "y")
        .sort("x", "y")
    )


def household_pairs(
    edges: pl.DataFrame, view: pl.DataFrame, aliases: pl.DataFrame, clashing: pl.DataFrame
) -> Bools:
    """Per edge (with the identifier's `key`), whether its holders are not known to be one
    person: clashing first names that are not a learned alias, and, on a value that such a
    pair shows to be a household's, a holder with no first name — whose it is, nobody can
    tell. `clashing` are the edges' `clashing_pairs`."""
    result = np.zeros(edges.height, dtype=bool)
    if not clashing.height:
        return result
    if aliases.height:
        clashing = clashing.join(aliases.cast(_ALIAS_SCHEMA), on=["x", "y"], how="anti")  # type: ignore[arg-type]
    result[clashing["i"].to_numpy()] = True
    shared = edges["key"].gather(clashing["i"]).unique()
    firsts = view["first_name"]
    nameless = firsts.gather(edges["a"]).is_null() | firsts.gather(edges["b"]).is_null()
    result |= (edges["key"].is_in(shared.implode()) & nameless).to_numpy()
    return result


def household_names(
    holders_a: Sequence[tuple[str | None, str | None]],
    holders_b: Sequence[tuple[str | None, str | None]],
    aliases: list[tuple[str, str]],
) -> tuple[str, str] | None:
    """Two first names (as matching reads them) that keep a holder on one side and a holder
    on the other apart as a household, or None: `household_pairs` for the holders of one
    shared value, given as (first name, last name) as stored. For `idgraph explain`."""
    rows = [*holders_a, *holders_b]
    frame = pl.DataFrame(
        {
            "key": [str(i) for i in range(len(rows))],
            "first_name": [f for f, _ in rows],
            "last_name": [last for _, last in rows],
        },
        schema={"key": pl.Utf8, "first_name": pl.Utf8, "last_name": pl.Utf8},
    )
    view = match_view(frame, ("first_name", "last_name"))
    n = len(holders_a)
    a = [i for i in range(n) for _ in range(len(holders_b))]
    b = [n + j for _ in range(n) for j in range(len(holders_b))]
    edges = pl.DataFrame(
        {"a": a, "b": b, "key": ["shared"] * len(a)},
        schema={"a": pl.Int64, "b": pl.Int64, "key": pl.Utf8},
    )
    clashing = clashing_pairs(edges, view)
    clashes = np.flatnonzero(household_pairs(edges, view, alias_frame(aliases), clashing))
    firsts = view["first_name"]
    for i in clashes:
        x, y = firsts[a[i]], firsts[b[i]]
        if x is not None and y is not None:
            return str(x), str(y)
    return None


def unlike_names_at_one_address(view: pl.DataFrame) -> tuple[int, int]:
    """Pairs of records at one street and postcode under one last name whose first names are
    plainly different (not one name by `first_names_compatible`), both with a birth date;
    and how many of them share it (a typo apart).

    In a household these are parents, children and spouses, born on different days: only
    twins share a date. Where most of them share it, they are one person's records with a
    first name replaced, not families.
    """
    wanted = ("first_name", "last_name", "street", "postcode", "birth_date")
    if any(name not in view.columns for name in wanted):
        return 0, 0
    family = ["last_name", "street", "postcode"]
    rows = (
        view.select(wanted)
        .drop_nulls()
        .filter(pl.len().over(family).is_between(2, _FAMILY_MOST))
        .with_row_index("r")
    )
    pairs = rows.join(rows, on=family, suffix="_b").filter(pl.col("r") < pl.col("r_b"))
    if not pairs.height:
        return 0, 0
    pairs = pairs.filter(
        pl.Series(~first_names_compatible(pairs["first_name"], pairs["first_name_b"]))
    )
    if not pairs.height:
        return 0, 0
    same = dates_compatible(pairs["birth_date"], pairs["birth_date_b"])
    return pairs.height, int(same.sum())


def no_households(view: pl.DataFrame) -> tuple[bool, dict[str, int]]:
    """Whether these records hold no households (`unlike_names_at_one_address`: at least
    `HOUSEHOLD_MIN_PAIRS` such pairs, `NO_HOUSEHOLD_SHARE` or more of them born on one day),
    with the counts behind it. Few pairs say nothing: the first-name veto then stands."""
    pairs, same = unlike_names_at_one_address(view)
    return none_found(pairs, same), {"pairs": pairs, "same_birth_date": same}


def none_found(pairs: int, same: int) -> bool:
    """`no_households` from its counts (summed over parts of the records, each part holding
    whole addresses)."""
    return pairs >= HOUSEHOLD_MIN_PAIRS and same >= NO_HOUSEHOLD_SHARE * pairs
