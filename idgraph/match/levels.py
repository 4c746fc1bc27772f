"""Comparison levels of candidate pairs: how well two records agree on each field, as columns.

A level is the first of a field's graded outcomes that holds — exact, a typo away, the same
year, anything else — or -1 when either record has no value. Each field's levels are fixed
here and named in the explain waterfall (`first_name=typo`); the weights of the levels are
learned (`idgraph.match.model`). Levels are computed over whole arrays of pairs: equality on
integer codes, string tests once per distinct pair of values, never a Python loop per pair.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl
from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler

from idgraph.match.comparisons import FieldArrays, _unique_inverse
from idgraph.match.tolerance import (
    dates_compatible,
    first_names_compatible,
    one_edit,
    one_typo,
    same_or_one_typo,
)
from idgraph.match.view import per_distinct
from idgraph.normalize.nicknames import canonical_first_name

__all__ = ["FIELD_LEVELS", "TYPO_ONLY", "FieldCodes", "LevelArray", "ScoringView"]

LevelArray = npt.NDArray[np.int8]
Ints = npt.NDArray[np.int64]
NULL = -1
#: `ScoringView.codes` name of the last names read as first names (nicknames resolved).
LAST_AS_FIRST = "last_name:as_first"

#: Each scored field's levels, best first; "else" is always last. `address` is street,
#: postcode and city compared as one fact (scored apart, one move would count three times);
#: `email_local=echo` is an equal local part spelled from the names ("mario.rossi"), which
#: says little the names have not said; `last_name=crossed` is one record's surname as the
#: other's first name, the other name differing ("Weller Ebony", "Flynn Weller").
FIELD_LEVELS: dict[str, tuple[str, ...]] = {
    "first_name": ("exact", "typo", "else"),
    "last_name": ("exact", "typo", "crossed", "else"),
    "birth_date": ("exact", "typo", "year", "else"),
    "address": ("exact", "street_typo", "postcode", "city", "else"),
    "email_local": ("exact", "echo", "typo", "else"),
    "phone": ("exact", "else"),
    "customer_id": ("exact", "typo", "else"),
}
#: Fields whose typo level alone carries weight, and never against a pair: an equal id is
#: the identifier's to link (under its guards, which the model must not overrule), and a
#: different one says nothing, since each source numbers its customers its own way. Their
#: exact level needs no term frequencies.
TYPO_ONLY: frozenset[str] = frozenset({"customer_id"})


def _same_year(a: pl.Series, b: pl.Series) -> npt.NDArray[np.bool_]:
    result: npt.NDArray[np.bool_] = (a.str.slice(0, 4) == b.str.slice(0, 4)).to_numpy()
    return result


def _similar(a: pl.Series, b: pl.Series) -> npt.NDArray[np.bool_]:
    """The same house numbers and Jaro-Winkler 0.9 or more: "21 richmond road" and "21
    richmond rd", not "via roma 1" and "via roma 9" (neighbours)."""
    numbers = (a.str.replace_all(r"\D+", " ") == b.str.replace_all(r"\D+", " ")).to_numpy()
    scores = process.cpdist(
        a.to_list(), b.to_list(), scorer=JaroWinkler.normalized_similarity, workers=-1,
        dtype=np.float64,
    )  # fmt: skip
    result: npt.NDArray[np.bool_] = (np.asarray(scores) >= 0.9) & numbers
    return result


Test = Callable[[pl.Series, pl.Series], npt.NDArray[np.bool_]]

_TESTS: dict[tuple[str, str], Test] = {
    ("first_name", "typo"): first_names_compatible,
    ("last_name", "typo"): one_typo,
    ("email_local", "typo"): one_typo,
    ("birth_date", "typo"): dates_compatible,
    ("birth_date", "year"): _same_year,
    ("street", "similar"): _similar,
    ("postcode", "typo"): one_typo,
    ("city", "typo"): one_typo,
    ("customer_id", "typo"): one_edit,
}


#: Tests that hold only within `one_typo`'s edits, which `could_be_one_typo` bounds.
_EDITS: frozenset[Test] = frozenset({one_typo, one_edit})

#: Buckets of a character histogram: a-z, the digits in the first ten (a value rarely mixes
#: both, and a bucket shared only weakens the bound), and everything else in one.
_BUCKETS = 27


