"""`normalize_phone` for numbers already in E.164 or close to it, decided from metadata.

`phonenumbers.parse` costs tens of microseconds, too much for most of a million distinct numbers.
For the shapes below the parse reduces to a few facts per country calling code, read once from
the metadata `parse` itself uses (the main region of the code):

- ``+`` then digits with spaces, dots, dashes or parentheses (``+39 347 123 4567``,
  ``(+34) 613.713.958``), or the default region's international prefix written as digits
  (``0039 347...`` when that prefix is the literal ``00``): the country code is the one of 1-3
  leading digits that exists (codes are prefix-free), the rest is the national number;
- digits only, read in the default region (``347 1234567``), when that region is the main region
  of its code.

The national number then goes through what `parse` does to it: the national prefix for parsing
(applied even after ``+``, so ``+44 (0)20...`` loses its 0) with its two checks against the
general number pattern and the possible lengths; the possible-length test of
`is_possible_number`; and, for a number with an Italian leading zero, the read-back check of
`_phone_e164`. Patterns run as Rust regexes only where `regex.translate` vouches for them, and a
prefix rule is only applied here when it has no transform rule; every row not certainly decided
(letters, a country code starting with 0, a prefix rule that cannot be mirrored, a read-back that
would change) is left to `normalize_phone`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import astuple, dataclass
from functools import lru_cache
from pathlib import Path

import phonenumbers
import polars as pl
from phonenumbers import PhoneMetadata, PhoneNumber, ValidationResult

from idgraph.normalize._columnar.common import Fast, reason_of
from idgraph.normalize._columnar.junk import junk_test
from idgraph.normalize._columnar.regex import fullmatch_pattern, prefix_pattern, translate
from idgraph.normalize.fields import normalize_phone
from idgraph.normalize.junk import JunkConfig

__all__ = ["fast_phone"]

#: `parse`'s bounds on the national number (`_MIN_LENGTH_FOR_NSN`, `_MAX_LENGTH_FOR_NSN`).
_MIN_NSN = 2
_MAX_NSN = 17
#: Longest trimmed text handled here; `parse` refuses more than 250 characters outright.
_MAX_TEXT = 100
#: Lengths are looked up in tables indexed by ``code * _LENGTH_SLOTS + length``; longer numbers
#: share the last slot, which is beyond every possible length.
_LENGTH_SLOTS = 32
#: Characters that may separate digits here: `parse` drops them all (no extension, no letters).
_SHAPE = r"^[ ().\-]*\+?[0-9 ().\-]*$"
_KEEPS_STRIPPED = (ValidationResult.IS_POSSIBLE, ValidationResult.TOO_LONG)
_POSSIBLE = (ValidationResult.IS_POSSIBLE, ValidationResult.IS_POSSIBLE_LOCAL_ONLY)
_SETTLED = ("row", "code", "national", "nsn", "certain")


@dataclass(frozen=True, slots=True)
class _Plan:
    """What `parse` and `is_possible_number` do with national numbers of one calling code.

    Attributes:
        code: The country calling code.
        lengths: `_test_number_length` result by national-number length, from 0 up to the
            last length slot.
        prefix: Rust prefix pattern of the national prefix for parsing; None when there is none.
        prefix_mirrored: The prefix rule can be applied here: its pattern translates and it has
            no transform rule.
        general: Rust full-match pattern of the general number pattern; "" when there is none
            (nothing matches it), None when it does not translate.
    """

    code: int
    lengths: tuple[int, ...]
    prefix: str | None
    prefix_mirrored: bool
    general: str | None

    @property
    def text(self) -> str:
        return str(self.code)


def _plan(code: int) -> _Plan | None:
    region = phonenumbers.region_code_for_country_code(code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
    if metadata is None:
        return None
    lengths = tuple(
        phonenumbers.is_possible_number_with_reason(
            PhoneNumber(country_code=code, national_number=int("5" * size))
        )
        for size in range(1, _LENGTH_SLOTS)
    )
    rule = metadata.national_prefix_for_parsing or None
    prefix = None
    mirrored = False
    if rule is not None:
        body = translate(rule)
        # A rule the translator refuses still needs a pattern saying where it may apply: any
        # number of this code, which sends them all to `normalize_phone`.
        prefix = prefix_pattern(body if body is not None else "")
        mirrored = body is not None and not metadata.national_prefix_transform_rule
    general_pattern = (
        metadata.general_desc.national_number_pattern if metadata.general_desc else None
    )
    general: str | None = ""
    if general_pattern:
        body = translate(general_pattern)
        general = fullmatch_pattern(body) if body is not None else None
    return _Plan(
        code=code,
        lengths=(ValidationResult.TOO_SHORT, *lengths),
        prefix=prefix,
        prefix_mirrored=mirrored,
        general=general,
    )


@dataclass(frozen=True, slots=True)
class _Tables:
    """Every calling code's plan, plus dense lookup tables for whole-column gathers."""

    plans: dict[int, _Plan]
    #: By the first three digits of an international number: how many of them are the code.
    code_length: pl.Series
    #: By ``code * _LENGTH_SLOTS + length``: `is_possible_number` would say yes.
    possible: pl.Series
    #: By ``code * _LENGTH_SLOTS + length``: `parse` keeps a number stripped to that length.
    keeps_stripped: pl.Series
    #: By ``code * _LENGTH_SLOTS + length``: `_test_number_length` says TOO_LONG.
    too_long: pl.Series
    #: Prefix pattern over code + national number: the national prefix rule may apply.
    may_strip: str


