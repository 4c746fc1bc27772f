from __future__ import annotations

import pytest
from pydantic import ValidationError

from idgraph.errors import FieldError
from idgraph.models import SourceRecord
from idgraph.normalize.junk import JunkConfig, KindJunk
from idgraph.normalize.record import _NORMALIZERS, NormalizeOptions, full_name_key, to_record
from idgraph.types import FIELD_NAMES

OPTS = NormalizeOptions()


def make(
    fields=None, ids=None, *, kind="row", source="crm", source_id="1001", ts=1_700_000_000_000
):
    return SourceRecord(
        path="crm.csv",
        line=7,
        source=source,
        source_id=source_id,
        kind=kind,
        ts=ts,
        fields=dict(fields or {}),
        raw_identifiers=list(ids or []),
        traits={"tier": "gold", "ltv": 120.5, "vip": True},
    )


def test_every_golden_field_has_a_normalizer():
    assert set(_NORMALIZERS) == set(FIELD_NAMES)


def test_full_row():
    rec = to_record(
        make(
            {
                "email": " Maria.Rossi+promo@GoogleMail.com ",
                "phone": "347 123 4567",
                "first_name": "MARIA",
                "last_name": "ROSSI",
                "birth_date": "04/05/1980",
                "street": " Via   Roma 12 ",
                "city": "Milano",
                "postcode": "20121",
                "country": "Italia",
            }
        ),
        NormalizeOptions(default_region="IT"),
    )
    assert rec.key == "crm:1001"
    assert (rec.source, rec.source_id, rec.kind) == ("crm", "1001", "row")
    assert rec.updated_ts == 1_700_000_000_000
    assert rec.fields == {
        "email": "mariarossi@gmail.com",
        "phone": "+393471234567",
        "first_name": "Maria",
        "last_name": "Rossi",
        "birth_date": "1980-05-04",
        "street": "Via Roma 12",
        "city": "Milano",
        "postcode": "20121",
        "country": "IT",
    }
    assert rec.identifiers == {("email", "mariarossi@gmail.com"), ("phone", "+393471234567")}
    assert rec.traits == {"tier": "gold", "ltv": 120.5, "vip": True}


def test_traits_are_copied_not_shared():
    src = make()
    rec = to_record(src, OPTS)
    rec.traits["tier"] = "silver"
    assert src.traits["tier"] == "gold"


@pytest.mark.parametrize(
    ("kind", "source_id", "key"),
    [
        ("row", "1001", "crm:1001"),
        ("user", "u-17", "crm:user:u-17"),
        ("anonymous", "a-1", "crm:anon:a-1"),
    ],
)
def test_record_key(kind, source_id, key):
    assert to_record(make(kind=kind, source_id=source_id), OPTS).key == key


@pytest.mark.parametrize(
    ("options", "raw", "expected"),
    [
        (NormalizeOptions(), "01/02/1990", "1990-02-01"),
        (NormalizeOptions(date_order="MDY"), "01/02/1990", "1990-01-02"),
    ],
)
def test_date_order_option(options, raw, expected):
    assert to_record(make({"birth_date": raw}), options).fields["birth_date"] == expected


@pytest.mark.parametrize(("region", "expected"), [("US", "+12027841234"), ("gb", "+442027841234")])
def test_default_region_option(region, expected):
    opts = NormalizeOptions(default_region=region)
    assert to_record(make({"phone": "2027841234"}), opts).fields["phone"] == expected


@pytest.mark.parametrize("blank", ["", "   ", "\t"])
@pytest.mark.parametrize("name", FIELD_NAMES)
def test_blank_fields_are_dropped(name, blank):
    rec = to_record(make({name: blank}), OPTS)
    assert rec.fields == {}
    assert rec.identifiers == set()


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("email", "test@test.com"),
        ("email", "NoReply@Shop.it"),
        ("email", "n/a"),
        ("email", "none"),
        ("phone", "0000000000"),
        ("phone", "+39 111 111 1111"),
        ("phone", "n/a"),
        ("phone", "0"),
        ("phone", "-"),
        ("phone", "(212) 555-0123"),
        ("first_name", "UNKNOWN"),
        ("last_name", "n/a"),
        ("birth_date", "0000-00-00"),
        ("birth_date", "01/01/1900"),
        ("country", "unknown"),
        ("postcode", "n/a"),
        ("city", "null"),
    ],
)
def test_junk_is_dropped_not_rejected(name, raw):
    rec = to_record(make({name: raw, "city": "Roma"} if name != "city" else {name: raw}), OPTS)
    assert name not in rec.fields
    assert all(kind != name for kind, _ in rec.identifiers)


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("email", "maria at gmail"),
        ("phone", "12"),
        ("first_name", "123"),
        ("last_name", "Ros\x00si"),
        ("birth_date", "31/02/1980"),
        ("birth_date", "yesterday"),
        ("street", "Via\x00Roma"),
        ("city", "Mi\x1blano"),
        ("postcode", "20/121"),
        ("country", "Atlantis"),
    ],
)
def test_bad_value_raises_naming_the_source_field(name, raw):
    with pytest.raises(FieldError) as info:
        to_record(
            make({name: raw, "email": "ok@shop.com"} if name != "email" else {name: raw}), OPTS
        )
    assert info.value.field == name
    assert str(info.value).startswith(f"{name}: ")


