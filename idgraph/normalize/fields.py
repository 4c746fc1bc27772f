"""One normalizer per field kind: raw input string in, canonical string (or None) out.

Every function here is pure and follows one contract, so readers and the columnar normalizer
(`idgraph.normalize.columns`) can treat them alike:

- a blank value (empty or only whitespace) returns ``None``: missing is not an error;
- a usable value returns its canonical form, and normalizing that form again returns it unchanged
  (idempotent, checked by property tests);
- an unusable value raises :class:`idgraph.errors.FieldError` whose reason says what was expected.
  Reasons never echo the raw value, which may be personal data.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Literal

import phonenumbers

from idgraph.errors import FieldError

__all__ = [
    "clean_name",
    "email_local_part",
    "name_key",
    "normalize_date",
    "normalize_email",
    "normalize_phone",
    "normalize_postcode",
    "normalize_text",
    "parse_timestamp",
]

DateOrder = Literal["DMY", "MDY"]


def _collapse(raw: str) -> str:
    return " ".join(raw.split())


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in text)


# --- email ---------------------------------------------------------------------------------

_GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
_EMAIL_FORBIDDEN = re.compile(r"[\s<>()\[\],;:\"\\]")
_DOMAIN_LABEL = re.compile(r"[^\W_](?:(?:[^\W_]|-)*[^\W_])?")


def normalize_email(raw: str) -> str | None:
    """Canonical email address, so one mailbox written several ways is one identifier.

    Lower-cases, strips a ``mailto:`` prefix, drops plus-addressing tags (``a+promo@x.com`` is
    delivered to ``a@x.com``) and, for Gmail, the dots Gmail ignores in the local part; the
    ``googlemail.com`` alias becomes ``gmail.com``.

    Args:
        raw: The email as read from the source.

    Returns:
        The canonical address, or None when `raw` is blank.

    Raises:
        FieldError: (field ``email``) when the value is not an address (no single ``@``,
            spaces or brackets inside, a domain without a dot).

    Examples:
        >>> normalize_email("  Mailto:J.Doe+News@GoogleMail.com ")
        'jdoe@gmail.com'
        >>> normalize_email("") is None
        True
    """
    text = raw.strip().lower()
    if text.startswith("mailto:"):
        text = text[len("mailto:") :].split("?", 1)[0].strip()
    if not text:
        return None
    if text.count("@") != 1:
        raise FieldError("email", "not an email address (expected exactly one '@')")
    if _EMAIL_FORBIDDEN.search(text) or _has_control(text):
        raise FieldError("email", "not an email address (contains spaces or forbidden characters)")
    local, _, domain = text.partition("@")
    local = local.split("+", 1)[0]
    if domain in _GMAIL_DOMAINS:
        local = local.replace(".", "")
        domain = "gmail.com"
    if not local:
        raise FieldError("email", "not an email address (empty local part before '@')")
    labels = domain.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels):
        raise FieldError(
            "email", "not an email address (expected a domain such as example.com after '@')"
        )
    return f"{local}@{domain}"


def email_local_part(email: str) -> str:
    """The part before ``@`` of a normalized email (the blocking and fuzzy-compare key).

    Examples:
        >>> email_local_part("maria.rossi@example.it")
        'maria.rossi'
    """
    return email.rpartition("@")[0]


# --- phone ---------------------------------------------------------------------------------


def normalize_phone(raw: str, default_region: str = "US") -> str | None:
    """Phone number in E.164 (``+14155552671``), the one form all sources can agree on.

    Args:
        raw: The number as read; national numbers are read in `default_region`.
        default_region: ISO 3166 alpha-2 region for numbers written without ``+`` country code.

    Returns:
        The E.164 number, or None when `raw` is blank.

    Raises:
        FieldError: (field ``phone``) when the value cannot be parsed or has an impossible
            length for its country.

    Examples:
        >>> normalize_phone("(415) 555-2671")
        '+14155552671'
        >>> normalize_phone("06 1234 5678", default_region="IT")
        '+390612345678'
    """
    text = raw.strip()
    if not text:
        return None
    return _phone_e164(text, default_region)


@lru_cache(maxsize=1 << 16)
def _phone_e164(text: str, region: str) -> str:
    """Parse and format one number; cached, since parsing dominates normalization time."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise FieldError(
            "phone", f"not a phone number (expected digits, e.g. +14155552671): {exc.error_type!r}"
        ) from None
    if not phonenumbers.is_possible_number(number):
        raise FieldError(
            "phone", f"not a possible phone number for its country (read in region {region})"
        )
    result: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if number.italian_leading_zero:
        # Some all-zero national numbers lose a digit when read back from E.164; refusing them
        # keeps the output a fixed point, which matching relies on.
        again = phonenumbers.parse(result, None)
        if phonenumbers.format_number(again, phonenumbers.PhoneNumberFormat.E164) != result:
            raise FieldError("phone", "not a consistent phone number (changes when read back)")
    return result


