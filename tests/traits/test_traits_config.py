"""The traits config: what loads, and how every kind of mistake is reported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from idgraph.errors import ConfigError
from idgraph.traits.config import (
    TraitsConfig,
    TraitSpec,
    load_traits_config,
    parse_traits_config,
)

ORDERS = {"name": "order_count", "kind": "count", "event": "Order Completed"}


def _config(*traits: dict[str, Any], **builtins: Any) -> dict[str, Any]:
    return {"traits": list(traits), "builtins": builtins}


def test_shipped_default_loads_and_types_every_trait() -> None:
    config = load_traits_config()
    columns = config.columns()
    assert columns["order_count"] == "INT64"
    assert columns["total_spent"] == "DOUBLE"
    assert columns["favourite_category"] is None  # typed from the values found
    assert {"age", "age_band", "rfm_score", "lifecycle_stage"} <= set(columns)
    assert all(name.endswith("_ts") for name, t in columns.items() if "seen" in name)


def test_shipped_default_is_in_the_package_directory() -> None:
    import idgraph.traits

    assert (Path(idgraph.traits.__file__).parent / "default.yaml").is_file()


def test_event_may_be_one_name_or_a_list_or_absent() -> None:
    config = parse_traits_config(
        _config(
            {"name": "a", "kind": "count", "event": " Order Completed "},
            {"name": "b", "kind": "count", "event": ["Product Viewed", "Product Added"]},
            {"name": "c_ts", "kind": "last_seen"},
        )
    )
    assert [t.event for t in config.traits] == [
        ("Order Completed",),
        ("Product Viewed", "Product Added"),
        None,
    ]


def test_a_builtin_set_to_false_is_off() -> None:
    config = parse_traits_config({"builtins": {"age": False, "rfm": False, "lifecycle": None}})
    assert config.columns() == {}


def test_round_trip_through_yaml() -> None:
    config = load_traits_config()
    assert parse_traits_config(yaml.safe_load(config.to_yaml())) == config


def test_load_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "traits.yaml"
    path.write_text(yaml.safe_dump(_config(ORDERS)), encoding="utf-8")
    assert load_traits_config(path).traits == [TraitSpec.model_validate(ORDERS)]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            _config(ORDERS, {"name": "x", "kind": "median", "event": "E"}),
            "traits[1].kind: Input should be 'count', 'sum'",
            id="unknown-kind",
        ),
        pytest.param(
            _config({"name": "spent", "kind": "sum", "event": "Order Completed"}),
            "traits[0]: kind sum needs `property`",
            id="sum-without-property",
        ),
        pytest.param(
            _config({"name": "n", "kind": "count", "event": "E", "property": "total"}),
            "traits[0]: kind count reads no property",
            id="count-with-property",
        ),
        pytest.param(
            _config(ORDERS, ORDERS, ORDERS, {**ORDERS, "name": "o", "within_days": 0}),
            "traits[3].within_days: Input should be greater than or equal to 1",
            id="zero-window",
        ),
        pytest.param(
            _config({**ORDERS, "within_days": "30"}),
            "traits[0].within_days: Input should be a valid integer",
            id="window-as-text",
        ),
        pytest.param(
            _config({**ORDERS, "within_days": True}),
            "traits[0].within_days: Input should be a valid integer",
            id="window-as-boolean",
        ),
        pytest.param(
            _config({**ORDERS, "name": "Order Count"}),
            "traits[0].name: trait name 'Order Count' is not allowed",
            id="name-not-snake-case",
        ),
        pytest.param(
            _config({**ORDERS, "name": "id"}),
            "traits[0].name: trait name 'id' is not allowed",
            id="reserved-name",
        ),
        pytest.param(
            _config({**ORDERS, "name": "record_count"}),
            "traits[0].name: 'record_count' is a built-in Customer column",
            id="customer-column-name",
        ),
        pytest.param(
            _config({"name": "first_order", "kind": "first_seen", "event": "Order Completed"}),
            "traits[0]: a first_seen trait holds epoch milliseconds, so its name must end in _ts",
            id="first-seen-without-ts",
        ),
        pytest.param(
            _config({"name": "last_order", "kind": "last_seen"}),
            "must end in _ts (e.g. last_order_ts)",
            id="last-seen-without-ts",
        ),
        pytest.param(
            _config(ORDERS, {**ORDERS, "kind": "distinct_count", "property": "store"}),
            "traits[1].name: 'order_count' is already the name of traits[0]",
            id="duplicate-name",
        ),
        pytest.param(
            _config({**ORDERS, "name": "age"}, age=True),
            "traits[0].name: 'age' is written by an enabled built-in",
            id="name-of-a-builtin",
        ),
        pytest.param(
            _config({**ORDERS, "event": []}),
            "traits[0].event: list at least one event name",
            id="no-event-names",
        ),
        pytest.param(
            _config({**ORDERS, "event": ["Order Completed", ""]}),
            "traits[0].event: event names are non-empty strings, got ''",
            id="empty-event-name",
        ),
        pytest.param(
            _config({**ORDERS, "within": 30}),
            "traits[0].within: Extra inputs are not permitted",
            id="misspelt-key",
        ),
        pytest.param(
            {"trait": [ORDERS]},
            "trait: Extra inputs are not permitted",
            id="misspelt-top-level-key",
        ),
        pytest.param(
            _config(rfm={"event": "Order Completed"}),
            "builtins.rfm.monetary: Field required",
            id="rfm-without-monetary",
        ),
        pytest.param(
            _config(rfm=True),
            "builtins.rfm: Input should be a valid dictionary",
            id="rfm-true",
        ),
        pytest.param(
            _config(lifecycle={"event": "Order Completed", "active_days": 200}),
            "builtins.lifecycle: need new_days <= active_days < lapsing_days, got 30, 200, 180",
            id="lifecycle-out-of-order",
        ),
        pytest.param(
            _config(age="yes"),
            "builtins.age: Input should be a valid boolean",
            id="age-not-boolean",
        ),
    ],
)
def test_invalid_config_names_the_location(data: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_traits_config(data, where="traits.yaml")
    message = str(caught.value)
    assert message.startswith("traits.yaml: ")
    assert expected in message, message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    data = _config(
        {"name": "spent", "kind": "sum", "event": "Order Completed"},
        {**ORDERS, "within_days": -5},
        {**ORDERS, "name": "spent"},
    )
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_traits_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: 2 problem(s):")
    assert "traits[0]: kind sum needs `property`" in message
    assert "traits[1].within_days: Input should be greater than or equal to 1" in message


def test_cross_trait_problems_list_each_clash(tmp_path: Path) -> None:
    data = _config(ORDERS, ORDERS, {**ORDERS, "name": "lifecycle_stage"}, lifecycle={"event": "E"})
    with pytest.raises(ConfigError) as caught:
        parse_traits_config(data, where="t.yaml")
    assert str(caught.value).splitlines()[1:] == [
        "  traits[1].name: 'order_count' is already the name of traits[0]",
        "  traits[2].name: 'lifecycle_stage' is written by an enabled built-in; "
        "choose another name",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("traits: [", "invalid YAML: line"),
        ("- a\n- b\n", "must be a YAML mapping"),
    ],
)
def test_unreadable_files_name_the_file(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=expected) as caught:
        load_traits_config(path)
    assert caught.value.path == str(path)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read traits config"):
        load_traits_config(tmp_path / "absent.yaml")


def test_empty_file_means_no_traits(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("", encoding="utf-8")
    assert load_traits_config(path) == TraitsConfig()
