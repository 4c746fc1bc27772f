"""Source mapping YAML: the documented form loads, and every problem is reported at once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from idgraph.errors import ConfigError
from idgraph.ingest import SourceMapping, load_mapping
from idgraph.ingest.mapping import default_source_name, sidecar_path
from idgraph.normalize.record import NormalizeOptions

Write = Callable[[str, str | bytes], Path]

DOCUMENTED = """\
source: crm
id: customer_number
columns:
  email: email_address
  phone: phone
  first_name: first_name
  last_name: last_name
  birth_date: dob
  street: street
  city: city
  postcode: zip
  country: country
  customer_id: customer_number
  updated_at: last_modified
traits:
  lifetime_value: {column: ltv, type: number}
  loyalty_tier: {column: tier}
event:
  name: Order Completed
  timestamp: purchased_at
  id: receipt_id
  properties: {total: {column: amount, type: number}, store: {column: store_id}}
default_region: IT
date_order: DMY
delimiter: ","
"""


def test_documented_mapping_loads(write: Write) -> None:
    mapping = load_mapping(write("crm.mapping.yaml", DOCUMENTED))
    assert mapping.source == "crm"
    assert mapping.columns["postcode"] == "zip"
    assert mapping.traits["loyalty_tier"].type == "string"
    assert mapping.traits["lifetime_value"].type == "number"
    assert mapping.event is not None
    assert mapping.event.properties["store"].column == "store_id"
    options = mapping.options(NormalizeOptions())
    assert (options.default_region, options.date_order) == ("IT", "DMY")
    assert mapping.required_columns()["ltv"] == "trait lifetime_value"


def test_mapping_with_several_errors_reports_all_of_them(write: Write) -> None:
    path = write(
        "bad.mapping.yaml",
        """\
source: CRM-2
id: ""
columns:
  emial: email
  phone: 7
traits:
  LifetimeValue: {column: ltv, type: number}
  tier: {column: tier, type: money}
  ok: {col: x}
event: {timestamp: at}
default_region: ZZ
date_order: YMD
delimiter: ";;"
colour: blue
""",
    )
    with pytest.raises(ConfigError) as info:
        load_mapping(path)
    lines = str(info.value).splitlines()
    expected = [
        "source:",
        "id:",
        "columns.emial:",
        "columns.phone:",
        "traits.LifetimeValue:",
        "traits.tier.type:",
        "traits.ok.column:",
        "traits.ok.col:",
        "event.name:",
        "default_region:",
        "date_order:",
        "delimiter:",
        "colour:",
    ]
    assert info.value.path == str(path)
    assert f"({len(expected)} problems)" in lines[0]
    problems = lines[1:]
    assert len(problems) == len(expected)
    for line, where in zip(problems, expected, strict=True):
        assert line.startswith(f"{path}: {where} "), line


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id: [unclosed\n", "invalid YAML: line 2"),
        ("- id\n- email\n", "must be a YAML mapping of keys, not list"),
        ("just text\n", "not str"),
    ],
)
def test_unparseable_mapping(write: Write, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_mapping(write("m.mapping.yaml", text))


def test_missing_mapping_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read mapping"):
        load_mapping(tmp_path / "none.mapping.yaml")


def test_empty_mapping_is_all_defaults(write: Write) -> None:
    assert load_mapping(write("m.mapping.yaml", "")) == SourceMapping()


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("web.jsonl", "web"),
        ("Web Events-2024.ndjson", "web_events_2024"),
        ("CRM.csv", "crm"),
        ("2024_pos.csv", "s_2024_pos"),
    ],
)
def test_default_source_name(name: str, source: str) -> None:
    assert default_source_name(Path("in") / name) == source
    assert SourceMapping().source_name(Path(name)) == source
    assert SourceMapping(source="x").source_name(Path(name)) == "x"


def test_sidecar_path() -> None:
    assert sidecar_path(Path("data/crm.csv")) == Path("data/crm.mapping.yaml")
