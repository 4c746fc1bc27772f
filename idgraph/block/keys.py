"""Blocking: candidate pairs from shared keys, never from all pairs.

Pure functions over the derived match fields of a batch of records; no store, no globals, so the
same code can run per partition elsewhere.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import jellyfish

from idgraph.match.config import BlockPart, FuzzyRule

logger = logging.getLogger(__name__)

MatchFields = Mapping[str, str]


def key_part(fields: MatchFields, part: BlockPart) -> str | None:
    """One transformed field value, or None when the record cannot be blocked on it."""
    value = fields.get(part.field)
    if not value:
        return None
    match part.transform:
        case "exact":
            return value
        case "phonetic":
            return jellyfish.metaphone(value) or None
        case "prefix3":
            return value[:3]
        case "initial":
            return value[:1]
        case "year":
            return value[:4]
    raise AssertionError(part.transform)  # pragma: no cover - Literal is closed


def block_key(fields: MatchFields, parts: Sequence[BlockPart]) -> str | None:
    values = []
    for part in parts:
        value = key_part(fields, part)
        if value is None:
            return None
        values.append(value)
    return "\x1f".join(values)


@dataclass(frozen=True, slots=True)
class BlockingStats:
    """What one rule's blocking produced; oversized blocks are skipped, never silently."""

    rule: str
    blocks: int
    pairs: int
    oversized_blocks: int
    oversized_records: int


def candidate_pairs(
    view: Sequence[MatchFields], rule: FuzzyRule, *, max_block_size: int
) -> tuple[list[tuple[int, int]], BlockingStats]:
    """Index pairs (i < j) sharing the rule's blocking key, skipping blocks over the cap."""
    blocks: dict[str, list[int]] = defaultdict(list)
    for index, fields in enumerate(view):
        key = block_key(fields, rule.block_on)
        if key is not None:
            blocks[key].append(index)
    pairs: list[tuple[int, int]] = []
    oversized = oversized_records = 0
    for members in blocks.values():
        if len(members) < 2:
            continue
        if len(members) > max_block_size:
            oversized += 1
            oversized_records += len(members)
            continue
        for a_pos, a in enumerate(members):
            for b in members[a_pos + 1 :]:
                pairs.append((a, b))
    if oversized:
        logger.warning(
            "rule %s: skipped %d blocks over %d records", rule.name, oversized, max_block_size
        )
    stats = BlockingStats(rule.name, len(blocks), len(pairs), oversized, oversized_records)
    return pairs, stats
