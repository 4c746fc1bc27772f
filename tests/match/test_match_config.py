"""The match config: validation that names every problem, and the shipped defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from idgraph.errors import ConfigError
from idgraph.match.config import MatchConfig, load_match_config


def test_default_config_round_trips_through_yaml(tmp_path: Path) -> None:
    config = load_match_config()
    saved = tmp_path / "match.yaml"
    saved.write_text(config.to_yaml(), encoding="utf-8")
    assert load_match_config(saved) == config


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        (
            "identifiers: []\nfuzzy:\n  - name: n\n    block_on: [last_name]\n    compare:\n"
            "      - {field: first_name, method: exact}\n      - {field: full_name}\n",
            "a name alone never merges",
        ),
        ("identifiers: [{kind: email}, {kind: email}]\n", "listed twice"),
        ("identifiers: [{kind: shoe_size}]\n", "identifiers.0.kind"),
        (
            "identifiers: []\nfuzzy:\n  - name: n\n    block_on: ['last_name:soundexx']\n"
            "    compare: [{field: full_name}, {field: birth_date}]\n",
            "block_on",
        ),
        ("identifiers: []\nmax_block_size: 1\n", "max_block_size"),
        ("- just a list\n", "must be a YAML mapping"),
        ("identifiers: [\n", "invalid YAML: line 2"),
    ],
)
def test_invalid_configs_say_what_is_wrong(tmp_path: Path, yaml_text: str, expected: str) -> None:
    path = tmp_path / "match.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ConfigError, match=expected) as caught:
        load_match_config(path)
    assert str(path) in str(caught.value)


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    path = tmp_path / "match.yaml"
    path.write_text("identifiers: [{kind: nope}]\nmax_block_size: 0\nlimits: {user_id: 0}\n")
    with pytest.raises(ConfigError) as caught:
        load_match_config(path)
    message = str(caught.value)
    assert "3 problem(s)" in message
    for location in ("identifiers.0.kind", "max_block_size", "limits.user_id"):
        assert location in message


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read match config"):
        load_match_config(tmp_path / "nope.yaml")


def test_model_is_frozen() -> None:
    config = load_match_config()
    assert isinstance(config, MatchConfig)
    with pytest.raises(ValueError):
        config.max_block_size = 3  # type: ignore[misc]
