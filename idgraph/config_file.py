"""Reading YAML config files (match config, source mappings, junk lists) with one kind of error.

Every failure is a `ConfigError` naming the file; YAML syntax errors carry line and column, and
validation errors list every problem as `location: message`, all at once.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from idgraph.errors import ConfigError


def read_yaml_mapping(path: Path | str, *, what: str, text: str | None = None) -> dict[str, Any]:
    """The YAML document at `path` (or `text`, read from there) as a dict; empty gives `{}`."""
    try:
        if text is None:
            text = Path(path).read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except OSError as exc:
        raise ConfigError(f"cannot read {what}: {exc.strerror or exc}", path=path) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} is not UTF-8 text", path=path) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"invalid YAML: {where}{problem}", path=path) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"a {what} must be a YAML mapping of keys, not {type(data).__name__}", path=path
        )
    return data


def validation_problems(exc: ValidationError) -> list[str]:
    """One `location: message` line per pydantic error."""
    problems = []
    for error in exc.errors():
        location = ".".join(str(p) for p in error["loc"] if p != "[key]") or "(top level)"
        problems.append(f"{location}: {error['msg'].removeprefix('Value error, ')}")
    return problems


def problems_message(problems: list[str]) -> str:
    return f"{len(problems)} problem(s):\n  " + "\n  ".join(problems)


def read_config_mapping(
    path: Path | str | None, *, package: str, what: str
) -> tuple[str, dict[str, Any]]:
    """A config file's mapping, or the package's shipped `default.yaml` when `path` is None.

    Returns:
        Where it came from (for messages) and the mapping.
    """
    if path is None:
        where = f"default {what}"
        text = resources.files(package).joinpath("default.yaml").read_text("utf-8")
        return where, read_yaml_mapping(where, what=what, text=text)
    return str(path), read_yaml_mapping(path, what=what)