@dataclass(slots=True)
class FieldCodes:
    """A column as integer codes over its distinct values (-1 = null), built once."""

    codes: Ints
    values: pl.Series
    _letters: tuple[npt.NDArray[np.int16], Ints, npt.NDArray[np.bool_]] | None = None

    @classmethod
    def of(cls, column: pl.Series) -> FieldCodes:
        arrays = FieldArrays(column)
        codes, texts = arrays.distinct
        codes = codes.copy()
        codes[arrays.empty] = NULL
        return cls(codes, pl.Series(texts.tolist(), dtype=pl.Utf8))

    def counts(self) -> Ints:
        """Records per distinct value."""
        present = self.codes[self.codes >= 0]
        return np.bincount(present, minlength=len(self.values)).astype(np.int64)

    def letters(self) -> tuple[npt.NDArray[np.int16], Ints, npt.NDArray[np.bool_]]:
        """Per distinct value: its character histogram (`_BUCKETS`), its length in
        characters, and whether it is plain ASCII (the histogram bounds edits only then)."""
        if self._letters is None:
            text = self.values.fill_null("")
            lengths = text.str.len_chars().cast(pl.Int64).to_numpy()
            sizes = text.str.len_bytes().cast(pl.Int64).to_numpy()
            data = np.frombuffer(b"".join(v.encode() for v in text.to_list()), dtype=np.uint8)
            rows = np.repeat(np.arange(len(text), dtype=np.int64), sizes)
            byte = data.astype(np.int64)
            bucket = np.full(len(byte), _BUCKETS - 1, dtype=np.int64)
            letter = (byte >= ord("a")) & (byte <= ord("z"))
            digit = (byte >= ord("0")) & (byte <= ord("9"))
            bucket[letter] = byte[letter] - ord("a")
            bucket[digit] = byte[digit] - ord("0")
            flat = np.bincount(rows * _BUCKETS + bucket, minlength=len(text) * _BUCKETS)
            self._letters = (
                flat.reshape(len(text), _BUCKETS).astype(np.int16),
                lengths,
                lengths == sizes,
            )
        return self._letters


def could_be_one_typo(x: FieldCodes, a: Ints, y: FieldCodes, b: Ints) -> npt.NDArray[np.bool_]:
    """A cheap test that `same_or_one_typo` can only pass where this holds: value `a` of `x`
    and value `b` of `y` are at most the allowed edits apart in length, and their character
    histograms differ by at most two per edit (a character changed moves two counts, one
    added or dropped one, two neighbours swapped none). Non-ASCII values always pass."""
    hx, lx, ascii_x = x.letters()
    hy, ly, ascii_y = y.letters()
    shorter = np.minimum(lx[a], ly[b])
    allowed = np.where(shorter >= 7, 2, 1)
    result: npt.NDArray[np.bool_] = np.abs(lx[a] - ly[b]) <= allowed
    rows = np.flatnonzero(result & ascii_x[a] & ascii_y[b])
    if len(rows):
        apart = np.abs(hx[a[rows]] - hy[b[rows]]).sum(axis=1)
        result[rows] = apart <= 2 * allowed[rows]
    return result


def _echoes(view: pl.DataFrame) -> npt.NDArray[np.bool_]:
    """Whether each record's email local part is spelled from its own names: first and last
    name in either order, or one of them with the other's initial (dots already gone)."""
    first = pl.col("first_name").str.replace_all(" ", "", literal=True)
    last = pl.col("last_name").str.replace_all(" ", "", literal=True)
    local = pl.col("email_local").str.replace_all(r"[^a-z]", "")
    spelled = [
        first + last,
        last + first,
        first.str.slice(0, 1) + last,
        first + last.str.slice(0, 1),
        last + first.str.slice(0, 1),
    ]
    flags = view.select(
        pl.any_horizontal([(local == form).fill_null(False) for form in spelled]).alias("echo")
    )
    result: npt.NDArray[np.bool_] = flags["echo"].to_numpy()
    return result


