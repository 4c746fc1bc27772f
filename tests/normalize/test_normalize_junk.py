from __future__ import annotations

import pytest
from pydantic import ValidationError

from idgraph.normalize.junk import DEFAULT_JUNK, JunkConfig, KindJunk


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("email", "test@test.com"),
        ("email", "TEST@TEST.COM"),
        ("email", "test@example.com"),
        ("email", "anyone@example.com"),
        ("email", "maria@example.org"),
        ("email", "x@example.net"),
        ("email", "ann@shop.test"),
        ("email", "ann@host.invalid"),
        ("email", "noemail@shop.it"),
        ("email", "no-email@shop.it"),
        ("email", "nomail@gmail.com"),
        ("email", "noreply@shop.it"),
        ("email", "no-reply@shop.it"),
        ("email", "donotreply@shop.it"),
        ("email", "none@gmail.com"),
        ("email", "na@shop.com"),
        ("email", "unknown@shop.com"),
        ("email", "a@a.com"),
        ("email", "xx@xx.org"),
        ("email", "asdf@gmail.com"),
        ("email", "asdfgh@yahoo.com"),
        ("email", "test@gmail.com"),
        ("phone", "+10000000000"),
        ("phone", "+11111111111"),
        ("phone", "+391111111111"),
        ("phone", "+447777777777"),
        ("phone", "+490000000"),
        ("phone", "+11234567890"),
        ("phone", "+391234567890"),
        ("phone", "+390123456789"),
        ("phone", "+19876543210"),
        ("phone", "+12125550100"),
        ("phone", "+14155550199"),
        ("phone", "+442079460123"),
        ("phone", "+447700900123"),
        ("birth_date", "1900-01-01"),
        ("birth_date", "0000-00-00"),
        ("birth_date", "00/00/0000"),
        ("first_name", "Unknown"),
        ("first_name", "FNU"),
        ("last_name", "N/A"),
        ("last_name", "-"),
    ],
)
def test_builtin_junk(kind, value):
    assert DEFAULT_JUNK.is_junk(kind, value)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("email", "ann@shop.com"),
        ("email", "maria.rossi@gmail.com"),
        ("email", "test.user.real@company.it"),
        ("email", "contest@shop.com"),
        ("email", "anna@nothing.com"),
        ("email", "ab@a.com"),
        ("email", "ann@example.co.uk"),
        ("phone", "+14155552671"),
        ("phone", "+12122222222"),
        ("phone", "+12125550200"),
        ("phone", "+14155551234"),
        ("phone", "+390612345678"),
        ("phone", "+442079461234"),
        ("user_id", "u-17"),
        ("user_id", "12345"),
        ("anonymous_id", "a-93f"),
        ("device_id", "6d3c9b0e-0000-4000-8000-000000000001"),
        ("birth_date", "1980-05-04"),
        ("last_name", "Na"),
        ("first_name", "Nan"),
        ("first_name", "Nil"),
        ("first_name", "Testa"),
        ("city", "Roma"),
    ],
)
def test_builtin_not_junk(kind, value):
    assert not DEFAULT_JUNK.is_junk(kind, value)


GENERIC = ["n/a", "N/A", "na", "NA", "none", "None", "null", "NULL", "unknown", "-", "0", "test"]
MORE_GENERIC = ["undefined", "nil", "nan", "--", "?", "000", "00000000-0000-0000-0000-000000000000"]


@pytest.mark.parametrize(
    "kind", ["email", "phone", "user_id", "anonymous_id", "device_id", "customer_id", "city"]
)
@pytest.mark.parametrize("value", GENERIC + MORE_GENERIC)
def test_generic_junk_for_every_kind(kind, value):
    assert DEFAULT_JUNK.is_junk(kind, value)


def test_unlisted_kind_gets_the_generic_list():
    assert DEFAULT_JUNK.is_junk("loyalty_card", "n/a")
    assert not DEFAULT_JUNK.is_junk("loyalty_card", "LC-1")


def test_extra_values_and_patterns():
    config = JunkConfig(
        kinds={
            "user_id": KindJunk(values=frozenset({"guest"}), patterns=(r"tmp-\d+",)),
            "email": KindJunk(patterns=(r".*@mailinator\.com",)),
        }
    )
    assert config.is_junk("user_id", "GUEST")
    assert config.is_junk("user_id", "tmp-42")
    assert not config.is_junk("user_id", "tmp-42x"), "patterns match the whole value"
    assert not config.is_junk("anonymous_id", "guest"), "extras stay with their kind"
    assert config.is_junk("email", "x@mailinator.com")
    assert config.is_junk("email", "test@test.com"), "defaults are kept"


def test_any_kind_applies_everywhere():
    config = JunkConfig(kinds={"*": KindJunk(values=frozenset({"xxx"}))})
    for kind in ("email", "user_id", "first_name", "somewhere"):
        assert config.is_junk(kind, "XXX")


def test_defaults_can_be_disabled():
    config = JunkConfig(use_defaults=False, kinds={"email": KindJunk(values=frozenset({"a@b.co"}))})
    assert not config.is_junk("email", "test@test.com")
    assert not config.is_junk("phone", "+10000000000")
    assert not config.is_junk("user_id", "null")
    assert config.is_junk("email", "a@b.co")


def test_bad_regex_is_a_clear_validation_error():
    with pytest.raises(ValidationError) as info:
        JunkConfig.model_validate(
            {"kinds": {"email": {"patterns": ["ok.*", "(unclosed", "[z-a]"]}}}
        )
    text = str(info.value)
    assert "kinds.email.patterns" in text
    assert "pattern 1 ('(unclosed')" in text
    assert "pattern 2 ('[z-a]')" in text
    assert "pattern 0" not in text


@pytest.mark.parametrize(
    "data",
    [
        {"kinds": {"emial": {"values": ["x"]}}},
        {"kinds": {"email": {"valuez": ["x"]}}},
        {"use_default": False},
        {"kinds": {"email": {"patterns": "not-a-list"}}},
    ],
)
def test_invalid_config_is_rejected(data):
    with pytest.raises(ValidationError):
        JunkConfig.model_validate(data)


def test_unknown_kind_error_lists_allowed_kinds():
    with pytest.raises(ValidationError, match=r"Input should be .*'user_id'"):
        JunkConfig.model_validate({"kinds": {"emial": {}}})


def test_all_config_problems_are_reported_together():
    with pytest.raises(ValidationError) as info:
        JunkConfig.model_validate(
            {"kinds": {"emial": {}, "email": {"patterns": ["("]}, "phone": {"valuez": []}}}
        )
    locations = {error["loc"] for error in info.value.errors()}
    assert ("kinds", "emial", "[key]") in locations
    assert ("kinds", "email", "patterns") in locations
    assert ("kinds", "phone", "valuez") in locations


def test_config_round_trips_through_json():
    config = JunkConfig(
        use_defaults=False,
        kinds={"phone": KindJunk(values=frozenset({"+15551234567"}), patterns=(r"\+99.*",))},
    )
    again = JunkConfig.model_validate_json(config.model_dump_json())
    assert again == config
    assert again.is_junk("phone", "+15551234567")
    assert again.is_junk("phone", "+991")
    assert not again.is_junk("phone", "+10000000000")


def test_config_is_frozen():
    with pytest.raises(ValidationError):
        DEFAULT_JUNK.use_defaults = False  # type: ignore[misc]
