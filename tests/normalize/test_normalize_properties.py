"""Property tests: every normalizer is idempotent on the values it accepts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idgraph.errors import FieldError
from idgraph.normalize.countries import normalize_country
from idgraph.normalize.fields import (
    clean_name,
    name_key,
    normalize_date,
    normalize_email,
    normalize_phone,
    normalize_postcode,
    normalize_text,
    parse_timestamp,
)
from idgraph.normalize.nicknames import canonical_first_name

settings.register_profile("normalize", deadline=None, max_examples=300)
PROFILE = settings.get_profile("normalize")

LATIN = st.characters(
    codec="utf-8",
    categories=("L", "M", "N", "P", "Zs"),
    max_codepoint=0x17F,
    exclude_characters="µ",  # the micro sign is a Greek letter, kept as such
)
LATIN_TEXT = st.text(LATIN, max_size=30)
WORDISH = st.text(st.sampled_from("abcXYZ.-_+'éÅ 09"), min_size=1, max_size=10)


def _check_idempotent(func: Callable[[str], str | None], raw: str) -> None:
    try:
        once = func(raw)
    except FieldError:
        return
    if once is None:
        return
    assert func(once) == once


emails = st.builds(
    lambda local, domain, tld, pad: f"{pad}{local}@{domain}.{tld}{pad}",
    WORDISH,
    st.one_of(st.sampled_from(["gmail", "googlemail", "GMail", "shop", "x-y"]), WORDISH),
    st.sampled_from(["com", "it", "co.uk", "COM", "de"]),
    st.sampled_from(["", " ", "\t"]),
)


@PROFILE
@given(st.one_of(emails, st.text(max_size=30)))
def test_email_idempotent(raw):
    _check_idempotent(normalize_email, raw)


phones = st.builds(
    lambda prefix, digits, sep: prefix + sep.join(digits),
    st.sampled_from(["", "+", "+1 ", "+39 ", "+44 (0)", "00", "0"]),
    st.lists(st.text("0123456789", min_size=1, max_size=4), min_size=1, max_size=5),
    st.sampled_from(["", " ", "-", "."]),
)


@PROFILE
@given(st.one_of(phones, st.text(max_size=20)), st.sampled_from(["US", "IT", "GB", "DE", "FR"]))
def test_phone_idempotent_in_any_region(raw, region):
    try:
        once = normalize_phone(raw, region)
    except FieldError:
        return
    if once is not None:
        assert once.startswith("+")
        assert normalize_phone(once, region) == once
        assert normalize_phone(once, "US") == once


@PROFILE
@given(st.one_of(LATIN_TEXT, st.text(max_size=30)))
def test_clean_name_idempotent(raw):
    _check_idempotent(clean_name, raw)


@PROFILE
@given(st.text(max_size=30))
def test_name_key_idempotent_and_trimmed(raw):
    key = name_key(raw)
    assert name_key(key) == key
    assert key == key.strip()
    assert "  " not in key


@PROFILE
@given(LATIN_TEXT)
def test_name_key_of_latin_text_is_lower_case_ascii(raw):
    key = name_key(raw)
    assert key.isascii()
    assert key == key.lower()
    assert all(ch.isalnum() or ch == " " for ch in key)


@PROFILE
@given(st.text(max_size=20))
def test_canonical_first_name_idempotent(raw):
    key = name_key(raw)
    once = canonical_first_name(key)
    assert canonical_first_name(once) == once


DATE_FORMATS = [
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y%m%d",
    "%d/%m/%Y",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%Y-%m-%dT%H:%M:%S",
    "%d %B %Y",
    "%B %d, %Y",
    "%d %b %Y",
]


@PROFILE
@given(st.dates(min_value=date(1900, 1, 1), max_value=date.today()), st.sampled_from(DATE_FORMATS))
def test_dates_read_back_in_every_format(value, fmt):
    raw = datetime.combine(value, datetime.min.time()).strftime(fmt)
    assert normalize_date(raw, order="DMY") == value.isoformat()
    assert normalize_date(value.isoformat(), order="MDY") == value.isoformat()


@PROFILE
@given(
    st.text(st.sampled_from("0123456789/-.T: ZMayJun"), max_size=20),
    st.sampled_from(["DMY", "MDY"]),
)
def test_date_idempotent(raw, order):
    _check_idempotent(lambda text: normalize_date(text, order=order), raw)


@pytest.mark.parametrize("func", [normalize_postcode, normalize_text, normalize_country])
@PROFILE
@given(raw=st.one_of(st.text(max_size=15), st.text("abcsw1 A-Z9", max_size=10)))
def test_address_normalizers_idempotent(func, raw):
    _check_idempotent(func, raw)


@PROFILE
@given(
    st.datetimes(
        min_value=datetime(1974, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.one_of(
            st.none(),
            st.just(UTC),
            st.builds(
                lambda minutes: __import__("datetime").timezone(timedelta(minutes=minutes)),
                st.integers(-12 * 60, 14 * 60),
            ),
        ),
    )
)
def test_timestamp_idempotent_and_matches_datetime(moment):
    millis = parse_timestamp(moment.isoformat())
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    assert millis == (aware - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    assert parse_timestamp(millis) == millis
    assert parse_timestamp(str(millis)) == millis


@PROFILE
@given(st.integers(min_value=0, max_value=10**11 - 1))
def test_epoch_seconds_become_milliseconds(seconds):
    assert parse_timestamp(seconds) == seconds * 1000