def plans_cache_file() -> Path:
    """Where the plans are kept between runs: in the user's cache folder, named for the
    metadata, Polars (which vouches for the patterns) and this module's code."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    stamp = hashlib.sha1(
        f"{phonenumbers.__version__}|{pl.__version__}|".encode() + Path(__file__).read_bytes()
    ).hexdigest()[:16]
    return Path(base) / "idgraph" / f"phone-plans-{stamp}.json"


@lru_cache(maxsize=1)
def _plans() -> dict[int, _Plan]:
    """Every calling code's plan. Reading the metadata of ~240 codes and vouching for their
    patterns takes most of a second, as much as normalizing 100k phones: it is done once per
    machine and version, then read back from the cache file (a missing, unreadable or
    unwritable cache only costs that second)."""
    path = plans_cache_file()
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
        return {row[0]: _Plan(row[0], tuple(row[1]), row[2], row[3], row[4]) for row in rows}
    except (OSError, ValueError, TypeError, IndexError, KeyError):
        pass
    plans = {
        code: plan
        for code in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
        if (plan := _plan(code)) is not None
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        partial.write_text(json.dumps([astuple(p) for p in plans.values()]), encoding="utf-8")
        partial.replace(path)
    except OSError:
        pass
    return plans


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    plans = _plans()
    code_length = [0] * 1000
    for first3 in range(100, 1000):
        for size in (1, 2, 3):
            if int(str(first3)[:size]) in plans:
                code_length[first3] = size
                break
    size = 1000 * _LENGTH_SLOTS
    possible, keeps, too_long = [False] * size, [False] * size, [False] * size
    for code, plan in plans.items():
        for length, result in enumerate(plan.lengths):
            slot = code * _LENGTH_SLOTS + length
            possible[slot] = result in _POSSIBLE
            keeps[slot] = result in _KEEPS_STRIPPED
            too_long[slot] = result == ValidationResult.TOO_LONG
    rules = [
        f"{plan.text}(?:{plan.prefix.removeprefix('^(?:').removesuffix(')')})"
        for plan in plans.values()
        if plan.prefix is not None
    ]
    return _Tables(
        plans=plans,
        code_length=pl.Series(code_length, dtype=pl.UInt8),
        possible=pl.Series(possible, dtype=pl.Boolean),
        keeps_stripped=pl.Series(keeps, dtype=pl.Boolean),
        too_long=pl.Series(too_long, dtype=pl.Boolean),
        may_strip="^(?:" + "|".join(rules) + ")",
    )


@dataclass(frozen=True, slots=True)
class _Region:
    """How digits without ``+`` are read in the default region."""

    #: The international prefix when it is a plain digit string (``00``, ``011``), else None.
    idd_literal: str | None
    #: Prefix pattern of any other international prefix; None when there is none.
    idd_pattern: str | None
    #: The region's plan, when national numbers can be read here (it is its code's main region).
    plan: _Plan | None
    #: The reasons `normalize_phone` gives, in this region, for a national number shorter than
    #: `_MIN_NSN` or longer than `_MAX_NSN` (both `parse` errors), and for one of a length
    #: `is_possible_number` refuses.
    too_short: str
    too_long: str
    impossible: str


@lru_cache(maxsize=16)
def _region(region: str) -> _Region:
    metadata = PhoneMetadata.metadata_for_region(region)
    idd = metadata.international_prefix if metadata is not None else None
    literal = idd if idd is not None and re.fullmatch(r"\d+", idd) else None
    idd_pattern = None
    if idd is not None and literal is None:
        body = translate(idd)
        idd_pattern = prefix_pattern(body if body is not None else "")
    plan = None
    if metadata is not None and metadata.country_code is not None:
        code = metadata.country_code
        if phonenumbers.region_code_for_country_code(code) == region:
            plan = _tables().plans.get(code)

    def reason(example: str) -> str:
        return reason_of(lambda text: normalize_phone(text, region), example)

    return _Region(
        idd_literal=literal,
        idd_pattern=idd_pattern,
        plan=plan,
        too_short=reason("+39 1"),
        too_long=reason("+39 " + "1" * (_MAX_NSN + 1)),
        impossible=reason("+1 555 12"),
    )


def _slot(codes: pl.Series, lengths: pl.Series) -> pl.Series:
    return codes.cast(pl.Int64) * _LENGTH_SLOTS + lengths.clip(0, _LENGTH_SLOTS - 1)


def _matches(text: pl.Series, pattern: str | None) -> pl.Series:
    """Where `pattern` matches; a missing pattern (None or "") matches nothing."""
    if not pattern:
        return pl.repeat(False, len(text), dtype=pl.Boolean, eager=True)
    return text.str.contains(pattern).fill_null(False)


def _strip_prefix(number: pl.Series, plan: _Plan) -> tuple[pl.Series, pl.Series]:
    """`_maybe_strip_national_prefix_carrier_code`: (number after it, whether it stripped)."""
    assert plan.prefix is not None and plan.general is not None
    head = number.str.extract(plan.prefix.replace("^(?:", "^((?:", 1) + ")", 1)
    rest = number.str.slice(head.str.len_chars().fill_null(0))
    # If the original number was viable and the rest is not, the prefix stays.
    kept = _matches(number, plan.general) & ~_matches(rest, plan.general)
    stripped = head.is_not_null() & ~kept
    return pl.select(pl.when(stripped).then(rest).otherwise(number)).to_series(), stripped


def _settle(frame: pl.DataFrame, plan: _Plan, tables: _Tables) -> pl.DataFrame:
    """National numbers (column ``national``) of one code through the prefix rule of `parse`.

    Adds ``nsn`` (the national significant number) and ``certain`` (False where the outcome
    depends on something not mirrored here, or where the read-back check could change it).
    """
    number = frame["national"]
    if plan.prefix is None:
        return frame.with_columns(nsn=number, certain=pl.lit(True))
    if not plan.prefix_mirrored or plan.general is None:
        return frame.with_columns(nsn=number, certain=~_matches(number, plan.prefix))
    candidate, stripped = _strip_prefix(number, plan)
    codes = pl.repeat(plan.code, len(frame), dtype=pl.Int64, eager=True)
    keep = stripped & tables.keeps_stripped.gather(_slot(codes, candidate.str.len_chars()))
    nsn = pl.select(pl.when(keep).then(candidate).otherwise(number)).to_series()
    # `_phone_e164` parses a leading-zero result again; unless the prefix rule left the number
    # alone, that second parse may strip once more, so such rows go to the real function.
    reread = keep & nsn.str.starts_with("0")
    return frame.with_columns(nsn=nsn, certain=~reread)


def _international(frame: pl.DataFrame, tables: _Tables) -> pl.DataFrame:
    """Rows (``row``, ``digits`` after the ``+`` or prefix) with their calling code found.

    Rows whose digits start with 0, are shorter than 3 or start with no known code are dropped
    (left to Python): below 100, the first three digits say no code in `code_length`.
    """
    first3 = pl.col("digits").str.head(3).cast(pl.Int32, strict=False).fill_null(0)
    size = pl.lit(tables.code_length).gather(pl.col("first3")).cast(pl.Int32)
    divisor = pl.lit(pl.Series([1, 100, 10, 1], dtype=pl.Int32)).gather(pl.col("size"))
    return (
        frame.with_columns(first3=first3)
        .with_columns(size=size)
        .filter(pl.col("size") > 0)
        .select(
            "row",
            code=(pl.col("first3") // divisor).cast(pl.Int64),
            size="size",
            key="digits",
            step2=pl.lit(False),
        )
    )


def _national(frame: pl.DataFrame, plan: _Plan) -> pl.DataFrame:
    """Rows of digits read as national numbers of the default region, whose plan is `plan`.

    ``step2`` marks digits that start with the region's own code, which `parse` may take as one.
    """
    return frame.select(
        "row",
        code=pl.lit(plan.code, dtype=pl.Int64),
        size=pl.lit(len(plan.text), dtype=pl.Int32),
        key=pl.concat_str(pl.lit(plan.text), "digits"),
        step2=pl.col("digits").str.starts_with(plan.text),
    )


def _step2(frame: pl.DataFrame, plan: _Plan, tables: _Tables) -> pl.DataFrame:
    """`_maybe_extract_country_code` for national digits that start with the region's code."""
    if plan.general is None or (plan.prefix is not None and not plan.prefix_mirrored):
        return frame.with_columns(certain=pl.lit(False))
    digits = frame["national"]
    after = digits.str.slice(len(plan.text))
    potential = _strip_prefix(after, plan)[0] if plan.prefix is not None else after
    codes = pl.repeat(plan.code, len(frame), dtype=pl.Int64, eager=True)
    too_long = tables.too_long.gather(_slot(codes, digits.str.len_chars()))
    use = (~_matches(digits, plan.general) & _matches(potential, plan.general)) | too_long
    national = pl.select(pl.when(use).then(potential).otherwise(digits)).to_series()
    return frame.with_columns(national=national, certain=pl.lit(True))


