"""When two values of a must-agree attribute still count as one: typos are not a veto.

A birth date typed `1986-04-04` in one system and `1989-04-04` in another, or `1968-03-01`
for `1968-01-03` (day and month swapped), is one person's date more often than two people's;
"Bob" and "Robert", or "Elisabteta" and "Elisabetta", are one first name. Guards that refuse
a merge on disagreement ask these functions first, so a typo weakens a match instead of
vetoing it. Values that are compatible within one group (an identifier's holders, a component
of the evidence graph) fall into one class; the guards then count classes, not values.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

import numpy as np
import numpy.typing as npt
import polars as pl
from rapidfuzz import process
from rapidfuzz.distance import OSA
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from idgraph.match.view import match_view, per_distinct
from idgraph.normalize.nicknames import canonical_first_name

__all__ = [
    "TOLERANT_ATTRIBUTES",
    "dates_compatible",
    "first_names_compatible",
    "guard_values",
    "one_typo",
    "personal_pairs",
    "same_or_one_typo",
    "tolerant_classes",
    "values_compatible",
]

Bools = npt.NDArray[np.bool_]
Compatible = Callable[[pl.Series, pl.Series], Bools]

#: Vowels whose swap at the end of a first name changes the person, not the spelling:
#: Francesca and Francesco, Giulia and Giulio are a household's two members.
_GENDER_ENDINGS = "aeio"
#: Endings a short form adds to a name's start: Michi, Robi, Andi, Kathi.
_PET_ENDINGS = "iy"


def _digits(dates: pl.Series) -> npt.NDArray[np.int64]:
    """ISO dates as an (n, 8) array of their digits; -1 rows where the text is no ISO date."""
    text = dates.cast(pl.Utf8)
    if text.len() > 1_000:
        # Pairs of a model's training repeat a few thousand dates hundreds of times.
        distinct = text.unique()
        if distinct.len() * 4 < text.len():
            at = pl.Series(range(distinct.len()), dtype=pl.Int64)
            where = text.replace_strict(distinct, at, default=None, return_dtype=pl.Int64)
            repeated: npt.NDArray[np.int64] = _digits(distinct)[where.fill_null(0).to_numpy()]
            return repeated
    ok = text.str.contains(r"^\d{4}-\d{2}-\d{2}$").fill_null(False)
    number = (
        pl.DataFrame({"t": text.set(~ok, "0000-00-00")})
        .select(pl.col("t").str.replace_all("-", "", literal=True).cast(pl.Int64))["t"]
        .to_numpy()
    )
    powers = 10 ** np.arange(7, -1, -1, dtype=np.int64)
    digits: npt.NDArray[np.int64] = (number[:, None] // powers) % 10
    digits[~ok.to_numpy()] = -1
    return digits


def dates_compatible(a: pl.Series, b: pl.Series) -> Bools:
    """Whether each pair of ISO dates is one date: equal, one digit apart (a typo or two
    neighbouring digits swapped), or day and month swapped.

    Examples:
        >>> dates_compatible(
        ...     pl.Series(["1986-04-04", "1968-03-01", "1980-12-31", "1980-12-31", "1980-01-02"]),
        ...     pl.Series(["1989-04-04", "1968-01-03", "1980-12-13", "1981-12-31", "1980-03-04"]),
        ... ).tolist()
        [True, True, True, True, False]
    """
    da, db = _digits(a), _digits(b)
    valid = (da[:, 0] >= 0) & (db[:, 0] >= 0)
    differ = da != db
    count = differ.sum(axis=1)
    one_digit = count <= 1
    # Two neighbouring digits swapped: exactly two differences, next to each other, crossed.
    first = np.argmax(differ, axis=1)
    nxt = np.minimum(first + 1, 7)
    rows = np.arange(len(da))
    crossed = (
        (count == 2)
        & differ[rows, nxt]
        & (da[rows, first] == db[rows, nxt])
        & (da[rows, nxt] == db[rows, first])
    )
    swapped = (
        (da[:, :4] == db[:, :4]).all(axis=1)
        & (da[:, 4:6] == db[:, 6:8]).all(axis=1)
        & (da[:, 6:8] == db[:, 4:6]).all(axis=1)
    )
    result: Bools = valid & (one_digit | crossed | swapped)
    return result


def first_names_compatible(a: pl.Series, b: pl.Series) -> Bools:
    """Whether each pair of first-name keys (folded, nicknames resolved) is one name: equal,
    an initial and a name it starts, one typo apart (one letter changed, added, dropped or
    two neighbours swapped; two in names of seven letters or more), but not when the only
    change is the closing vowel (Francesca, Francesco), or a short form (`_short_form`).
    Similarity scores are no help here: Jaro-Winkler puts "francesca" and "francesco" (two
    people) at 0.96 and "jonas" and "monas" (a typo) at 0.87.

    Examples:
        >>> first_names_compatible(
        ...     pl.Series(["elisabetta", "j", "maria", "francesca", "michi", "luca"]),
        ...     pl.Series(["elisabteta", "john", "martina", "francesco", "michael", "marco"]),
        ... ).tolist()
        [True, True, False, False, True, False]
    """
    left, right = a.cast(pl.Utf8).fill_null(""), b.cast(pl.Utf8).fill_null("")
    same = (left == right).to_numpy()
    la, lb = left.str.len_chars().to_numpy(), right.str.len_chars().to_numpy()
    initial = ((la == 1) | (lb == 1)) & (left.str.slice(0, 1) == right.str.slice(0, 1)).to_numpy()
    result: Bools = same | initial
    todo = np.flatnonzero(~result & (la > 1) & (lb > 1))
    if len(todo):
        x, y = left.gather(todo), right.gather(todo)
        distance = np.asarray(
            process.cpdist(x.to_list(), y.to_list(), scorer=OSA.distance, workers=-1)
        )
        allowed = np.where(np.minimum(la[todo], lb[todo]) >= 7, 2, 1)
        ending = (
            (x.str.head(-1) == y.str.head(-1))
            & x.str.tail(1).is_in(list(_GENDER_ENDINGS))
            & y.str.tail(1).is_in(list(_GENDER_ENDINGS))
        ).to_numpy()
        result[todo] = ((distance <= allowed) & ~ending) | _short_form(x, y)
    return result


def one_typo(a: pl.Series, b: pl.Series) -> Bools:
    """One letter changed, added, dropped or two neighbours swapped (two in values of seven
    letters or more); never for values shorter than three letters."""
    distance = np.asarray(process.cpdist(a.to_list(), b.to_list(), scorer=OSA.distance, workers=-1))
    shorter = np.minimum(a.str.len_chars().to_numpy(), b.str.len_chars().to_numpy())
    result: Bools = (distance <= np.where(shorter >= 7, 2, 1)) & (shorter >= 3)
    return result


def one_edit(a: pl.Series, b: pl.Series) -> Bools:
    """One character changed, added, dropped or two neighbours swapped, in values of four
    characters or more: an id typed with one slip (`5851063`, `5850163`). Stricter than
    `one_typo`, since two ids two edits apart are as often two customers' numbers."""
    distance = np.asarray(process.cpdist(a.to_list(), b.to_list(), scorer=OSA.distance, workers=-1))
    shorter = np.minimum(a.str.len_chars().to_numpy(), b.str.len_chars().to_numpy())
    result: Bools = (distance == 1) & (shorter >= 4)
    return result


