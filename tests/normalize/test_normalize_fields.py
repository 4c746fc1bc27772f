from __future__ import annotations

from datetime import date

import pytest

from idgraph.errors import FieldError
from idgraph.normalize.countries import normalize_country
from idgraph.normalize.fields import (
    clean_name,
    email_local_part,
    name_key,
    normalize_date,
    normalize_email,
    normalize_phone,
    normalize_postcode,
    normalize_text,
    parse_timestamp,
)

BLANKS = ["", " ", "\t\n ", "\u00a0"]


@pytest.mark.parametrize(
    "func",
    [
        normalize_email,
        normalize_phone,
        clean_name,
        normalize_date,
        normalize_postcode,
        normalize_country,
        normalize_text,
    ],
)
@pytest.mark.parametrize("blank", BLANKS)
def test_blank_is_none(func, blank):
    assert func(blank) is None


# --- email ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ann@shop.com", "ann@shop.com"),
        ("  Ann@Shop.COM  ", "ann@shop.com"),
        ("mailto:ann@shop.com", "ann@shop.com"),
        ("MAILTO:ann@shop.com?subject=hi", "ann@shop.com"),
        ("a+promo@x.com", "a@x.com"),
        ("a+promo+more@x.com", "a@x.com"),
        ("maria.rossi@libero.it", "maria.rossi@libero.it"),
        ("Maria.Rossi+news@gmail.com", "mariarossi@gmail.com"),
        ("m.a.r.i.a@googlemail.com", "maria@gmail.com"),
        ("first_last-x@sub.example.co.uk", "first_last-x@sub.example.co.uk"),
        ("o'brien@shop.ie", "o'brien@shop.ie"),
        ("user@xn--bcher-kva.ch", "user@xn--bcher-kva.ch"),
        ("anna@müller.de", "anna@müller.de"),
    ],
)
def test_normalize_email(raw, expected):
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "ann",
        "ann.shop.com",
        "ann@shop",
        "ann@@shop.com",
        "ann@shop@x.com",
        "an n@shop.com",
        "ann@sh op.com",
        "@shop.com",
        "+tag@shop.com",
        "...@gmail.com",
        "ann@.com",
        "ann@shop.",
        "ann@shop..com",
        "ann@-shop.com",
        "ann@shop_x.com",
        "<ann@shop.com>",
        "ann,bob@shop.com",
        "ann@shop.com;bob@shop.com",
        "ann\x00@shop.com",
    ],
)
def test_normalize_email_rejects(raw):
    with pytest.raises(FieldError) as info:
        normalize_email(raw)
    assert info.value.field == "email"


@pytest.mark.parametrize(
    ("func", "raw"),
    [
        (normalize_email, "zqsecret@@zqhost.com"),
        (normalize_phone, "zqsecret"),
        (clean_name, "zq\x00secret"),
        (normalize_date, "zqsecret"),
        (normalize_postcode, "zq/secret"),
        (normalize_country, "zqsecret"),
        (normalize_text, "zq\x00secret"),
        (parse_timestamp, "zqsecret"),
    ],
)
def test_reasons_do_not_echo_the_value(func, raw):
    with pytest.raises(FieldError) as info:
        func(raw)
    assert "secret" not in str(info.value)
    assert info.value.reason


@pytest.mark.parametrize("raw", ["mailto:", " MAILTO: ", "mailto:?subject=hi"])
def test_empty_mailto_is_blank(raw):
    assert normalize_email(raw) is None


@pytest.mark.parametrize(
    ("email", "local"),
    [("ann@shop.com", "ann"), ("maria.rossi@libero.it", "maria.rossi"), ("x@y.z", "x")],
)
def test_email_local_part(email, local):
    assert email_local_part(email) == local


