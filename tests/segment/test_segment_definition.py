"""Segment definitions: what parses, and how every kind of mistake is reported."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from idgraph.errors import SegmentDefinitionError
from idgraph.segment.definition import (
    AllCondition,
    AnyCondition,
    EventCondition,
    NotCondition,
    PropertyFilter,
    SegmentDefinition,
    TraitCondition,
    load_segment,
    parse_segment,
)

LAPSED = """\
name: lapsed_high_spenders
description: CRM customers worth 500+ who have not bought in the last 180 days
where:
  all:
    - trait: lifetime_value
      op: ">="
      value: 500
    - not:
        event: Order Completed
        within_days: 180
        min_count: 1
        where: {campaign: spring_newsletter_2026}
"""


def parse_yaml(text: str) -> SegmentDefinition:
    return parse_segment(yaml.safe_load(text), source="test.yaml")


def test_lapsed_high_spenders_parses_into_typed_conditions() -> None:
    defn = parse_yaml(LAPSED)
    assert defn.name == "lapsed_high_spenders"
    assert defn.source == "test.yaml"
    assert defn.where == AllCondition(
        all=[
            TraitCondition(trait="lifetime_value", op=">=", value=500),
            NotCondition(
                not_=EventCondition(
                    event="Order Completed",
                    within_days=180,
                    min_count=1,
                    where={"campaign": PropertyFilter(op="=", value="spring_newsletter_2026")},
                )
            ),
        ]
    )


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (
            {"trait": "vip", "op": "=", "value": True},
            TraitCondition(trait="vip", op="=", value=True),
        ),
        (
            {"trait": "country", "op": "!=", "value": "IT"},
            TraitCondition(trait="country", op="!=", value="IT"),
        ),
        (
            {"trait": "score", "op": "<", "value": 0.5},
            TraitCondition(trait="score", op="<", value=0.5),
        ),
        (
            {"trait": "country", "op": "in", "value": ["IT", "FR"]},
            TraitCondition(trait="country", op="in", value=("IT", "FR")),
        ),
        (
            {"trait": "country", "op": "not_in", "value": ["IT"]},
            TraitCondition(trait="country", op="not_in", value=("IT",)),
        ),
        (
            {"trait": "age", "op": "between", "value": [18, 34]},
            TraitCondition(trait="age", op="between", value=(18, 34)),
        ),
        ({"trait": "email", "op": "exists"}, TraitCondition(trait="email", op="exists")),
        ({"trait": "_private", "op": "missing"}, TraitCondition(trait="_private", op="missing")),
        ({"event": "Page Viewed"}, EventCondition(event="Page Viewed")),
        (
            {"event": "Coupon Used", "min_count": 3},
            EventCondition(event="Coupon Used", min_count=3),
        ),
        (
            {"any": [{"trait": "a", "op": "exists"}, {"not": {"trait": "b", "op": "missing"}}]},
            AnyCondition(
                any=[
                    TraitCondition(trait="a", op="exists"),
                    NotCondition(not_=TraitCondition(trait="b", op="missing")),
                ]
            ),
        ),
    ],
)
def test_valid_conditions(where: dict[str, Any], expected: object) -> None:
    assert parse_segment({"name": "s", "where": where}, source="-").where == expected


def test_unquoted_yaml_date_and_equals_sign(tmp_path: Path) -> None:
    path = tmp_path / "born.yaml"
    path.write_text(
        "name: born_in_the_nineties\nwhere:\n"
        "  all:\n"
        "    - {trait: birth_date, op: between, value: [1990-01-01, 1999-12-31]}\n"
        "    - {trait: country, op: =, value: IT}\n"
    )
    defn = load_segment(path)
    assert defn.source == str(path)
    assert isinstance(defn.where, AllCondition)
    assert defn.where.all == [
        TraitCondition(trait="birth_date", op="between", value=("1990-01-01", "1999-12-31")),
        TraitCondition(trait="country", op="=", value="IT"),
    ]


def test_definition_round_trips_through_its_own_dump() -> None:
    defn = parse_yaml(LAPSED)
    dumped = defn.model_dump(by_alias=True, exclude_defaults=True)
    assert parse_segment(dumped, source="dump") == defn


def _with(where: object) -> dict[str, Any]:
    return {"name": "s", "where": where}


TRAIT = {"trait": "lifetime_value", "op": ">=", "value": 500}

BAD: dict[str, tuple[object, str, str]] = {
    "bad-name-injection": ({"name": "x; DROP", "where": TRAIT}, "name", "not a valid segment name"),
    "bad-name-upper": ({"name": "Lapsed", "where": TRAIT}, "name", "not a valid segment name"),
    "bad-name-digit": ({"name": "1st", "where": TRAIT}, "name", "starting with a letter"),
    "bad-name-long": ({"name": "a" * 64, "where": TRAIT}, "name", "at most 63"),
    "name-not-text": ({"name": 12, "where": TRAIT}, "name", "expected a name, got a number"),
    "missing-name": ({"where": TRAIT}, "name", "is required"),
    "missing-where": ({"name": "s"}, "where", "is required"),
    "unknown-top-key": ({"name": "s", "where": TRAIT, "wher": 1}, "", "unknown key 'wher'"),
    "where-not-condition": (_with({"foo": 1}), "where", "one of the keys trait, account, event"),
    "where-a-list": (_with([TRAIT]), "where", "expected a condition"),
    "unknown-op": (_with({"trait": "a", "op": "~=", "value": 1}), "where.op", "'between'"),
    "missing-op": (_with({"trait": "a", "value": 1}), "where.op", "is required"),
    "missing-value": (_with({"trait": "a", "op": ">="}), "where.value", "needs a value"),
    "value-on-exists": (
        _with({"trait": "a", "op": "exists", "value": 1}),
        "where.value",
        "takes no value",
    ),
    "list-for-eq": (_with({"trait": "a", "op": "=", "value": [1]}), "where.value", "single value"),
    "scalar-for-in": (
        _with({"trait": "a", "op": "in", "value": 1}),
        "where.value",
        "non-empty list",
    ),
    "empty-in": (
        _with({"trait": "a", "op": "not_in", "value": []}),
        "where.value",
        "non-empty list",
    ),
    "between-one": (
        _with({"trait": "a", "op": "between", "value": [1]}),
        "where.value",
        "got 1 value",
    ),
    "between-three": (
        _with({"trait": "a", "op": "between", "value": [1, 2, 3]}),
        "where.value",
        "got 3 values",
    ),
    "between-reversed": (
        _with({"trait": "a", "op": "between", "value": [9, 1]}),
        "where.value",
        "greater than",
    ),
    "between-mixed": (
        _with({"trait": "a", "op": "between", "value": ["a", 1]}),
        "where.value",
        "both numbers or both text",
    ),
    "value-mapping": (
        _with({"trait": "a", "op": "=", "value": {"x": 1}}),
        "where.value",
        "got a mapping",
    ),
    "value-nan": (_with({"trait": "a", "op": "=", "value": float("nan")}), "where.value", "finite"),
    "trait-backtick": (
        _with({"trait": "a`b", "op": "exists"}),
        "where.trait",
        "not a valid property name",
    ),
    "trait-space": (
        _with({"trait": "life time", "op": "exists"}),
        "where.trait",
        "not a valid property name",
    ),
    "trait-injection": (
        _with({"trait": "x} RETURN 1 //", "op": "exists"}),
        "where.trait",
        "not a valid",
    ),
    "trait-upper": (_with({"trait": "LTV", "op": "exists"}), "where.trait", "lowercase"),
    "trait-number": (_with({"trait": 3, "op": "exists"}), "where.trait", "got a number"),
    "unknown-key-typo": (
        _with({"trait": "a", "op": "=", "vlaue": 1}),
        "where",
        "did you mean 'value'",
    ),
    "within-zero": (
        _with({"not": {"event": "E", "within_days": 0}}),
        "where.not.within_days",
        "greater than 0",
    ),
    "within-negative": (
        _with({"event": "E", "within_days": -1}),
        "where.within_days",
        "greater than 0",
    ),
    "within-fraction": (_with({"event": "E", "within_days": 1.5}), "where.within_days", "integer"),
    "within-bool": (_with({"event": "E", "within_days": True}), "where.within_days", "integer"),
    "min-count-zero": (
        _with({"event": "E", "min_count": 0}),
        "where.min_count",
        "greater than or equal to 1",
    ),
    "event-empty": (_with({"event": ""}), "where.event", "an event name cannot be empty"),
    "event-prop-backtick": (
        _with({"event": "E", "where": {"a`b": 1}}),
        "where.where",
        "'a`b' is not a valid",
    ),
    "event-prop-value": (
        _with({"event": "E", "where": {"campaign": [[1]]}}),
        "where.where.campaign.value",
        "got a list",
    ),
    "event-unknown-key": (
        _with({"event": "E", "within_day": 3}),
        "where",
        "did you mean 'within_days'",
    ),
    "empty-all": (_with({"all": []}), "where.all", "at least 1 item"),
    "nested-location": (
        _with({"all": [TRAIT, {"any": [TRAIT, {"not": {"event": "E", "within_days": 0}}]}]}),
        "where.all[1].any[1].not.within_days",
        "greater than 0",
    ),
    "trait-and-event-mixed": (
        _with({"trait": "a", "op": "exists", "event": "E"}),
        "where",
        "unknown key 'event'",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_definition_names_the_location(case: str) -> None:
    data, location, fragment = BAD[case]
    with pytest.raises(SegmentDefinitionError) as caught:
        parse_segment(data, source="bad.yaml")
    message = str(caught.value)
    assert message.startswith("bad.yaml: ")
    if location:  # a lone problem follows the file name; several are listed one per line
        assert re.search(rf"(^bad\.yaml:|\n  -) {re.escape(location)}: ", message), message
    assert fragment in message, message


def test_every_problem_is_reported_at_once() -> None:
    data = {
        "name": "Bad Name",
        "where": {
            "all": [
                {"trait": "a b", "op": "=="},
                {"not": {"event": "E", "within_days": 0}},
                {"any": [{"trait": "x", "op": "between", "value": [1]}]},
            ]
        },
    }
    with pytest.raises(SegmentDefinitionError) as caught:
        parse_segment(data, source="many.yaml")
    message = str(caught.value)
    assert message.startswith("many.yaml: 5 problems")
    for location in (
        "name",
        "where.all[0].trait",
        "where.all[0].op",
        "where.all[1].not.within_days",
        "where.all[2].any[0].value",
    ):
        assert f"  - {location}: " in message, message
    assert caught.value.location is None


def test_single_problem_sets_location_and_path() -> None:
    with pytest.raises(SegmentDefinitionError) as caught:
        parse_segment(_with({"event": "E", "within_days": 0}), source="one.yaml")
    assert caught.value.path == "one.yaml"
    assert caught.value.location == "where.within_days"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("name: s\nwhere: {trait: a\n", "line 3: invalid YAML"),
        ("name: s\nwhere:\n  trait: a\n   op: exists\n", "line 4: invalid YAML"),
        (
            "name: s\nname: t\nwhere: {trait: a, op: exists}\n",
            "line 2: invalid YAML: the key 'name' is given twice",
        ),
        (
            "- name: s\n",
            "line 1: expected a mapping with the keys name, description and where, got a list",
        ),
        ("just text\n", "got text"),
        ("", "got nothing"),
        ("name: s\nwhere: {trait: a, op: exists}\nextra: [1\n", "invalid YAML"),
    ],
)
def test_unreadable_yaml_names_file_and_line(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "seg.yaml"
    path.write_text(text)
    with pytest.raises(SegmentDefinitionError) as caught:
        load_segment(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert fragment in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SegmentDefinitionError, match="cannot read the file"):
        load_segment(tmp_path / "nope.yaml")


def test_definitions_are_immutable() -> None:
    defn = parse_yaml(LAPSED)
    with pytest.raises(ValueError):
        defn.name = "other"