class ScoringView:
    """The scored fields of the records being resolved, as codes built once per run."""

    def __init__(self, view: pl.DataFrame, aliases: pl.DataFrame | None = None) -> None:
        """`aliases`: pairs of first names (`x` < `y`) this data shows to be one name
        (`idgraph.match.households.learn_aliases`); they score as a typo."""
        self._view = view
        self._aliases = aliases if aliases is not None and aliases.height else None
        self._codes: dict[str, FieldCodes] = {}
        self._echo: npt.NDArray[np.bool_] | None = None

    def __len__(self) -> int:
        return self._view.height

    def codes(self, name: str) -> FieldCodes:
        """Codes of a view column, or of `address` (street and postcode, both present)."""
        if name not in self._codes:
            if name == "address":
                column = self._view.select(
                    pl.concat_str(["street", "postcode"], separator="|").alias("address")
                )["address"]
            elif name == LAST_AS_FIRST:
                column = per_distinct(self._view["last_name"], canonical_first_name)
            else:
                column = self._view[name]
            self._codes[name] = FieldCodes.of(column)
        return self._codes[name]

    def tf_codes(self, field: str) -> FieldCodes:
        """The codes whose frequencies adjust `field`'s exact level."""
        return self.codes(field)

    @property
    def echo(self) -> npt.NDArray[np.bool_]:
        if self._echo is None:
            self._echo = _echoes(self._view)
        return self._echo

    def levels(self, field: str, left: Ints, right: Ints) -> LevelArray:
        """The level (index into `FIELD_LEVELS[field]`) of every pair of row positions."""
        if field == "address":
            return self._address(left, right)
        names = tuple(n for n in FIELD_LEVELS[field] if n not in ("echo", "crossed"))
        out = _graded(field, names, self.codes(field), left, right)
        if field in ("first_name", "last_name"):
            out[self._swapped(left, right) & (out == len(names) - 1)] = names.index("typo")
        if field == "last_name":
            plain = out == len(names) - 1
            out[plain] += 1
            out[self._crossed(left, right, plain)] = FIELD_LEVELS[field].index("crossed")
        if field == "first_name" and self._aliases is not None:
            out[self._aliased(left, right, out == len(names) - 1)] = names.index("typo")
        if field == "email_local":
            echo = (out == 0) & (self.echo[left] | self.echo[right])
            out[out >= 1] += 1
            out[echo] = 1
            # A letter or digit from a local spelled from the names (mariorossi85,
            # mariorossi58; giuseppedeluca, giuseppedelca): namesakes' mailboxes as often as
            # one person's, so no evidence beyond the names.
            near = out == FIELD_LEVELS[field].index("typo")
            out[near & (self.echo[left] | self.echo[right])] = NULL
        return out

    def _aliased(
        self, left: Ints, right: Ints, plain: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.bool_]:
        """Which of the `plain` pairs (first names that differ) are a learned alias."""
        result = np.zeros(len(left), dtype=bool)
        rows = np.flatnonzero(plain)
        if not len(rows) or self._aliases is None:
            return result
        firsts = self.codes("first_name")
        a = firsts.values.gather(firsts.codes[left[rows]])
        b = firsts.values.gather(firsts.codes[right[rows]])
        pairs = pl.DataFrame({"x": a, "y": b}).select(
            i=pl.int_range(pl.len(), dtype=pl.Int64),
            x=pl.min_horizontal("x", "y"),
            y=pl.max_horizontal("x", "y"),
        )
        known = pairs.join(self._aliases, on=["x", "y"], how="semi")["i"].to_numpy()
        result[rows[known]] = True
        return result

    def _first_as_last(self, x: Ints, y: Ints, rows: Ints) -> Ints:
        """Those of `rows` where record x's first name is record y's last name, exactly or a
        typo away. The last names are read as first names are (nicknames resolved), since
        the first name of one record is the other's last: "Daniel", "Stephenson Danny"."""
        firsts, lasts = self.codes("first_name"), self.codes(LAST_AS_FIRST)
        first, last = firsts.codes[x[rows]], lasts.codes[y[rows]]
        known = (first >= 0) & (last >= 0)
        rows, first, last = rows[known], first[known], last[known]
        near = could_be_one_typo(firsts, first, lasts, last)
        rows, first, last = rows[near], first[near], last[near]
        if not len(rows):
            return rows
        same = same_or_one_typo(firsts.values.gather(first), lasts.values.gather(last))
        return rows[same]

    def _swapped(self, left: Ints, right: Ints) -> npt.NDArray[np.bool_]:
        """Pairs whose first and last names are each other's (a form filled in the wrong
        order), exactly or a typo away: a typo, not a disagreement, on both names."""
        firsts = self.codes("first_name").codes
        rows = np.flatnonzero(firsts[left] != firsts[right])
        rows = self._first_as_last(left, right, rows)
        rows = self._first_as_last(right, left, rows)
        result = np.zeros(len(left), dtype=bool)
        result[rows] = True
        return result

    def _crossed(
        self, left: Ints, right: Ints, plain: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.bool_]:
        """Which of the `plain` pairs (last names that differ) hold one record's last name as
        the other's first name, exactly or a typo away: a form filled in the wrong order
        with one of the names replaced or missing."""
        result = np.zeros(len(left), dtype=bool)
        result[self._first_as_last(left, right, np.flatnonzero(plain))] = True
        result[self._first_as_last(right, left, np.flatnonzero(plain & ~result))] = True
        return result

    def _address(self, left: Ints, right: Ints) -> LevelArray:
        names = FIELD_LEVELS["address"]
        street, postcode, city = (self.codes(c).codes for c in ("street", "postcode", "city"))
        out = np.full(len(left), NULL, dtype=np.int8)

        def both(codes: Ints) -> npt.NDArray[np.bool_]:
            result: npt.NDArray[np.bool_] = (codes[left] >= 0) & (codes[right] >= 0)
            return result

        def same(codes: Ints) -> npt.NDArray[np.bool_]:
            result: npt.NDArray[np.bool_] = both(codes) & (codes[left] == codes[right])
            return result

        out[both(postcode) | both(city)] = names.index("else")
        out[same(city)] = names.index("city")
        same_postcode = same(postcode)
        # A town typed wrong ("modnury", "brownphill") is the same town.
        towns = np.flatnonzero(both(city) & ~same(city) & ~same_postcode)
        cities = self.codes("city")
        if len(towns):
            towns = towns[could_be_one_typo(cities, city[left[towns]], cities, city[right[towns]])]
        if len(towns):
            graded = _graded("city", ("exact", "typo", "else"), cities, left[towns], right[towns])
            out[towns[graded == 1]] = names.index("city")
        out[same_postcode] = names.index("postcode")
        streets = np.flatnonzero(same_postcode & both(street))
        if len(streets):
            graded = _graded("street", ("exact", "similar", "else"), self.codes("street"),
                             left[streets], right[streets])  # fmt: skip
            out[streets[graded == 0]] = names.index("exact")
            out[streets[graded == 1]] = names.index("street_typo")
        # One street (or a street a typo apart) with a postcode a typo apart is one address
        # typed wrong, as a street typo is: not the "else" of two places.
        typed = np.flatnonzero(both(postcode) & ~same_postcode & both(street))
        if len(typed):
            codes = self.codes("postcode")
            near = _graded("postcode", ("exact", "typo", "else"), codes,
                           left[typed], right[typed]) == 1  # fmt: skip
            typed = typed[near]
        if len(typed):
            graded = _graded("street", ("exact", "similar", "else"), self.codes("street"),
                             left[typed], right[typed])  # fmt: skip
            out[typed[graded <= 1]] = names.index("street_typo")
        return out


