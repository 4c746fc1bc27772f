"""Survivorship: the golden profile of a unified customer from its records."""

from __future__ import annotations

from collections.abc import Sequence

from idgraph.match.config import Survivorship
from idgraph.models import Record
from idgraph.types import FIELD_NAMES, TraitValue


def _rank(record: Record, priority: Sequence[str]) -> tuple[int, int, str]:
    position = priority.index(record.source) if record.source in priority else len(priority)
    return (position, -record.updated_ts, record.key)


def golden_fields(records: Sequence[Record], rules: Survivorship) -> dict[str, str]:
    """Per field, the value of the best-ranked record that has one (priority, then recency)."""
    golden: dict[str, str] = {}
    for name in FIELD_NAMES:
        candidates = [r for r in records if r.fields.get(name)]
        if candidates:
            best = min(candidates, key=lambda r: _rank(r, rules.priority(name)))
            golden[name] = best.fields[name]
    return golden


def golden_traits(records: Sequence[Record], rules: Survivorship) -> dict[str, TraitValue]:
    """Per trait, the most recent value (a configured source priority wins over recency)."""
    traits: dict[str, TraitValue] = {}
    names = sorted({name for r in records for name in r.traits})
    for name in names:
        candidates = [r for r in records if r.traits.get(name) not in (None, "")]
        if candidates:
            best = min(candidates, key=lambda r: _rank(r, rules.priority(name)))
            traits[name] = best.traits[name]
    return traits