# --- phone ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(415) 555-2671", "US", "+14155552671"),
        ("415.555.2671", "US", "+14155552671"),
        ("+1 415 555 2671", "IT", "+14155552671"),
        ("001 415 555 2671", "IT", "+14155552671"),
        ("06 1234 5678", "IT", "+390612345678"),
        ("+39 06 1234 5678", "US", "+390612345678"),
        ("347 123 4567", "IT", "+393471234567"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("+44 (0)20 7946 0958", "US", "+442079460958"),
        ("030 123456", "DE", "+4930123456"),
        ("1-800-FLOWERS", "US", "+18003569377"),
        ("415-555-2671 ext. 12", "US", "+14155552671"),
        ("  +14155552671  ", "US", "+14155552671"),
    ],
)
def test_normalize_phone(raw, region, expected):
    assert normalize_phone(raw, region) == expected


def test_normalize_phone_default_region_is_us():
    assert normalize_phone("4155552671") == "+14155552671"


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("12", "US"),
        ("abc", "US"),
        ("+", "US"),
        ("phone", "US"),
        ("+1 415 555 2671 999 999", "US"),
        ("+999 1234 5678", "US"),
        ("06 12", "IT"),
        ("1", "GB"),
        ("000000", "DE"),
    ],
)
def test_normalize_phone_rejects(raw, region):
    with pytest.raises(FieldError) as info:
        normalize_phone(raw, region)
    assert info.value.field == "phone"


# --- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("MARIA  ROSSI", "Maria Rossi"),
        ("maria rossi", "Maria Rossi"),
        ("o'brien", "O'Brien"),
        ("O'BRIEN", "O'Brien"),
        ("McDonald", "McDonald"),
        ("van Dijk", "van Dijk"),
        ("  Anna\tMaria ", "Anna Maria"),
        ("jean-luc", "Jean-Luc"),
        ("JOSÉ", "José"),
        ("Jose\u0301", "José"),
        ("ÅSA", "Åsa"),
        ("王芳", "王芳"),
        ("x", "X"),
    ],
)
def test_clean_name(raw, expected):
    assert clean_name(raw) == expected


def test_clean_name_returns_nfc():
    assert clean_name("Jose\u0301") == "Jos\u00e9"


@pytest.mark.parametrize("raw", ["123", "-", "...", "12 34", "Ann\x07", "Ann\u200bMarie"])
def test_clean_name_rejects(raw):
    with pytest.raises(FieldError) as info:
        clean_name(raw)
    assert info.value.field == "name"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("José  O'Neil", "jose oneil"),
        ("JOSÉ O’NEIL", "jose oneil"),
        ("Smith-Jones", "smith jones"),
        ("J.R.R. Tolkien", "jrr tolkien"),
        ("Groß", "gross"),
        ("Søren Ærø", "soren aero"),
        ("Łukasz Żółć", "lukasz zolc"),
        ("Œuvre", "oeuvre"),
        ("Þór Đuro", "thor duro"),
        ("Müller, Hans", "muller hans"),
        ("François", "francois"),
        ("Ñoño", "nono"),
        ("Dvořák", "dvorak"),
        ("ﬁfi", "fifi"),
        ("  ", ""),
        ("Иван", "иван"),
        ("Paral·lel", "parallel"),
        ("Ŀuís", "luis"),
        ("Ŋgozi", "ngozi"),
        ("ǾRSTED", "orsted"),
    ],
)
def test_name_key(raw, expected):
    assert name_key(raw) == expected