def same_or_one_typo(a: pl.Series, b: pl.Series) -> Bools:
    """Whether each pair of name keys is one spelling: equal or one typo apart (`one_typo`);
    never when one is missing. Last names, and a first name against a last name when the
    two were swapped at entry."""
    a, b = a.cast(pl.Utf8).fill_null(""), b.cast(pl.Utf8).fill_null("")
    result: Bools = ((a == b) & (a != "")).to_numpy() | one_typo(a, b)
    return result


def _short_form(x: pl.Series, y: pl.Series) -> Bools:
    """Whether the shorter name (three to five letters, two or more shorter than the other)
    is a short form of the longer one the nickname table does not list: its start ("vale",
    "valentina"), its end ("bine", "sabine"), inside it ("toni", "antonio"), or its start
    less a pet ending ("michi", "michael"; "robi", "roberto")."""
    lx, ly = x.str.len_chars(), y.str.len_chars()
    frame = pl.DataFrame({"short": x.zip_with(lx <= ly, y), "long": y.zip_with(lx <= ly, x)})
    short, long = pl.col("short"), pl.col("long")
    size = short.str.len_chars()
    stem = short.str.head(-1)
    found = frame.select(
        (
            size.is_between(3, 5)
            & (long.str.len_chars() >= size + 2)
            & (
                long.str.starts_with(short)
                | long.str.ends_with(short)
                | ((size >= 4) & long.str.contains(short, literal=True))
                | (
                    short.str.tail(1).is_in(list(_PET_ENDINGS))
                    & (size >= 4)
                    & long.str.starts_with(stem)
                )
            )
        ).alias("found")
    )["found"]
    result: Bools = found.fill_null(False).to_numpy()
    return result