# --- names ---------------------------------------------------------------------------------

_LATIN_LETTER_NAME = re.compile(
    r"LATIN (?:SMALL|CAPITAL) LETTER (?:[A-Z]+ )*?([A-Z]{1,2})(?: WITH .*)?"
)


def _latin_folds() -> dict[int, str]:
    """Base letters for Latin letters that NFKD leaves alone, read from their Unicode names.

    "LATIN SMALL LETTER O WITH STROKE" folds to "o", "LATIN SMALL LETTER AE" to "ae"; the few
    letters whose name gives no base letter (thorn, eth, eng, the oe ligature) are listed by hand.
    """
    folds: dict[int, str] = {}
    for code in range(0xC0, 0x250):
        ch = chr(code)
        match = _LATIN_LETTER_NAME.fullmatch(unicodedata.name(ch, ""))
        if match and not unicodedata.decomposition(ch):
            folds[code] = match[1].lower()
    folds.update(
        {
            ord(k): v
            for k, v in {"þ": "th", "ð": "d", "ĸ": "k", "ŋ": "n", "œ": "oe", "ß": "ss"}.items()
        }
    )
    return folds


#: Letters that NFKD does not decompose into a base letter plus accents.
_LETTER_FOLDS = _latin_folds()
#: Apostrophes and dots vanish in a name key ("O'Neil" == "ONeil", "J.R." == "JR", "Col·l").
_DROPPED_PUNCT = frozenset("'’‘`´ʼ.·")


def clean_name(raw: str) -> str | None:
    """A person's name for display: NFC, single spaces, and shouting or lower case title-cased.

    Mixed-case input is kept as written, since the source knew best ("McDonald", "van Dijk").

    Raises:
        FieldError: (field ``name``) when the value has control characters or no letter at all.

    Examples:
        >>> clean_name("MARIA   ROSSI")
        'Maria Rossi'
        >>> clean_name("o'brien"), clean_name("McDonald")
        ("O'Brien", 'McDonald')
    """
    text = _collapse(unicodedata.normalize("NFC", raw))
    if not text:
        return None
    if _has_control(text):
        raise FieldError("name", "not a name (contains control characters)")
    if not any(ch.isalpha() for ch in text):
        raise FieldError("name", "not a name (expected letters)")
    if text.isupper() or text.islower():
        text = unicodedata.normalize("NFC", text.title())
    return text


def _name_key_once(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.casefold()).translate(_LETTER_FOLDS)
    out: list[str] = []
    for ch in folded:
        category = unicodedata.category(ch)
        if category.startswith("M") or ch in _DROPPED_PUNCT:
            continue
        if category[0] in "LN":
            out.append(ch)
        else:
            out.append(" ")
    return _collapse("".join(out))


