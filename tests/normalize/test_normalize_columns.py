"""Columnar normalization against its oracle, the per-value normalizers, value by value."""

from __future__ import annotations

import doctest
import importlib
import random
from functools import cache
from pathlib import Path

import phonenumbers
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.generate import run as generate_files
from idgraph.errors import FieldError
from idgraph.normalize._columnar.phone import fast_phone
from idgraph.normalize.columns import (
    COLUMN_NAMES,
    fallback_share,
    normalize_column,
    normalize_frame,
)
from idgraph.normalize.junk import DEFAULT_JUNK, JunkConfig, KindJunk
from idgraph.normalize.record import NormalizeOptions, _normalize_value
from idgraph.types import FIELD_NAMES

DEFAULT = NormalizeOptions()
TRIMMED = ("customer_id", "user_id", "anonymous_id", "device_id")
CUSTOM_JUNK = JunkConfig(
    kinds={
        "*": KindJunk(values=frozenset({"Anon", "Straße 0"}), patterns=("x{3,}",)),
        "email": KindJunk(
            values=frozenset({"info@shop.it"}),
            patterns=(r"[^@]+@shop\.example", r"(?=.*\d{4})\w+@mail\.com", r"(.)\1+@.*"),
        ),
        "phone": KindJunk(patterns=(r"\+3912345\d*", r"\+\d*([0-9])\1{4}\d*")),
        "street": KindJunk(values=frozenset({"via roma 1"}), patterns=(r"(?<!\w)po box \d+",)),
        "city": KindJunk(values=frozenset({"Nowhere"})),
        "postcode": KindJunk(patterns=(r"0{3,}\d*", r"[A-Z]{2} 9+")),
        "first_name": KindJunk(values=frozenset({"Mr", "Mrs"})),
        "birth_date": KindJunk(values=frozenset({"1970-01-01"})),
        "customer_id": KindJunk(values=frozenset({"c000"}), patterns=(r"tmp-\d+", r"([a-z])\1{2}")),
        "user_id": KindJunk(patterns=(r"guest\d*",)),
    }
)
OPTIONS = [
    pytest.param(DEFAULT, id="default"),
    pytest.param(NormalizeOptions(default_region="IT"), id="IT"),
    pytest.param(NormalizeOptions(default_region="GB", date_order="MDY"), id="GB-MDY"),
    pytest.param(
        NormalizeOptions(default_region="DE", date_order="MDY", junk=CUSTOM_JUNK), id="DE-junk"
    ),
    pytest.param(
        NormalizeOptions(junk=JunkConfig(use_defaults=False, kinds=CUSTOM_JUNK.kinds)),
        id="only-custom-junk",
    ),
]


def expected(name: str, raw: str | None, options: NormalizeOptions) -> tuple[str | None, ...]:
    """The oracle: what `to_record` does with one raw value of `name`."""
    if raw is None:
        return None, None
    if name in TRIMMED:
        text = raw.strip()
        return (None if not text or options.junk.is_junk(name, text) else text), None
    try:
        return _normalize_value(name, raw, options), None
    except FieldError as exc:
        return None, exc.reason


def check(name: str, raws: list[str | None], options: NormalizeOptions) -> None:
    values, problems = normalize_column(name, pl.Series("raw", raws, dtype=pl.String), options)
    assert values.dtype == problems.dtype == pl.String
    assert len(values) == len(problems) == len(raws)
    oracle: dict[str | None, tuple[str | None, ...]] = {}
    for raw, value, problem in zip(raws, values.to_list(), problems.to_list(), strict=True):
        if raw not in oracle:
            oracle[raw] = expected(name, raw, options)
        assert (value, problem) == oracle[raw], f"{name}: {raw!r}"


# --- hand-picked edge cases ------------------------------------------------------------------