#: Must-agree attributes whose near misses are typos, and how to tell.
TOLERANT_ATTRIBUTES: dict[str, Compatible] = {
    "birth_date": dates_compatible,
    "first_name": first_names_compatible,
}


def tolerant_classes(
    rows: pl.DataFrame,
    compatible: Compatible | None,
    *,
    bridges: pl.DataFrame | None = None,
    on: str = "record",
) -> pl.DataFrame:
    """A class per (group, value) row: values compatible within their group share one.

    Args:
        rows: `group` (any integer or text) and `value` (text, never null) columns; any
            other columns are kept.
        compatible: the pairwise test, or None for exact agreement only.
        bridges: pairs of rows (columns `a`, `b`, matched against the rows' `on` column)
            whose values count as one wherever both rows sit in one group, however far
            apart the values are (`personal_pairs`).
        on: the rows' column that `bridges` name.

    Returns:
        `rows` with an Int64 `cls` column: equal for two rows of one group whose values are
        equal or linked by a chain of compatible values (or bridges), different otherwise
        (also across groups). Chains make the relation transitive: two dates each one typo
        from a third share its class.
    """
    distinct = rows.select("group", "value").unique().sort("group", "value").with_row_index("node")
    node = distinct["node"].cast(pl.Int64).to_numpy()
    left: list[npt.NDArray[np.int64]] = []
    right: list[npt.NDArray[np.int64]] = []
    if compatible is not None and distinct.height:
        crowded = distinct.group_by("group").agg(pl.len().alias("n")).filter(pl.col("n") > 1)
        candidates = distinct.join(crowded.select("group"), on="group", how="semi")
        pairs = candidates.join(candidates, on="group", suffix="_b").filter(
            pl.col("node") < pl.col("node_b")
        )
        if pairs.height:
            ok = compatible(pairs["value"], pairs["value_b"])
            left.append(pairs["node"].cast(pl.Int64).to_numpy()[ok])
            right.append(pairs["node_b"].cast(pl.Int64).to_numpy()[ok])
    if bridges is not None and bridges.height and distinct.height:
        placed = rows.select("group", on, "value").join(distinct, on=["group", "value"])
        ends = placed.select("group", pl.col(on).alias("a"), "node").join(
            bridges.select("a", "b"), on="a"
        )
        found = ends.join(
            placed.select("group", pl.col(on).alias("b"), pl.col("node").alias("node_b")),
            on=["group", "b"],
        ).filter(pl.col("node") != pl.col("node_b"))
        left.append(found["node"].cast(pl.Int64).to_numpy())
        right.append(found["node_b"].cast(pl.Int64).to_numpy())
    if left and sum(len(x) for x in left):
        a, b = np.concatenate(left), np.concatenate(right)
        n = distinct.height
        graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
        _, labels = connected_components(graph, directed=False)
        node = np.asarray(labels, dtype=np.int64)
    classes = distinct.select("group", "value").with_columns(pl.Series("cls", node))
    return rows.join(classes, on=["group", "value"], how="left")