@lru_cache(maxsize=1 << 17)
def name_key(name: str) -> str:
    """Match key of a name: accents stripped, case-folded, punctuation dropped, single spaces.

    Apostrophes and dots are removed (``O'Neil`` -> ``oneil``, ``J.R.`` -> ``jr``) so that
    sources that drop them still agree; hyphens and other punctuation become a space
    (``Smith-Jones`` -> ``smith jones``). Letters NFKD cannot split are folded by a small table
    (``ø`` -> ``o``, ``æ`` -> ``ae``); ``ß`` becomes ``ss`` through case folding. Latin-script
    names end up ASCII; other scripts are kept, case-folded.

    Examples:
        >>> name_key("José  O'Neil")
        'jose oneil'
        >>> name_key("Søren Groß-Müller")
        'soren gross muller'
    """
    # Cached: names, cities and streets repeat across records, and every run re-derives the
    # match view of each record it resolves.
    key = _name_key_once(name)
    # Case folding a few scripts (e.g. Cherokee) yields letters that fold again; settle them.
    for _ in range(3):
        again = _name_key_once(key)
        if again == key:
            break
        key = again
    return key


# --- dates ---------------------------------------------------------------------------------

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_YEAR_FIRST = re.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_YEAR_LAST = re.compile(r"(\d{1,2})([-/.])(\d{1,2})\2(\d{4})")
_ISO_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)?",
    re.IGNORECASE,
)
_DAY_MONTH_NAME = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?(?:\s+of)?[\s-]+([a-z]+)\.?,?[\s-]+(\d{4})")
_MONTH_NAME_DAY = re.compile(r"([a-z]+)\.?[\s-]+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})")
_DATE_EXPECTED = (
    "not a date (expected YYYY-MM-DD, YYYYMMDD, DD/MM/YYYY or MM/DD/YYYY as configured, "
    "an ISO datetime, or '4 May 1980')"
)
_MIN_YEAR = 1900


def _date_parts(text: str, order: DateOrder) -> tuple[int, int, int] | None:
    """(year, month, day) read from the first format that fits, or None."""
    if m := _YEAR_FIRST.fullmatch(text) or _COMPACT.fullmatch(text):
        groups = m.groups()
        return int(groups[0]), int(groups[-2]), int(groups[-1])
    if m := _ISO_DATETIME.fullmatch(text):
        return int(m[1]), int(m[2]), int(m[3])
    if m := _YEAR_LAST.fullmatch(text):
        first, second, year = int(m[1]), int(m[3]), int(m[4])
        return (year, second, first) if order == "DMY" else (year, first, second)
    lowered = text.lower()
    if (m := _DAY_MONTH_NAME.fullmatch(lowered)) and m[2] in _MONTHS:
        return int(m[3]), _MONTHS[m[2]], int(m[1])
    if (m := _MONTH_NAME_DAY.fullmatch(lowered)) and m[1] in _MONTHS:
        return int(m[3]), _MONTHS[m[1]], int(m[2])
    return None


def normalize_date(raw: str, *, order: DateOrder = "DMY", today: date | None = None) -> str | None:
    """A calendar date (e.g. a birth date) as ISO ``YYYY-MM-DD``.

    Accepts ``YYYY-MM-DD`` (also with ``/`` or ``.``), ``YYYYMMDD``, day-first or month-first
    numeric dates (``order`` says which, since ``04/05/1980`` is ambiguous), ISO datetimes (the
    date part is kept as written, not shifted to UTC) and English month names
    (``4 May 1980``, ``May 4, 1980``). Two-digit years are refused as ambiguous.

    Args:
        raw: The date as read.
        order: How to read ``NN/NN/YYYY``: ``"DMY"`` (most of the world) or ``"MDY"`` (US).
        today: The latest acceptable date; defaults to the current date.

    Raises:
        FieldError: (field ``date``) for an unknown format, an impossible date (``1980-02-30``),
            a year before 1900, or a date in the future.

    Examples:
        >>> normalize_date("04/05/1980"), normalize_date("04/05/1980", order="MDY")
        ('1980-05-04', '1980-04-05')
        >>> normalize_date("May 4, 1980")
        '1980-05-04'
    """
    text = _collapse(raw)
    if not text:
        return None
    parts = _date_parts(text, order)
    if parts is None:
        raise FieldError("date", _DATE_EXPECTED)
    year, month, day = parts
    try:
        value = date(year, month, day)
    except ValueError:
        raise FieldError("date", "not a valid calendar date (day or month out of range)") from None
    if year < _MIN_YEAR:
        raise FieldError("date", f"implausible date (year before {_MIN_YEAR})")
    if value > (today or date.today()):
        raise FieldError("date", "implausible date (in the future)")
    return value.isoformat()