def _graded(
    field: str, names: tuple[str, ...], codes: FieldCodes, left: Ints, right: Ints
) -> LevelArray:
    """Levels exact .. else of one column; each test runs once per distinct pair of values
    not claimed by an earlier level."""
    ca, cb = codes.codes[left], codes.codes[right]
    out = np.full(len(left), len(names) - 1, dtype=np.int8)
    present = (ca >= 0) & (cb >= 0)
    out[~present] = NULL
    same = present & (ca == cb)
    out[same] = 0
    todo = np.flatnonzero(present & ~same)
    if not len(todo) or len(names) <= 2:
        return out
    width = np.int64(len(codes.values))
    keys, back = _unique_inverse(ca[todo] * width + cb[todo])
    first, second = codes.values.gather(keys // width), codes.values.gather(keys % width)
    undecided = np.ones(len(keys), dtype=bool)
    level_of = np.full(len(keys), len(names) - 1, dtype=np.int8)
    for index, name in enumerate(names[1:-1], start=1):
        where = np.flatnonzero(undecided)
        test = _TESTS[(field, name)]
        if test in _EDITS and len(where):
            # Most pairs (all but a few of the random pairs u is learned from) are further
            # apart than any typo: their character counts say so without comparing them.
            near = could_be_one_typo(codes, keys[where] // width, codes, keys[where] % width)
            where = where[near]
        if not len(where):
            continue
        held = test(first.gather(where), second.gather(where))
        level_of[where[held]] = index
        undecided[where[held]] = False
    out[todo] = level_of[back]
    return out
