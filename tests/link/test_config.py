"""Link config validation: every problem named with its location and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from idgraph.errors import ConfigError
from idgraph.link import LinkConfig, load_link_config, shipped_link_config

BASE = """unique_id: id
blocking: [[surname]]
comparisons:
  - {column: given, levels: [exact, else]}
"""


def test_shipped_people_config_round_trips_through_yaml(tmp_path: Path) -> None:
    config = shipped_link_config("people")
    saved = tmp_path / "people.yaml"
    saved.write_text(config.to_yaml(), encoding="utf-8")
    assert load_link_config(saved) == config
    assert "person_id" not in config.referenced_columns()


def test_short_forms_parse_into_explicit_models() -> None:
    config = LinkConfig.model_validate(
        {
            "unique_id": "id",
            "blocking": [["surname:soundex", "given:first:3", "dob:year"]],
            "comparisons": [
                {"column": "given", "levels": ["exact", {"jaro_winkler": 0.9}, {"levenshtein": 2}]},
                {"columns": ["given", "surname"], "levels": ["exact", {"swapped": True}]},
            ],
        }
    )
    parts = config.blocking[0]
    assert [(p.column, p.transform, p.n) for p in parts] == [
        ("surname", "soundex", None),
        ("given", "first", 3),
        ("dob", "year", None),
    ]
    assert config.comparisons[0].level_labels == [
        "exact",
        "jaro_winkler>=0.9",
        "levenshtein<=2",
        "else",
    ]
    assert config.comparisons[1].output_name == "given_surname"


@pytest.mark.parametrize(
    ("extra_or_text", "expected"),
    [
        ("threshold: 1.5\n", "threshold: Input should be less than 1"),
        ("max_block_size: 1\n", "max_block_size"),
        ("blocking: [[surname:soundexx]]\n", "unknown key transform 'soundexx'; expected one of"),
        ("blocking: [[surname:first]]\n", "'first' needs a length"),
        ("blocking: [[surname:year:2]]\n", "'year' takes no argument"),
        ("blocking: []\n", "blocking: List should have at least 1 item"),
        (
            "comparisons: [{column: given, levels: [exact, {jw: 0.9}]}]\n",
            "comparisons.0.levels.1: unknown level 'jw'; expected one of exact, else, jaro_winkler",
        ),
        (
            "comparisons: [{column: given, levels: [exact, {jaro_winkler: 1.5}]}]\n",
            "needs a similarity in (0, 1], got 1.5",
        ),
        (
            "comparisons: [{column: given, levels: [{levenshtein: 0.5}]}]\n",
            "needs an edit distance >= 1",
        ),
        ("comparisons: [{column: dob, levels: [{date: tomorrow}]}]\n", "level 'date' needs one of"),
        ("comparisons: [{column: given, levels: [else, exact]}]\n", "'else' must be the last"),
        ("comparisons: [{column: given, levels: [else]}]\n", "at least one level besides 'else'"),
        ("comparisons: [{column: g, levels: [exact, exact]}]\n", "level 'exact' is listed twice"),
        (
            "comparisons: [{column: given, levels: [{jaro: 0.9}], term_frequency: true}]\n",
            "term_frequency adjusts the 'exact' level",
        ),
        (
            "comparisons: [{column: a, columns: [a, b], levels: [exact]}]\n",
            "exactly one of 'column' or 'columns'",
        ),
        ("comparisons: [{column: given, levels: [{swapped: true}]}]\n", "'swapped' level needs"),
        (
            "comparisons: [{column: g, levels: [exact]}, {column: g, levels: [exact]}]\n",
            "two comparisons are named 'g'",
        ),
        ("blocking: [[a, b:first:2], [a, 'b:first:2']]\n", "rule [a, b:first:2] is listed twice"),
        ("deterministic: [email]\n", "deterministic column 'email' needs its own blocking rule"),
        ("fields: {given: {clean: [lowercase]}}\n", "fields.given.clean.0: Input should be"),
        ("guards: {conflicting: [{column: dob, allow_levels: 0}]}\n", "allow_levels"),
        ("colour: blue\n", "colour: Extra inputs are not permitted"),
        ("- a list\n", "must be a YAML mapping"),
        ("unique_id: [\n", "invalid YAML: line 2"),
    ],
)
def test_invalid_configs_say_where_and_what(
    tmp_path: Path, extra_or_text: str, expected: str
) -> None:
    path = tmp_path / "link.yaml"
    text = extra_or_text if extra_or_text.startswith(("-", "unique_id")) else BASE + extra_or_text
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_link_config(path)
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    path = tmp_path / "link.yaml"
    path.write_text(BASE + "threshold: 2\nmax_block_size: 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"2 problem\(s\)"):
        load_link_config(path)


def test_missing_file_and_unknown_shipped_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read link config"):
        load_link_config(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="no such shipped link config"):
        shipped_link_config("absent")