def _candidates(text: pl.DataFrame, reading: _Region, tables: _Tables) -> pl.DataFrame:
    """Rows of `text` (``row``, ``text``) in a shape handled here, their calling code found.

    Columns: ``row``, ``code``, ``size`` (digits of the code), ``key`` (code and the national
    number `parse` goes on with, as one digit string) and ``step2`` (see `_national`).
    """
    canonical = pl.col("text").str.contains(r"^\+[0-9]+$").fill_null(False)
    text = text.with_columns(canonical=canonical)
    parts = [text.filter(pl.col("canonical")).select("row", digits=pl.col("text").str.slice(1))]
    shaped = (
        text.filter(~pl.col("canonical"))
        .filter(pl.col("text").str.contains(_SHAPE) & (pl.col("text").str.len_chars() <= _MAX_TEXT))
        .select(
            "row",
            plus=pl.col("text").str.contains("+", literal=True),
            digits=pl.col("text").str.replace_all("[^0-9]", ""),
        )
    )
    parts.append(shaped.filter(pl.col("plus")).drop("plus"))
    dialled = shaped.filter(~pl.col("plus") & (pl.col("digits").str.len_chars() >= 3))
    national = pl.lit(True)
    if reading.idd_literal is not None:
        idd = reading.idd_literal
        after = pl.col("digits").str.slice(len(idd))
        prefixed = pl.col("digits").str.starts_with(idd)
        abroad = prefixed & (after.str.len_chars() > 0) & ~after.str.starts_with("0")
        parts.append(dialled.filter(abroad).select("row", digits=after))
        # `parse` reads the prefix as national digits only when a 0 follows it.
        national = ~prefixed | after.str.starts_with("0")
    elif reading.idd_pattern:
        national = ~pl.col("digits").str.contains(reading.idd_pattern)
    rows = [_international(pl.concat(parts), tables)]
    if reading.plan is not None:
        rows.append(_national(dialled.filter(national), reading.plan))
    return pl.concat(rows)