# --- address -------------------------------------------------------------------------------

_POSTCODE = re.compile(r"[A-Z0-9 -]+")
_POSTCODE_MAX = 12


def normalize_postcode(raw: str) -> str | None:
    """A postal code, upper-cased with single inner spaces (``sw1a  1aa`` -> ``SW1A 1AA``).

    Country-agnostic on purpose: it does not add or remove spaces inside a code.

    Raises:
        FieldError: (field ``postcode``) for characters other than ASCII letters, digits, space
            and dash, for a value without any letter or digit, or one longer than 12 characters.

    Examples:
        >>> normalize_postcode(" sw1a   1aa ")
        'SW1A 1AA'
    """
    text = _collapse(raw).upper()
    if not text:
        return None
    if not _POSTCODE.fullmatch(text):
        raise FieldError(
            "postcode", "not a postcode (expected letters, digits, spaces or dashes only)"
        )
    if not any(ch.isalnum() for ch in text):
        raise FieldError("postcode", "not a postcode (expected letters or digits)")
    if len(text) > _POSTCODE_MAX:
        raise FieldError("postcode", f"not a postcode (longer than {_POSTCODE_MAX} characters)")
    return text


def normalize_text(raw: str) -> str | None:
    """Free text such as a street or city: NFC, single spaces, trimmed; case is kept.

    Raises:
        FieldError: (field ``text``) when the value contains control characters.

    Examples:
        >>> normalize_text("  Via   Roma\\t12 ")
        'Via Roma 12'
    """
    text = _collapse(unicodedata.normalize("NFC", raw))
    if not text:
        return None
    if _has_control(text):
        raise FieldError("text", "not text (contains control characters)")
    return text


# --- timestamps ----------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Below this a number is epoch seconds (up to year 5138); at or above it, milliseconds.
_SECONDS_LIMIT = 100_000_000_000
#: At or above this a number would be microseconds or nanoseconds: refused as ambiguous.
_MILLIS_LIMIT = 100_000_000_000_000
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
_TIMESTAMP_EXPECTED = (
    "not a timestamp (expected ISO 8601 such as 2024-05-04T10:00:00Z, or epoch seconds or "
    "milliseconds)"
)


def _from_number(value: float | int) -> int:
    if isinstance(value, float) and not math.isfinite(value):
        raise FieldError("timestamp", _TIMESTAMP_EXPECTED)
    if value < 0:
        raise FieldError("timestamp", "implausible timestamp (before 1970)")
    if value >= _MILLIS_LIMIT:
        raise FieldError("timestamp", "implausible timestamp (too large for epoch milliseconds)")
    if value < _SECONDS_LIMIT:
        value = value * 1000
    return round(value)


def parse_timestamp(raw: str | int | float) -> int:
    """Epoch milliseconds (UTC) from an ISO 8601 string or an epoch number.

    Naive ISO datetimes are taken as UTC. Numbers (or numeric strings) below 1e11 are epoch
    seconds, from 1e11 on epoch milliseconds: the two ranges cannot be confused for dates after
    1973-03-03, which is why a millisecond value is only read back as itself from then on.

    Raises:
        FieldError: (field ``timestamp``) for anything else, negative or non-finite numbers,
            or numbers of 1e14 and more (microseconds are not guessed).

    Examples:
        >>> parse_timestamp("2024-05-04T10:00:00Z")
        1714816800000
        >>> parse_timestamp(1714816800), parse_timestamp("1714816800000")
        (1714816800000, 1714816800000)
    """
    if isinstance(raw, bool):
        raise FieldError("timestamp", _TIMESTAMP_EXPECTED)
    if isinstance(raw, int | float):
        return _from_number(raw)
    text = raw.strip()
    if _NUMBER.fullmatch(text):
        return _from_number(float(text) if "." in text else int(text))
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise FieldError("timestamp", _TIMESTAMP_EXPECTED) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    millis = (moment - _EPOCH) // timedelta(milliseconds=1)
    if millis < 0:
        raise FieldError("timestamp", "implausible timestamp (before 1970)")
    return millis