def personal_pairs(
    records: pl.DataFrame,
    identifiers: pl.DataFrame,
    kinds: Mapping[str, int],
    *,
    view: pl.DataFrame | None = None,
    any_names: bool = False,
) -> pl.DataFrame:
    """Pairs of records that are one person whatever their strong attributes say: they hold
    one value of a personal identifier (a customer number, a login, a national id: issued to
    one person, never shared by a household) and agree on the first name, a typo or a
    nickname aside, or hold each other's first and last names (swapped at entry), or, when
    one of them has no first name, agree on the last name. Their birth dates, however far
    apart, are then one person's date typed wrong in one system, and the guards count them
    as one. The surname may differ (a marriage, a typo); two different first names are two
    members of a household, whatever the identifier claims.

    Args:
        records: the records (`key`, `first_name`, `last_name`).
        identifiers: their (record, kind, value) rows.
        kinds: the personal identifier kinds, each with its `max_records`: a value held by
            more records links nobody and vouches for nobody.
        view: the records' match view, when already made (its name keys).
        any_names: vouch for every two holders whatever their names: records that hold no
            households (`idgraph.match.households.no_households`) have no family members to
            tell apart, only one person's records with a name replaced.

    Returns:
        Columns `a`, `b`: record keys, `a < b`, each pair once.
    """
    empty = pl.DataFrame(schema={"a": pl.Utf8, "b": pl.Utf8})
    if not kinds or records.height == 0 or identifiers.height == 0:
        return empty
    limits = pl.DataFrame(
        {"kind": list(kinds), "most": list(kinds.values())},
        schema={"kind": pl.Utf8, "most": pl.Int64},
    )
    held = identifiers.join(limits, on="kind").select(
        "record", (pl.col("kind") + pl.lit(":") + pl.col("value")).alias("id"), "most"
    )
    shared = (
        held.group_by("id")
        .agg(pl.len().alias("n"), pl.col("most").first())
        .filter((pl.col("n") >= 2) & (pl.col("n") <= pl.col("most")))
    )
    held = held.join(shared.select("id"), on="id", how="semi")
    if held.height == 0:
        return empty
    names = (
        (view if view is not None else match_view(records, ["first_name", "last_name"]))
        .select(
            pl.col("key").alias("record"),
            pl.col("first_name").alias("first"),
            pl.col("last_name").alias("last"),
        )
        .filter(pl.col("first").is_not_null() | pl.col("last").is_not_null())
        .join(held.select("record").unique(), on="record", how="semi")
    )
    named = held.select("record", "id").join(names, on="record")
    pairs = (
        named.join(named, on="id", suffix="_b")
        .filter(pl.col("record") < pl.col("record_b"))
        .unique(["record", "record_b"])
    )
    if pairs.height == 0:
        return empty
    if any_names:
        return pairs.select(pl.col("record").alias("a"), pl.col("record_b").alias("b"))
    # First names are nickname-resolved keys; a last name standing in for one is read the same.
    last, last_b = (per_distinct(pairs[c], canonical_first_name) for c in ("last", "last_b"))
    swapped = same_or_one_typo(pairs["first"], last_b) & same_or_one_typo(last, pairs["first_b"])
    unnamed = (pairs["first"].is_null() | pairs["first_b"].is_null()).to_numpy()
    same = (
        (first_names_compatible(pairs["first"], pairs["first_b"]) & ~unnamed)
        | swapped
        | (unnamed & same_or_one_typo(pairs["last"], pairs["last_b"]))
    )
    return pairs.filter(pl.Series(same)).select(
        pl.col("record").alias("a"), pl.col("record_b").alias("b")
    )


def guard_values(records: pl.DataFrame, name: str, view: pl.DataFrame | None = None) -> pl.Series:
    """The values a guard compares for attribute `name`, aligned with `records`: first names
    as name keys with nicknames resolved (the match view's, from `view` when given), the
    rest as stored; null where empty."""
    if name == "first_name":
        values = (view if view is not None else match_view(records, ["first_name"]))["first_name"]
    elif name in records.columns:
        values = records[name].cast(pl.Utf8)
    else:
        values = pl.Series(name, [None] * records.height, dtype=pl.Utf8)
    return values.replace("", None).alias(name)


def values_compatible(name: str, left: Collection[str], right: Collection[str]) -> bool:
    """Whether every value of `left` is compatible with every value of `right` (the guard's
    test for two customers, as the union-find applies it)."""
    test = TOLERANT_ATTRIBUTES.get(name)
    if name == "first_name":
        left, right = (
            guard_values(pl.DataFrame({"key": list(v), name: list(v)}), name).drop_nulls().to_list()
            for v in (left, right)
        )
    pairs = [(x, y) for x in left for y in right]
    if not pairs:
        return True
    if test is None:
        return all(x == y for x, y in pairs)
    ok = test(pl.Series([p[0] for p in pairs]), pl.Series([p[1] for p in pairs]))
    return bool(ok.all())