# --- dates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "order", "expected"),
    [
        ("1980-05-04", "DMY", "1980-05-04"),
        ("1980/05/04", "DMY", "1980-05-04"),
        ("1980.05.04", "MDY", "1980-05-04"),
        ("1980-5-4", "DMY", "1980-05-04"),
        ("19800504", "DMY", "1980-05-04"),
        ("04/05/1980", "DMY", "1980-05-04"),
        ("04/05/1980", "MDY", "1980-04-05"),
        ("4-5-1980", "DMY", "1980-05-04"),
        ("4.5.1980", "MDY", "1980-04-05"),
        ("25/12/1990", "DMY", "1990-12-25"),
        ("12/25/1990", "MDY", "1990-12-25"),
        ("1980-05-04T10:00:00Z", "DMY", "1980-05-04"),
        ("1980-05-04T23:30:00+02:00", "DMY", "1980-05-04"),
        ("1980-05-04 10:00", "DMY", "1980-05-04"),
        ("1980-05-04T10:00:00.123456", "MDY", "1980-05-04"),
        ("4 May 1980", "DMY", "1980-05-04"),
        ("4 may 1980", "MDY", "1980-05-04"),
        ("4th May 1980", "DMY", "1980-05-04"),
        ("4th of May 1980", "DMY", "1980-05-04"),
        ("04-May-1980", "DMY", "1980-05-04"),
        ("May 4, 1980", "DMY", "1980-05-04"),
        ("May 4 1980", "MDY", "1980-05-04"),
        ("Sept. 4, 1980", "DMY", "1980-09-04"),
        ("December 31, 1999", "DMY", "1999-12-31"),
        ("29/02/2000", "DMY", "2000-02-29"),
        ("1900-01-01", "DMY", "1900-01-01"),
        ("  1980-05-04  ", "DMY", "1980-05-04"),
    ],
)
def test_normalize_date(raw, order, expected):
    assert normalize_date(raw, order=order) == expected


def test_normalize_date_default_order_is_day_first():
    assert normalize_date("01/02/2000") == "2000-02-01"


@pytest.mark.parametrize(
    ("raw", "order"),
    [
        ("31/02/1980", "DMY"),
        ("29/02/1999", "DMY"),
        ("13/25/1980", "MDY"),
        ("25/12/1990", "MDY"),
        ("1980-13-01", "DMY"),
        ("1980-00-10", "DMY"),
        ("19801301", "DMY"),
        ("1899-12-31", "DMY"),
        ("0000-00-00", "DMY"),
        ("2999-01-01", "DMY"),
        ("04/05/80", "DMY"),
        ("80-05-04", "DMY"),
        ("4 Mayo 1980", "DMY"),
        ("Foo 4, 1980", "DMY"),
        ("1980-05-04T25", "DMY"),
        ("1980-05", "DMY"),
        ("yesterday", "DMY"),
        ("1980/05-04", "DMY"),
        ("32 May 1980", "DMY"),
    ],
)
def test_normalize_date_rejects(raw, order):
    with pytest.raises(FieldError) as info:
        normalize_date(raw, order=order)
    assert info.value.field == "date"


@pytest.mark.parametrize(
    ("raw", "ok"), [("2020-06-01", True), ("2020-06-02", False), ("02/06/2020", False)]
)
def test_normalize_date_future_is_relative_to_today(raw, ok):
    today = date(2020, 6, 1)
    if ok:
        assert normalize_date(raw, today=today) == "2020-06-01"
    else:
        with pytest.raises(FieldError, match="future"):
            normalize_date(raw, today=today)


# --- address -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("sw1a 1aa", "SW1A 1AA"),
        (" sw1a   1aa ", "SW1A 1AA"),
        ("SW1A1AA", "SW1A1AA"),
        ("00184", "00184"),
        ("12345-6789", "12345-6789"),
        ("k1a 0b1", "K1A 0B1"),
        ("1234\tab", "1234 AB"),
    ],
)
def test_normalize_postcode(raw, expected):
    assert normalize_postcode(raw) == expected


@pytest.mark.parametrize("raw", ["SW1A/1AA", "1234.5", "#123", "-", "- -", "1234567890123", "ü12"])
def test_normalize_postcode_rejects(raw):
    with pytest.raises(FieldError) as info:
        normalize_postcode(raw)
    assert info.value.field == "postcode"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("IT", "IT"),
        ("it", "IT"),
        ("ITA", "IT"),
        ("Italy", "IT"),
        ("ITALIA", "IT"),
        ("Germany", "DE"),
        ("Deutschland", "DE"),
        ("DEU", "DE"),
        ("France", "FR"),
        ("Spain", "ES"),
        ("España", "ES"),
        ("espana", "ES"),
        ("UK", "GB"),
        ("U.K.", "GB"),
        ("United Kingdom", "GB"),
        ("Great Britain", "GB"),
        ("GB", "GB"),
        ("GBR", "GB"),
        ("USA", "US"),
        ("U.S.A.", "US"),
        ("U S A", "US"),
        ("United States", "US"),
        ("united  states of america", "US"),
        ("US", "US"),
        ("Österreich", "AT"),
        ("Schweiz", "CH"),
        ("the Netherlands", "NL"),
        ("Nederland", "NL"),
        ("Türkiye", "TR"),
        ("Polska", "PL"),
        ("Sverige", "SE"),
        ("JP", "JP"),
        ("xk", "XK"),
        ("  fr ", "FR"),
    ],
)
def test_normalize_country(raw, expected):
    assert normalize_country(raw) == expected