def test_unknown_field_is_rejected():
    with pytest.raises(FieldError) as info:
        to_record(make({"favourite_colour": "blue"}), OPTS)
    assert info.value.field == "favourite_colour"
    assert "birth_date" in info.value.reason


def test_raw_identifiers_are_trimmed_and_keep_case():
    rec = to_record(
        make(
            ids=[
                ("user_id", "  U-17 "),
                ("anonymous_id", "a-93F"),
                ("device_id", "IDFA-1"),
                ("customer_id", "C9"),
            ]
        ),
        OPTS,
    )
    assert rec.identifiers == {
        ("user_id", "U-17"),
        ("anonymous_id", "a-93F"),
        ("device_id", "IDFA-1"),
        ("customer_id", "C9"),
    }


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        ("user_id", ""),
        ("user_id", "   "),
        ("user_id", "null"),
        ("anonymous_id", "undefined"),
        ("device_id", "00000000-0000-0000-0000-000000000000"),
        ("customer_id", "0"),
        ("customer_id", "N/A"),
    ],
)
def test_empty_or_junk_raw_identifiers_are_dropped(kind, raw):
    assert to_record(make(ids=[(kind, raw), ("user_id", "u-1")]), OPTS).identifiers == {
        ("user_id", "u-1")
    }


def test_email_and_phone_raw_identifiers_are_normalized():
    rec = to_record(
        make(
            ids=[
                ("email", "Ann+x@Shop.com"),
                ("phone", "(415) 555-2671"),
                ("email", "test@test.com"),
            ]
        ),
        OPTS,
    )
    assert rec.identifiers == {("email", "ann@shop.com"), ("phone", "+14155552671")}
    assert rec.fields == {}


def test_bad_email_raw_identifier_names_the_kind():
    with pytest.raises(FieldError) as info:
        to_record(make(ids=[("email", "nope")]), OPTS)
    assert info.value.field == "email"


def test_custom_junk_config_is_used():
    opts = NormalizeOptions(
        junk=JunkConfig(
            kinds={
                "user_id": KindJunk(values=frozenset({"guest"})),
                "email": KindJunk(patterns=(r".*@shop\.com",)),
            }
        )
    )
    rec = to_record(
        make({"email": "ann@shop.com"}, [("user_id", "Guest"), ("user_id", "u-2")]), opts
    )
    assert rec.identifiers == {("user_id", "u-2")}
    assert rec.fields == {}


def test_disabling_default_junk_keeps_placeholders():
    opts = NormalizeOptions(junk=JunkConfig(use_defaults=False))
    rec = to_record(make({"email": "test@test.com"}, [("user_id", "null")]), opts)
    assert rec.identifiers == {("email", "test@test.com"), ("user_id", "null")}


@pytest.mark.parametrize(
    "data",
    [
        {"default_region": "XX"},
        {"default_region": "usa"},
        {"date_order": "YMD"},
        {"junk": {"kinds": {"email": {"patterns": ["("]}}}},
        {"region": "US"},
    ],
)
def test_invalid_options(data):
    with pytest.raises(ValidationError):
        NormalizeOptions.model_validate(data)


def test_options_are_frozen_and_normalize_region():
    opts = NormalizeOptions(default_region=" it ")
    assert opts.default_region == "IT"
    with pytest.raises(ValidationError):
        opts.date_order = "MDY"  # type: ignore[misc]


def test_options_load_from_json():
    opts = NormalizeOptions.model_validate_json(
        '{"default_region": "DE", "date_order": "MDY", "junk": {"use_defaults": false}}'
    )
    assert opts.default_region == "DE"
    assert not opts.junk.is_junk("email", "test@test.com")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"first_name": "Bob", "last_name": "O'Neil"}, "robert oneil"),
        ({"first_name": "Robert", "last_name": "ONeil"}, "robert oneil"),
        ({"first_name": "BEPPE", "last_name": "Rossi"}, "giuseppe rossi"),
        ({"first_name": "Pepe", "last_name": "García-López"}, "jose garcia lopez"),
        ({"first_name": "Bob Lee", "last_name": "Swagger"}, "robert lee swagger"),
        ({"first_name": "José", "last_name": "Müller"}, "jose muller"),
        ({"first_name": "Maria"}, "maria"),
        ({"last_name": "Rossi"}, "rossi"),
        ({}, ""),
        ({"first_name": "Ann", "last_name": "Lee", "email": "x@y.com"}, "ann lee"),
    ],
)
def test_full_name_key(fields, expected):
    assert full_name_key(fields) == expected


def test_full_name_key_agrees_across_spellings():
    a = to_record(make({"first_name": "BILL", "last_name": "SMITH-JONES"}), OPTS)
    b = to_record(make({"first_name": "William", "last_name": "Smith Jones"}), OPTS)
    assert full_name_key(a.fields) == full_name_key(b.fields) == "william smith jones"