COMMON = [
    None,
    "",
    " ",
    "\t",
    " \u00a0 ",
    "\u3000",
    "n/a",
    "N/A",
    "null",
    "None",
    "-",
    "--",
    "?",
    "0",
    "000",
    "test",
    "unknown",
    "a\x00b",
    "a\u200bb",
    "x\x1fy",
    "\x1f",
    "\x85x",
    "xxx",
    "Anon",
    "ǅemal",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
]
EDGES: dict[str, list[str | None]] = {
    "email": [
        "test@test.com",
        "TEST@TEST.COM",
        "a@a.com",
        "xx@XX.org",
        "ab@ab.com",
        "noreply@shop.it",
        "no-reply@shop.it",
        "asdfgh@yahoo.com",
        "ann@example.com",
        "ann@host.invalid",
        "mailto:Ann@Shop.com",
        "MAILTO:ann@shop.com?subject=hi",
        "mailto: ann@shop.com ?x",
        "mailto:",
        "mailto:?",
        "mailto:mailto:a@b.com",
        "ann+promo@shop.com",
        "ann+@shop.com",
        "+ann@shop.com",
        "ann++x+y@shop.com",
        "a.n.n@gmail.com",
        "A.N.N+x@GoogleMail.com",
        "...@gmail.com",
        ".+x@gmail.com",
        "a..b@googlemail.com",
        "ann@gmail.com.",
        "ann@sub.gmail.com",
        "ann@xn--bcher-kva.de",
        "ann@bücher.de",
        "jürgen@web.de",
        "ANN@ÉCOLE.FR",
        "ann@shop",
        "ann@shop.c",
        "ann@-shop.com",
        "ann@shop-.com",
        "ann@sh--op.com",
        "ann@shop..com",
        "ann@.shop.com",
        "ann@shop_x.com",
        "ann@@shop.com",
        "@shop.com",
        "ann@",
        "ann",
        "a b@shop.com",
        "ann@sh op.com",
        "<ann@shop.com>",
        '"ann"@shop.com',
        "ann,bob@shop.com",
        "ann;@shop.com",
        "ann:x@shop.com",
        "ann\\x@shop.com",
        "ann[1]@shop.com",
        "ann(x)@shop.com",
        "ann\t@shop.com",
        "ann@shop.com\x00",
        "ann\u200b@shop.com",
        "  Ann.Lee@Shop.COM  ",
        "o'brien@shop.ie",
        "ann!#$%&*/=?^_`{|}~-@shop.com",
        "ann?x@shop.com",
        "1@2.3",
        "_@shop.com",
        "ann@shop.example",
        "info@shop.it",
        "anna1234@mail.com",
        "bb@x.com",
        "K@x.com",
        "\u212a@x.com",
        "ann@x.com\u00a0",
        "Ann@Shop.com ",
    ],
    "phone": [
        "0000000000",
        "+10000000000",
        "+1 000 000 0000",
        "+391111111111",
        "+11234567890",
        "+12125550100",
        "+447700900123",
        "+442079460123",
        "(415) 555-2671",
        "415.555.2671",
        "1 415 555 2671",
        "+1 415 555 2671",
        "+1 (415) 555-2671",
        "011 39 06 1234 5678",
        "00 39 06 1234 5678",
        "0039 3498572089",
        "0039 0612345678",
        "00390612345678",
        "00",
        "0044",
        "00 0 1234",
        "06 1234 5678",
        "347 123 4567",
        "393 123 4567",
        "39 347 123 4567",
        "3912345678",
        "051 0328220",
        "030 1234567",
        "0301234567",
        "+49 30 1234567",
        "+49 (0)30 1234567",
        "+49 0 30 1234567",
        "0049 30 1234567",
        "+44 (0)20 7946 0000",
        "+44 20 7946 0000",
        "+44 0 0 20 7946 0000",
        "020 7946 0000",
        "07700 900123",
        "+33 6 12 34 56 78",
        "+33 (0)6 12 34 56 78",
        "06 12 34 56 78",
        "+39 06 1234 5678",
        "+39 0000 00000",
        "+39000000",
        "+390000000000",
        "+39 00",
        "+390",
        "+39",
        "+3",
        "+",
        "++39 06 1234 5678",
        "+(39) 06-1234-5678",
        "(+34) 613.713.958",
        "+34-613-713-958",
        "+34 613 713 958 ext. 12",
        "+34 613 713 958 x12",
        "+34 613 713 958#",
        "+34 613 713 958 / 959",
        "tel:+34613713958",
        "Tel. 347 1234567",
        "347-123-4567 (home)",
        "+0 123 4567",
        "+999 123 4567",
        "+800 1234 5678",
        "+882 1234 5678",
        "+7 800 123 45 67",
        "+7 8 800 123 45 67",
        "8 800 123 45 67",
        "+36 06 1 234 5678",
        "+54 9 11 1234 5678",
        "+54 0 11 15 1234 5678",
        "+55 0 11 91234 5678",
        "+55 11 91234 5678",
        "+81 3 1234 5678",
        "+81 0 3 1234 5678",
        "+261 20 22 123 45",
        "+261 34 12 345 67",
        "+378 0549 123456",
        "+378 812345",
        "+1 242 555 0123",
        "+1 441 555 0123",
        "+12345678901234567890",
        "+39 " + "1" * 30,
        "1" * 300,
        "+39 06 1234 5678" + " " * 300,
        "３４７ １２３ ４５６７",
        "+٣٩٣٤٧١٢٣٤٥٦٧",
        "+39\u00a0347\u00a01234567",
        "+39\t347 1234567",
        "+39 347 ABC DEFG",
        "+39 347 1234567;ext=12",
        "1-800-FLOWERS",
        "12",
        "123",
        # National digits that start with the region's own code, too long to be national:
        # `parse` takes the code off, which decides between two different refusals.
        "1 555 555 5555 5555 555",
        "39 333 3333 3333 3333 3",
        "49 151 1234 5678 9012 34",
    ],
    "first_name": [
        "MARIA",
        "maria",
        "Maria",
        "mcdonald",
        "McDonald",
        "o'brien",
        "ÉLODIE",
        "élodie",
        "Jean-Luc",
        "JEAN-LUC",
        "  Anna   Maria  ",
        "Anna\tMaria",
        "Ørsted",
        "ß",
        "straße",
        "ǆ",
        "İsmail",
        "ﬁona",
        "e\u0301lodie",
        "FNU",
        "fnu",
        "Na",
        "Nan",
        "Mr",
        "123",
        "4ever",
        "Ann\u200b",
        "Ἀλέξανδρος",
        "Александр",
        "李",
        "ⅷ",
    ],
    "birth_date": [
        "1980-05-04",
        "1980/05/04",
        "1980.05.04",
        "1980-5-4",
        "19800504",
        "04/05/1980",
        "4/5/1980",
        "04-05-1980",
        "04.05.1980",
        "13/05/1980",
        "05/13/1980",
        "31/02/1980",
        "1980-02-30",
        "1980-13-01",
        "1980-00-10",
        "29/02/2000",
        "29/02/1900",
        "1900-01-01",
        "1899-12-31",
        "0000-00-00",
        "00/00/0000",
        "04/05/80",
        "4/5/80",
        "80-05-04",
        "2999-01-01",
        "31/12/2999",
        "1980-05-04T10:00:00Z",
        "1980-05-04 10:00",
        "1980-05-04T10:00:00.123+02:00",
        "4 May 1980",
        "4th of May 1980",
        "May 4, 1980",
        "may 4 1980",
        "Sept 4, 1980",
        "4 Mai 1980",
        "1970-01-01",
        "  1980 - 05 - 04 ",
        "١٩٨٠-٠٥-٠٤",
        "1980-05-04\x00",
    ],
    "street": [
        "Via Roma 1",
        "via roma 1",
        "  Via   Roma    12 ",
        "Via\tRoma 12",
        "Via Roma\n12",
        "Bergstraße 20",
        "Hauptstr. 5",
        "57 rue de la Paix",
        "Calle del Sol 13",
        "PO Box 12",
        "po box 12",
        "c/o Ann",
        "1",
        "!!!",
        "___",
        "Via Roma 1\x7f",
        "Via Roma 1\x00",
        "e\u0301cole",
        "Rue de l\u2019Église",
    ],
    "city": [
        "Milano",
        "MILANO",
        "  Milano ",
        "Sankt  Gallen",
        "Nowhere",
        "nowhere",
        "Zürich",
        "Genève",
        "-",
        "Milano\x1c",
    ],
    "postcode": [
        "20121",
        "00128",
        "sw1a 1aa",
        "SW1A  1AA",
        "  sw1a 1aa ",
        "12345-6789",
        "1234567890123",
        "123456789012",
        "A" * 13,
        "ABCDEFGHIJKL",
        "AB 999",
        "00012",
        "000",
        "--",
        " - ",
        "-1-",
        "2012!",
        "SW1A_1AA",
        "ÉCOLE",
        "20121\t",
        "20 121",
        "８０１２３",
        "ab-12",
    ],
    "country": [
        "IT",
        "it",
        "ITA",
        "Italia",
        "ITALY",
        "Deutschland",
        "España",
        "espana",
        "U.K.",
        "u.s.a.",
        "United States",
        "Vatican City",
        "XX",
        "Atlantis",
        "GB ",
        "G B",
    ],
    "customer_id": [
        "C0000001",
        "  C0000001 ",
        "c000",
        "C000",
        "tmp-12",
        "TMP-12",
        "aaa",
        "AAA",
        "00000000-0000-0000-0000-000000000000",
        "0000",
        "Case-Sensitive",
        "id\x00",
        "ünï",
    ],
}
EDGES["last_name"] = EDGES["first_name"]
for kind in ("user_id", "anonymous_id", "device_id"):
    EDGES[kind] = [*EDGES["customer_id"], "guest", "Guest42", "guest-1"]