def _hard(rows: pl.DataFrame, tables: _Tables) -> pl.DataFrame:
    """Rows the prefix rule may apply to, settled code by code (see `_settle`)."""
    rows = rows.with_columns(national=pl.col("key").str.slice(pl.col("size")))
    settled = []
    for (code,), group in rows.group_by("code"):
        plan = tables.plans[int(code)]
        direct = group.filter(~pl.col("step2"))
        if group["step2"].any():
            via_code = _step2(group.filter(pl.col("step2")), plan, tables)
            unsure = via_code.filter(~pl.col("certain")).with_columns(nsn="national")
            settled.append(unsure.select(_SETTLED))
            sure = via_code.filter(pl.col("certain")).select(direct.columns)
            direct = pl.concat([direct, sure])
        settled.append(_settle(direct, plan, tables).select(_SETTLED))
    schema = {"row": pl.UInt32, "code": pl.Int64, "national": pl.String, "nsn": pl.String}
    return pl.concat([pl.DataFrame(schema=schema | {"certain": pl.Boolean}), *settled])


def _outcome(
    national: pl.Expr, nsn: pl.Expr, code: pl.Expr, reading: _Region, tables: _Tables
) -> pl.Expr:
    """The refusal reason for a settled number (from the lengths of its national number before
    and after the prefix rule), or null when it is possible."""
    slot = code * _LENGTH_SLOTS + nsn.clip(0, _LENGTH_SLOTS - 1)
    return (
        pl.when(national < _MIN_NSN)
        .then(pl.lit(reading.too_short))
        .when(nsn > _MAX_NSN)
        .then(pl.lit(reading.too_long))
        .when(~pl.lit(tables.possible).gather(slot))
        .then(pl.lit(reading.impossible))
    )