@pytest.mark.parametrize("raw", ["Atlantis", "XX", "ZZZ", "123", "Ital", "AC", "-"])
def test_normalize_country_rejects(raw):
    with pytest.raises(FieldError) as info:
        normalize_country(raw)
    assert info.value.field == "country"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Via   Roma 12 ", "Via Roma 12"),
        ("Piazza\tSan Marco", "Piazza San Marco"),
        ("Sao Paulo", "Sao Paulo"),
        ("Sa\u0303o Paulo", "S\u00e3o Paulo"),
        ("MILANO", "MILANO"),
    ],
)
def test_normalize_text(raw, expected):
    assert normalize_text(raw) == expected


@pytest.mark.parametrize("raw", ["Via\x00Roma", "Milano\x1b", "Ro\u200bma"])
def test_normalize_text_rejects(raw):
    with pytest.raises(FieldError) as info:
        normalize_text(raw)
    assert info.value.field == "text"


# --- timestamps ----------------------------------------------------------------------------

MAY_4_2024_10H = 1_714_816_800_000


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-05-04T10:00:00Z", MAY_4_2024_10H),
        ("2024-05-04T10:00:00.000Z", MAY_4_2024_10H),
        ("2024-05-04T10:00:00.123Z", MAY_4_2024_10H + 123),
        ("2024-05-04T12:00:00+02:00", MAY_4_2024_10H),
        ("2024-05-04T05:00:00-05:00", MAY_4_2024_10H),
        ("2024-05-04T10:00:00", MAY_4_2024_10H),
        ("2024-05-04 10:00:00", MAY_4_2024_10H),
        ("2024-05-04", MAY_4_2024_10H - 10 * 3_600_000),
        (" 2024-05-04T10:00:00Z ", MAY_4_2024_10H),
        (1_714_816_800, MAY_4_2024_10H),
        (1_714_816_800.5, MAY_4_2024_10H + 500),
        (MAY_4_2024_10H, MAY_4_2024_10H),
        (float(MAY_4_2024_10H), MAY_4_2024_10H),
        ("1714816800", MAY_4_2024_10H),
        ("1714816800000", MAY_4_2024_10H),
        ("1714816800.25", MAY_4_2024_10H + 250),
        (0, 0),
    ],
)
def test_parse_timestamp(raw, expected):
    result = parse_timestamp(raw)
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "yesterday",
        "2024-13-01T00:00:00Z",
        "2024-05-04T10:00:00 CEST",
        "04/05/2024",
        -1,
        "-5",
        "1969-12-31T23:59:59Z",
        float("nan"),
        float("inf"),
        10**14,
        "1714816800000000",
        True,
    ],
)
def test_parse_timestamp_rejects(raw):
    with pytest.raises(FieldError) as info:
        parse_timestamp(raw)
    assert info.value.field == "timestamp"


def test_country_table_is_consistent():
    from idgraph.normalize.countries import _ALPHA2, _COUNTRY_ROWS

    seen: dict[str, str] = {}
    for alpha2, alpha3, *names in _COUNTRY_ROWS:
        assert alpha2 in _ALPHA2
        assert len(alpha3) == 3
        for alias in (alpha3, *names):
            key = name_key(alias)
            assert seen.setdefault(key, alpha2) == alpha2, f"{alias} names two countries"
            assert normalize_country(alias) == alpha2
    assert len(_COUNTRY_ROWS) >= 40