def test_every_name_has_edge_cases():
    assert set(EDGES) == set(COLUMN_NAMES)
    assert set(COLUMN_NAMES) == {*FIELD_NAMES, *TRIMMED}


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("name", COLUMN_NAMES)
def test_edge_cases_match_the_per_value_normalizer(name, options):
    raws = [*COMMON, *EDGES[name]]
    # Every value also once padded, and the whole list twice: duplicates go through the
    # distinct-value path, the padded copies through the trimming.
    raws += [f"  {r}  " for r in raws if r is not None] + raws
    check(name, raws, options)


@pytest.mark.parametrize(
    "options",
    [NormalizeOptions(default_region=r) for r in ("IT", "US", "DE", "GB", "FR", "CA", "VA", "AR")],
    ids=lambda o: o.default_region,
)
def test_phone_edge_cases_in_several_regions(options):
    check("phone", [*COMMON, *EDGES["phone"]], options)


# --- generated strings -----------------------------------------------------------------------

CHARS = st.characters(codec="utf-8", max_codepoint=0x2FFF)
ASCII = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
PIECES = st.sampled_from(
    ["@", ".", "+", "-", "mailto:", "gmail.com", "googlemail.com", "Shop", " ", "0", "00", "(0)"]
)
text = st.one_of(
    st.text(CHARS, max_size=20),
    st.text(ASCII, max_size=20),
    st.lists(st.one_of(PIECES, st.text(ASCII, max_size=4)), max_size=8).map("".join),
)
emails = st.builds(
    lambda local, tag, domain, tld, pad: f"{pad}{local}{tag}@{domain}.{tld}{pad}",
    st.text(st.sampled_from("abcXYZ09._-'é"), min_size=0, max_size=8),
    st.sampled_from(["", "+", "+tag", "+a+b"]),
    st.one_of(st.sampled_from(["gmail", "GoogleMail", "shop", "x-y", "-x", "example"]), text),
    st.sampled_from(["com", "it", "co.uk", "COM", "de", "c", "test", ""]),
    st.sampled_from(["", " ", "  ", "\t"]),
)
CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
e164 = st.builds(
    lambda lead, code, digits, seps: (
        lead + str(code) + "".join(d + s for d, s in zip(digits, seps, strict=False))
    ),
    st.sampled_from(["+", "+ ", "(+", "00", "011", "8~10", ""]),
    st.sampled_from(CODES),
    st.text("0123456789", max_size=18),
    st.lists(st.sampled_from(["", "", "", " ", "-", ".", ")", "("]), min_size=18, max_size=18),
)
dates = st.builds(
    lambda y, m, d, sep, order: sep.join(
        [f"{y:04d}", f"{m:02d}", f"{d:02d}"] if order else [f"{d}", f"{m}", f"{y}"]
    ),
    st.integers(1890, 2100),
    st.integers(0, 13),
    st.integers(0, 32),
    st.sampled_from(["-", "/", "."]),
    st.booleans(),
)
STRATEGIES = {
    "email": st.one_of(emails, text),
    "phone": st.one_of(e164, text),
    "birth_date": st.one_of(dates, text),
}
BATCH = settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", COLUMN_NAMES)
@BATCH
@given(data=st.data())
def test_generated_strings_match_the_per_value_normalizer(name, data):
    raws = data.draw(st.lists(st.one_of(st.none(), STRATEGIES.get(name, text)), max_size=40))
    options = data.draw(st.sampled_from([p.values[0] for p in OPTIONS]))
    check(name, raws + raws, options)


