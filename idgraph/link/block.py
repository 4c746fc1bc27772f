"""Blocking: candidate pairs from records that share every key of at least one rule.

Each rule turns into one integer key per record (null when any part is null); pairs are made
within equal keys with no Python loop per pair, left < right by row position. Rules are unioned
without a global de-duplication: a pair made by rule k is dropped when an earlier rule also made
it, which is checked on the pair's own keys (and that earlier block's size), as Splink does.
Blocks larger than `max_block_size` make no pairs; they are counted in the report instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from idgraph.link.config import BlockPart, LinkConfig
from idgraph.link.prepare import BoolArray, IntArray, Prepared

__all__ = [
    "BlockingReport",
    "Candidates",
    "RuleReport",
    "block",
    "pairs_within",
    "rule_keys",
    "rule_membership",
    "true_pair_count",
]


def _part_codes(prepared: Prepared, part: BlockPart) -> IntArray:
    enc = prepared.columns[part.column]
    if part.transform == "exact":
        return enc.codes
    if part.transform in ("soundex", "metaphone"):
        per_value = enc.derived_codes(part.transform)
    elif part.transform in ("first", "last"):
        per_value = enc.prefix_codes(int(part.n or 1), last=part.transform == "last")
    else:
        ymd = enc.dates()
        raw = ymd[:, 0] if part.transform == "year" else ymd[:, 1] * 100 + ymd[:, 2]
        per_value = np.where(ymd[:, 0] >= 0, raw, -1)
    looked_up: IntArray = np.append(per_value, -1)[enc.codes]
    return looked_up


def rule_keys(prepared: Prepared, rule: list[BlockPart]) -> IntArray:
    """One key per record for a rule: equal keys = equal on every part; -1 when a part is null."""
    parts = [_part_codes(prepared, part) for part in rule]
    if len(parts) == 1:
        return parts[0]
    frame = pd.DataFrame({i: p for i, p in enumerate(parts)})
    keys = np.array(frame.groupby(list(frame.columns), sort=False).ngroup(), dtype=np.int64)
    keys[(frame < 0).any(axis=1).to_numpy()] = -1
    return keys


def _block_sizes(keys: IntArray) -> IntArray:
    """Per record, how many records share its key (0 for a null key)."""
    present = keys >= 0
    counts = np.bincount(keys[present]) if present.any() else np.zeros(0, dtype=np.int64)
    sizes = np.zeros(len(keys), dtype=np.int64)
    sizes[present] = counts[keys[present]]
    return sizes


def pairs_within(keys: IntArray, allowed: Any) -> tuple[IntArray, IntArray]:
    """All pairs of records with equal key among `allowed` records, left < right."""
    rows = np.flatnonzero(allowed)
    order = rows[np.argsort(keys[rows], kind="stable")]
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    position = np.arange(len(order)) - np.repeat(starts, sizes)
    partners = np.repeat(sizes, sizes) - position - 1
    first = np.repeat(np.arange(len(order)), partners)
    run_start = np.repeat(np.cumsum(partners) - partners, partners)
    second = first + 1 + (np.arange(len(first)) - run_start)
    a, b = order[first], order[second]
    return np.minimum(a, b), np.maximum(a, b)


@dataclass(frozen=True)
class RuleReport:
    """What one rule contributed: pairs it made, pairs new to the union, blocks it skipped."""

    rule: str
    pairs: int
    new_pairs: int
    blocks_skipped: int
    records_in_skipped_blocks: int
    pairs_skipped: int
    true_pairs_kept: int | None = None


@dataclass(frozen=True)
class BlockingReport:
    """The blocking funnel; with truth labels, `pair_recall` = true pairs kept / true pairs."""

    rules: list[RuleReport]
    records: int
    pairs: int
    max_block_size: int
    true_pairs: int | None = None
    true_pairs_kept: int | None = None

    @property
    def pair_recall(self) -> float | None:
        if self.true_pairs is None or self.true_pairs_kept is None:
            return None
        return self.true_pairs_kept / self.true_pairs if self.true_pairs else 1.0

    @property
    def blocks_skipped(self) -> int:
        return sum(r.blocks_skipped for r in self.rules)

    def as_rows(self) -> list[dict[str, Any]]:
        """One row per rule plus a total row, ready for a table."""
        rows = [dict(vars(r)) for r in self.rules]
        rows.append(
            {
                "rule": "(union)",
                "pairs": self.pairs,
                "new_pairs": self.pairs,
                "blocks_skipped": self.blocks_skipped,
                "records_in_skipped_blocks": sum(r.records_in_skipped_blocks for r in self.rules),
                "pairs_skipped": sum(r.pairs_skipped for r in self.rules),
                "true_pairs_kept": self.true_pairs_kept,
            }
        )
        return rows


@dataclass(frozen=True)
class Candidates:
    """Candidate pairs (row positions) with the index of the rule that first made each."""

    left: IntArray
    right: IntArray
    rule: IntArray
    report: BlockingReport


def true_pair_count(labels: IntArray) -> int:
    """Pairs of records with the same label (labels < 0 are singletons)."""
    counts = np.bincount(labels[labels >= 0]) if (labels >= 0).any() else np.zeros(0, np.int64)
    return int((counts * (counts - 1) // 2).sum())


def block(
    prepared: Prepared,
    config: LinkConfig,
    *,
    labels: IntArray | None = None,
) -> Candidates:
    """Candidate pairs for the config's blocking rules, and the report.

    Args:
        prepared: The encoded table.
        config: Its link config (rules and `max_block_size`).
        labels: Truth as integer codes per record (-1 = unknown), to measure pair recall.
    """
    cap = config.max_block_size
    all_keys = [rule_keys(prepared, rule) for rule in config.blocking]
    all_sizes = [_block_sizes(keys) for keys in all_keys]
    lefts, rights, rule_ids, reports = [], [], [], []
    for index, (rule, keys, sizes) in enumerate(
        zip(config.blocking, all_keys, all_sizes, strict=True)
    ):
        allowed = (sizes >= 2) & (sizes <= cap)
        a, b = pairs_within(keys, allowed)
        new = np.ones(len(a), dtype=bool)
        for keys_before, sizes_before in zip(all_keys[:index], all_sizes[:index], strict=True):
            made_before = (keys_before[a] == keys_before[b]) & (keys_before[a] >= 0)
            new &= ~(made_before & (sizes_before[a] <= cap))
        skipped = np.unique(keys[sizes > cap])
        skipped_sizes = np.bincount(keys[sizes > cap])[skipped] if skipped.size else skipped
        kept_true = None
        if labels is not None:
            kept_true = int(((labels[a] == labels[b]) & (labels[a] >= 0)).sum())
        reports.append(
            RuleReport(
                rule="[" + ", ".join(p.label for p in rule) + "]",
                pairs=len(a),
                new_pairs=int(new.sum()),
                blocks_skipped=len(skipped),
                records_in_skipped_blocks=int(skipped_sizes.sum()),
                pairs_skipped=int((skipped_sizes * (skipped_sizes - 1) // 2).sum()),
                true_pairs_kept=kept_true,
            )
        )
        lefts.append(a[new])
        rights.append(b[new])
        rule_ids.append(np.full(int(new.sum()), index, dtype=np.int64))
    left = np.concatenate(lefts) if lefts else np.zeros(0, np.int64)
    right = np.concatenate(rights) if rights else np.zeros(0, np.int64)
    true_pairs = true_kept = None
    if labels is not None:
        true_pairs = true_pair_count(labels)
        true_kept = int(((labels[left] == labels[right]) & (labels[left] >= 0)).sum())
    report = BlockingReport(reports, prepared.n, len(left), cap, true_pairs, true_kept)
    return Candidates(left, right, np.concatenate(rule_ids), report)


def rule_membership(
    prepared: Prepared, config: LinkConfig, left: IntArray, right: IntArray
) -> list[BoolArray]:
    """For each rule, which of the pairs it makes itself (equal keys, block within the cap)."""
    members = []
    for rule in config.blocking:
        keys = rule_keys(prepared, rule)
        sizes = _block_sizes(keys)
        members.append(
            (keys[left] == keys[right]) & (keys[left] >= 0) & (sizes[left] <= config.max_block_size)
        )
    return members
