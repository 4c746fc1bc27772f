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


def stored_block_key(rule: FuzzyRule, key: str) -> str:
    """A block as the store keeps it (`Block.key`): the rule's name, then its key value."""
    return f"{rule.name}\x1f{key}"


def record_blocks(fields: MatchFields, rules: Sequence[FuzzyRule]) -> set[str]:
    """Every stored block key of one record, so a later batch can find it as a candidate."""
    keys = set()
    for rule in rules:
        key = block_key(fields, rule.block_on)
        if key is not None:
            keys.add(stored_block_key(rule, key))
    return keys


@dataclass(frozen=True, slots=True)
class BlockingStats:
    """What one rule's blocking produced; oversized blocks are skipped, never silently."""

    rule: str
    blocks: int
    pairs: int
    oversized_blocks: int
    oversized_records: int


def candidate_pairs(
    view: Sequence[MatchFields],
    rule: FuzzyRule,
    *,
    max_block_size: int,
    sizes: Mapping[str, int] | None = None,
) -> tuple[list[tuple[int, int]], BlockingStats]:
    """Index pairs (i < j) sharing the rule's blocking key, skipping blocks over the cap.

    `sizes` gives a block's size in the whole store (by `stored_block_key`) when `view` holds
    only part of it, as in an incremental ingest: the cap must see the whole block, or a block
    skipped in one big run would yield pairs when its records arrive a few at a time.
    """
    blocks: dict[str, list[int]] = defaultdict(list)
    for index, fields in enumerate(view):
        key = block_key(fields, rule.block_on)
        if key is not None:
            blocks[key].append(index)
    pairs: list[tuple[int, int]] = []
    oversized = oversized_records = 0
    for key, members in blocks.items():
        if len(members) < 2:
            continue
        size = len(members)
        if sizes is not None:
            size = max(size, sizes.get(stored_block_key(rule, key), 0))
        if size > max_block_size:
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
