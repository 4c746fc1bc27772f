"""Probabilistic record linkage (Fellegi–Sunter) for tables of any schema, configured by YAML.

The flow is prepare (clean, encode) → block (candidate pairs) → compare (levels per pair) →
train (m, u, λ, term frequencies) → score (weights) → cluster (guarded connected components).
Every stage works on whole numpy arrays, so a million candidate pairs take seconds.

Examples:
    >>> import pandas as pd
    >>> from idgraph.link import LinkConfig
    >>> config = LinkConfig.model_validate({
    ...     "unique_id": "id",
    ...     "blocking": [["surname"]],
    ...     "comparisons": [{"column": "given", "levels": ["exact", {"jaro_winkler": 0.9}]}],
    ... })
    >>> [c.level_labels for c in config.comparisons]
    [['exact', 'jaro_winkler>=0.9', 'else']]
"""

from __future__ import annotations

from typing import Any

from idgraph.link.block import BlockingReport, RuleReport, block
from idgraph.link.cluster import ClusterSplit, LinkReport, LinkResult, link
from idgraph.link.config import LinkConfig, load_link_config, shipped_link_config
from idgraph.link.model import ComparisonParams, Model
from idgraph.link.prepare import prepare
from idgraph.link.score import score_pairs
from idgraph.link.train import label_codes, train_model

__all__ = [
    "BlockingReport",
    "ClusterSplit",
    "ComparisonParams",
    "LinkConfig",
    "LinkReport",
    "LinkResult",
    "Model",
    "RuleReport",
    "blocking_report",
    "link",
    "load_link_config",
    "score_pairs",
    "shipped_link_config",
    "train_model",
]


def blocking_report(df: Any, config: LinkConfig, *, labels: Any = None) -> BlockingReport:
    """The blocking funnel of `config` on `df`: pairs per rule, in total, blocks skipped.

    Args:
        df: A pandas DataFrame with the columns the config names.
        config: The link config.
        labels: Optional truth (a column name or a Series aligned with `df`); adds pair recall.

    Raises:
        ConfigError: a column the config names is missing, or the unique id is not unique.
    """
    prepared = prepare(df, config)
    truth = label_codes(labels, df) if labels is not None else None
    return block(prepared, config, labels=truth).report