# --- the generator's data --------------------------------------------------------------------

#: For each CSV column of bench/generate.py --sources: the names it is normalized as. Mapped
#: columns as their mapping says; the others as whatever they resemble, to stress more shapes.
GENERATED_COLUMNS = {
    "crm": {
        "customer_number": ("customer_id",),
        "first_name": ("first_name",),
        "last_name": ("last_name",),
        "email": ("email",),
        "phone": ("phone",),
        "dob": ("birth_date",),
        "street": ("street",),
        "city": ("city",),
        "postcode": ("postcode",),
        "region": ("city", "country"),
        "country": ("country",),
        "national_id": ("phone", "postcode"),
        "last_modified": ("birth_date", "device_id"),
    },
    "pos": {
        "receipt_id": ("customer_id",),
        "card_number": ("customer_id",),
        "email": ("email",),
        "phone": ("phone",),
        "first_name": ("first_name",),
        "last_name": ("last_name",),
        "store_id": ("postcode", "user_id"),
        "amount": ("street", "phone"),
        "currency": ("country",),
        "purchased_at": ("birth_date", "anonymous_id"),
    },
    "support": {
        "contact_id": ("customer_id",),
        "first_name": ("first_name",),
        "last_name": ("last_name",),
        "email": ("email",),
        "phone": ("phone",),
        "dob": ("birth_date",),
        "postcode": ("postcode",),
        "national_id": ("phone",),
        "opened_at": ("birth_date",),
    },
    "people": {
        "record_id": ("customer_id",),
        "source": ("country", "user_id"),
        "given_name": ("first_name", "last_name"),
        "surname": ("last_name", "first_name"),
        "street": ("street", "city"),
        "suburb": ("city", "street"),
        "postcode": ("postcode",),
        "state": ("city",),
        "dob": ("birth_date",),
        "email": ("email",),
        "phone": ("phone",),
        "national_id": ("postcode", "customer_id"),
        "person_id": ("customer_id",),
    },
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict[str, pl.DataFrame]:
    out = tmp_path_factory.mktemp("normgen")
    generate_files(records=20_000, seed=3, noise=1.0, out=out, sources=True)
    return {
        name: pl.read_csv(Path(out) / f"{name}.csv", infer_schema=False)
        for name in GENERATED_COLUMNS
    }


@pytest.mark.parametrize("file", sorted(GENERATED_COLUMNS))
def test_generated_files_match_the_per_value_normalizer(generated, file):
    frame = generated[file]
    assert set(frame.columns) == set(GENERATED_COLUMNS[file])
    options = NormalizeOptions(default_region="IT")
    for column in frame.columns:
        for name in GENERATED_COLUMNS[file][column]:
            check(name, frame[column].to_list(), options)


def test_generated_files_with_other_options(generated):
    frame = generated["people"].head(5000)
    options = NormalizeOptions(default_region="FR", date_order="MDY", junk=CUSTOM_JUNK)
    for column, names in GENERATED_COLUMNS["people"].items():
        for name in names:
            check(name, frame[column].to_list(), options)


def test_generated_emails_and_phones_rarely_fall_back(generated):
    options = NormalizeOptions(default_region="IT")
    for name in ("email", "phone"):
        raw = pl.concat([frame[name] for frame in generated.values() if name in frame.columns])
        assert fallback_share(name, raw, options) < 0.01, name


# --- phone fast path against phonenumbers -----------------------------------------------------


def _random_numbers(rng: random.Random, per_code: int) -> list[str]:
    numbers = []
    for code in CODES:
        for index in range(per_code):
            length = index % 19
            first = rng.choice("0123456789" if index % 3 else "0018")
            national = (first + "".join(rng.choice("0123456789") for _ in range(length)))[:length]
            numbers.append(f"+{code}{national}")
            numbers.append(rng.choice(["+", "00", "(+"]) + f"{code} {national[:3]} {national[3:]}")
    return numbers


@pytest.mark.parametrize("region", ["US", "IT", "GB", "DE", "JP", "BR", "AR", "RU"])
def test_phone_fast_path_agrees_with_phonenumbers(region):
    numbers = _random_numbers(random.Random(region), per_code=24)
    options = NormalizeOptions(default_region=region)
    raw = pl.Series(numbers, dtype=pl.String)
    fast = fast_phone(raw, region, DEFAULT_JUNK)
    certain = fast.certain.to_list()
    for raw_value, value, problem, sure in zip(
        numbers, fast.values.to_list(), fast.problems.to_list(), certain, strict=True
    ):
        if sure:
            assert (value, problem) == expected("phone", raw_value, options), raw_value
    # The fast path must carry its weight: most E.164 input is decided without phonenumbers.
    plain = [n.startswith("+") and n[1:].isdigit() for n in numbers]
    decided = sum(s for s, p in zip(certain, plain, strict=True) if p) / sum(plain)
    assert decided > 0.9
    check("phone", numbers[::7], options)


@settings(deadline=None, max_examples=200)
@given(
    code=st.sampled_from(CODES),
    national=st.text("0123456789", max_size=20),
    region=st.sampled_from(["US", "IT", "GB", "DE", "FR", "MG", "SM"]),
)
def test_phone_e164_of_every_length_and_code(code, national, region):
    check(
        "phone",
        [f"+{code}{national}", f"00{code}{national}", national],
        NormalizeOptions(default_region=region),
    )


@cache
def _common_numbers() -> list[str]:
    return [f"+{code}{n}" for code in (1, 33, 34, 39, 44, 49) for n in ("3471234567", "612345678")]


def test_phone_fast_path_covers_common_numbers():
    raw = pl.Series(_common_numbers(), dtype=pl.String)
    assert fallback_share("phone", raw, NormalizeOptions(default_region="IT")) == 0


def test_national_numbers_in_the_default_region_are_fast():
    raw = pl.Series(["347 123 4567", "06 1234 5678", "051 0328220"], dtype=pl.String)
    assert fallback_share("phone", raw, NormalizeOptions(default_region="IT")) == 0
    raw = pl.Series(["030 1234567", "0171 1234567"], dtype=pl.String)
    assert fallback_share("phone", raw, NormalizeOptions(default_region="DE")) == 0


# --- API -------------------------------------------------------------------------------------


def test_unknown_name_names_the_allowed_ones():
    with pytest.raises(ValueError, match=r"one of email, phone, .*device_id"):
        normalize_column("fax", pl.Series(["1"]), DEFAULT)


def test_non_string_column_is_refused():
    with pytest.raises(ValueError, match="expected strings"):
        normalize_column("postcode", pl.Series([20121]), DEFAULT)


def test_all_null_and_empty_columns():
    for raw in (pl.Series("x", [None, None]), pl.Series("x", [], dtype=pl.String)):
        for name in COLUMN_NAMES:
            values, problems = normalize_column(name, raw, DEFAULT)
            assert values.to_list() == problems.to_list() == [None] * len(raw)
            assert values.name == problems.name == "x"


def test_hash_collisions_cost_time_not_correctness(monkeypatch):
    # Every value hashing alike is the worst case: each row differs from its representative.
    monkeypatch.setattr(
        pl.Series,
        "hash",
        lambda self, *_, **__: pl.repeat(0, len(self), dtype=pl.UInt64, eager=True),
    )
    check("email", ["ann@x.com", "bob@y.com", None, "ann@x.com", "bad"], DEFAULT)
    check("first_name", ["ANN", "bob", None, "ANN"], DEFAULT)


def test_many_duplicates_and_many_distinct_values_agree():
    emails = [f"User{i % 7}+t@GMail.com" for i in range(300)]
    distinct = [f"user.{i}@shop{i % 3}.it" for i in range(300)]
    check("email", emails, DEFAULT)
    check("email", distinct, DEFAULT)
    check("customer_id", [f" id{i} " for i in range(300)], DEFAULT)


def test_normalize_frame_replaces_columns_and_lists_problems_in_order():
    frame = pl.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "email": ["ann@x.com", "bad", "n/a", "also bad"],
            "birth_date": ["1980-01-01", "31/02/1980", "1980-13-01", None],
            "customer_id": [" C1 ", "C2", "", "C4"],
        }
    )
    clean, problems = normalize_frame(frame, ["birth_date", "email", "customer_id"], DEFAULT)
    assert clean.columns == frame.columns
    assert clean["id"].to_list() == [1, 2, 3, 4]
    assert clean["email"].to_list() == ["ann@x.com", None, None, None]
    assert clean["customer_id"].to_list() == ["C1", "C2", None, "C4"]
    assert problems.schema == {"row": pl.UInt32, "field": pl.String, "reason": pl.String}
    assert problems.select("row", "field").rows() == [
        (1, "birth_date"),
        (1, "email"),
        (2, "birth_date"),
        (3, "email"),
    ]
    assert problems["reason"][1] == expected("email", "bad", DEFAULT)[1]