def fast_phone(raw: pl.Series, region: str, junk: JunkConfig) -> Fast:
    """E.164 numbers for the rows of `raw` whose outcome is certain; see the module docstring."""
    tables = _tables()
    reading = _region(region)
    text = raw.str.strip_chars(" ")
    rows = _candidates(pl.DataFrame({"text": text}).with_row_index("row"), reading, tables)
    rows = rows.with_columns(hard=pl.col("key").str.contains(tables.may_strip) | pl.col("step2"))
    hard = _hard(rows.filter(pl.col("hard")), tables).filter(pl.col("certain"))
    # Where the prefix rule cannot apply, the national number is all that follows the code.
    length = pl.col("key").str.len_chars() - pl.col("size")
    easy = rows.lazy().filter(~pl.col("hard"))
    national, nsn = pl.col("national").str.len_chars(), pl.col("nsn").str.len_chars()
    settled = pl.concat(
        [
            easy.select(
                "row",
                reason=_outcome(length, length, pl.col("code"), reading, tables),
                value=pl.concat_str(pl.lit("+"), "key"),
            ),
            hard.lazy().select(
                "row",
                reason=_outcome(national, nsn, pl.col("code"), reading, tables),
                value=pl.concat_str(pl.lit("+"), pl.col("code").cast(pl.String), "nsn"),
            ),
        ]
    ).collect()
    row, reason, refused = settled["row"], settled["reason"], settled["reason"].is_not_null()
    # The junk rule reads the E.164 number, or for a refused one the trimmed raw text.
    subject = pl.select(pl.when(refused).then(text.gather(row)).otherwise(settled["value"]))
    dropped = junk_test(junk, "phone").mask(subject.to_series())
    value = pl.select(pl.when(~refused & ~dropped).then(settled["value"])).to_series()
    reason = pl.select(pl.when(~dropped).then(reason)).to_series()
    size = len(raw)
    return Fast(
        values=pl.repeat(None, size, dtype=pl.String, eager=True).scatter(row, value),
        problems=pl.repeat(None, size, dtype=pl.String, eager=True).scatter(row, reason),
        certain=pl.repeat(False, size, dtype=pl.Boolean, eager=True).scatter(row, True),
    )
