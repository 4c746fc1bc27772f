"""A trained Fellegi–Sunter model: the prior λ, m and u per level, and term-frequency tables.

`match_weight = log2(λ / (1 - λ)) + Σ log2(m / u)`, a null level adding 0, and the probability is
`2**w / (1 + 2**w)`. On the `exact` level of a comparison with term frequencies, `u` is the
frequency of the agreeing value among records instead of the level's average, so a common value
counts less than a rare one. The model is saved as JSON with its config, so a run can be replayed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import ValidationError

from idgraph.config_file import problems_message, validation_problems
from idgraph.errors import ConfigError
from idgraph.link.config import Comparison, LinkConfig

__all__ = ["ComparisonParams", "Model"]

FORMAT = "idgraph-link-model"
VERSION = 1


@dataclass(frozen=True)
class ComparisonParams:
    """m and u per level of one comparison (same order as its config levels, `else` last).

    `tf` maps a value seen at least twice in training to its frequency; any other value gets
    `tf_default` (one record's share), which is what a singleton's frequency would be.
    """

    name: str
    levels: list[str]
    m: list[float]
    u: list[float]
    tf: dict[str, float] | None = None
    tf_default: float | None = None

    def weights(self) -> npt.NDArray[np.float64]:
        """log2(m/u) per level, then 0.0 so that index -1 (the null level) weighs nothing."""
        m, u = np.asarray(self.m), np.asarray(self.u)
        return np.append(np.log2(m / u), 0.0)


@dataclass(frozen=True)
class Model:
    """Config, prior and parameters; everything scoring needs. See the module docstring."""

    config: LinkConfig
    prior: float
    comparisons: list[ComparisonParams]
    training: dict[str, Any] = field(default_factory=dict)

    @property
    def prior_weight(self) -> float:
        return math.log2(self.prior / (1.0 - self.prior))

    def params(self, name: str) -> ComparisonParams:
        return next(p for p in self.comparisons if p.name == name)

    def comparison(self, name: str) -> Comparison:
        return next(c for c in self.config.comparisons if c.output_name == name)

    def describe(self) -> list[dict[str, Any]]:
        """Rows for `idgraph model show`: comparison, level, m, u, Bayes factor, weight.

        The first row is the prior; a comparison with term frequencies notes it on its exact level.
        """
        rows: list[dict[str, Any]] = [
            {
                "comparison": "(prior)",
                "level": "λ",
                "m": None,
                "u": None,
                "bayes_factor": self.prior / (1 - self.prior),
                "weight": self.prior_weight,
            }
        ]
        for params in self.comparisons:
            for label, m, u in zip(params.levels, params.m, params.u, strict=True):
                tf_note = " (term frequency)" if label == "exact" and params.tf is not None else ""
                rows.append(
                    {
                        "comparison": params.name,
                        "level": label + tf_note,
                        "m": m,
                        "u": u,
                        "bayes_factor": m / u,
                        "weight": math.log2(m / u),
                    }
                )
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "config": self.config.model_dump(mode="json", exclude_none=True),
            "prior": self.prior,
            "comparisons": [vars(p) for p in self.comparisons],
            "training": self.training,
        }

    def save(self, path: Path | str) -> None:
        """Write the model as JSON (config included)."""
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "model") -> Model:
        """A model from `to_dict()` output; raises ConfigError naming what does not fit."""
        if data.get("format") != FORMAT or data.get("version") != VERSION:
            raise ConfigError(f"not an {FORMAT} file of version {VERSION}", path=where)
        try:
            config = LinkConfig.model_validate(data["config"])
            params = [ComparisonParams(**p) for p in data["comparisons"]]
            prior = float(data["prior"])
        except ValidationError as exc:
            raise ConfigError(problems_message(validation_problems(exc)), path=where) from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"malformed model file: {exc}", path=where) from exc
        expected = [(c.output_name, c.level_labels) for c in config.comparisons]
        if [(p.name, p.levels) for p in params] != expected:
            raise ConfigError("the parameters do not match the config's comparisons", path=where)
        return cls(config, prior, params, dict(data.get("training", {})))

    @classmethod
    def load(cls, path: Path | str) -> Model:
        """Read a model saved by `save`.

        Raises:
            ConfigError: unreadable, not JSON, or parameters that do not fit the config.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read link model: {exc}", path=path) from exc
        if not isinstance(data, dict):
            raise ConfigError("a link model file holds a JSON object", path=path)
        return cls.from_dict(data, where=str(path))