def test_normalize_frame_without_problems_and_with_a_missing_column():
    frame = pl.DataFrame({"city": ["Milano"]})
    clean, problems = normalize_frame(frame, ["city"], DEFAULT)
    assert clean["city"].to_list() == ["Milano"]
    assert problems.height == 0
    assert problems.schema == {"row": pl.UInt32, "field": pl.String, "reason": pl.String}
    with pytest.raises(ValueError, match="missing columns 'email'"):
        normalize_frame(frame, ["email"], DEFAULT)


@pytest.mark.parametrize(
    "module",
    [
        "idgraph.normalize.columns",
        "idgraph.normalize._columnar.regex",
    ],
)
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_phone_plans_read_back_from_the_cache_equal_the_computed_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from idgraph.normalize._columnar import phone

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    phone._plans.cache_clear()
    computed = phone._plans()
    cache = phone.plans_cache_file()
    assert cache.is_file() and str(cache).startswith(str(tmp_path))
    phone._plans.cache_clear()
    assert phone._plans() == computed
    assert computed[39].code == 39 and computed[1].lengths  # Italy's and NANP's plans exist
    cache.write_text("[[39, not json", encoding="utf-8")
    phone._plans.cache_clear()
    assert phone._plans() == computed  # a damaged cache is computed again
    phone._plans.cache_clear()
