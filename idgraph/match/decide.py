"""Which pairs link: deterministic identifiers, explicit links, and fuzzy rules.

Produces `MatchEvidence` in a deterministic order of strength (explicit links, then identifiers
in the configured order, then fuzzy matches by score) so clustering under identity limits is
reproducible.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from idgraph.block.keys import BlockingStats, candidate_pairs
from idgraph.match.comparisons import similarities
from idgraph.match.config import MatchConfig
from idgraph.match.identity import IdentityClasses, identities_of, identity_classes
from idgraph.models import Link, MatchEvidence, Record, identifier_key


@dataclass(slots=True)
class IdentifierVerdict:
    """Whether one identifier value links its records, and why not when it does not."""

    kind: str
    value: str
    record_keys: list[str]
    linking: bool
    reason: str = ""


@dataclass(slots=True)
class Evidence:
    """All the evidence for one batch, strongest first, plus what the guards decided."""

    edges: list[MatchEvidence] = field(default_factory=list)
    identifiers: dict[str, IdentifierVerdict] = field(default_factory=dict)
    blocking: list[BlockingStats] = field(default_factory=list)
    pairs_compared: int = 0


def identifier_verdicts(
    records: Sequence[Record],
    links: Sequence[Link],
    config: MatchConfig,
    *,
    settled: Mapping[str, tuple[bool, str]] | None = None,
) -> dict[str, IdentifierVerdict]:
    """Decide for every identifier value whether it may link the records that carry it.

    `settled` holds verdicts (linking, reason) decided earlier over all of an identifier's
    holders; an incremental ingest passes those of identifiers no incoming record carries,
    because `records` then holds only some of their holders.
    """
    holders: dict[str, list[int]] = defaultdict(list)
    kinds: dict[str, tuple[str, str]] = {}
    for index, record in enumerate(records):
        for id_kind, id_value in record.identifiers:
            key = identifier_key(id_kind, id_value)
            holders[key].append(index)
            kinds[key] = (id_kind, id_value)
    classes = identity_classes(records, links, config.limits)
    verdicts: dict[str, IdentifierVerdict] = {}
    for key, members in holders.items():
        kind, value = kinds[key]
        verdict = IdentifierVerdict(kind, value, [records[i].key for i in members], True)
        rule = config.identifier_rule(kind)
        if settled is not None and key in settled:
            verdict.linking, verdict.reason = settled[key]
        elif rule is None or not rule.link:
            verdict.linking, verdict.reason = False, f"{kind} is not a linking identifier"
        elif len(members) > rule.max_records:
            verdict.linking = False
            verdict.reason = f"shared by {len(members)} records (max_records {rule.max_records})"
        else:
            verdict.reason = _limit_breach(records, members, classes, config)
            verdict.linking = not verdict.reason
        verdicts[key] = verdict
    return verdicts


def _limit_breach(
    records: Sequence[Record], members: Sequence[int], classes: IdentityClasses, config: MatchConfig
) -> str:
    for kind, limit in config.limits.items():
        identities = {c for i in members for c in identities_of(records[i], kind, classes)}
        if len(identities) > limit:
            return f"joins {len(identities)} distinct {kind} (limit {limit})"
    for name in config.strong_attributes:
        values = {records[i].fields[name] for i in members if records[i].fields.get(name)}
        if len(values) > 1:
            return f"joins records with {len(values)} different {name}"
    return ""


def collect_evidence(
    records: Sequence[Record],
    views: Sequence[Mapping[str, str]],
    links: Sequence[Link],
    config: MatchConfig,
    *,
    settled: Mapping[str, tuple[bool, str]] | None = None,
    block_sizes: Mapping[str, int] | None = None,
) -> Evidence:
    """Every candidate link of a batch, strongest first.

    An incremental ingest passes only the records it re-resolves, with the store-wide facts
    that decide the guards: `settled` identifier verdicts and `block_sizes` (see
    `identifier_verdicts` and `candidate_pairs`).
    """
    evidence = Evidence()
    known = {r.key for r in records}
    for link in sorted(links, key=lambda lk: (lk.a, lk.b)):
        if link.a in known and link.b in known and link.a != link.b:
            evidence.edges.append(MatchEvidence(link.a, link.b, link.rule, ("id",), 1.0))
    evidence.identifiers = identifier_verdicts(records, links, config, settled=settled)
    order: dict[str, int] = {rule.kind: pos for pos, rule in enumerate(config.identifiers)}
    for key in sorted(
        evidence.identifiers, key=lambda k: (order.get(evidence.identifiers[k].kind, 99), k)
    ):
        verdict = evidence.identifiers[key]
        if not verdict.linking or len(verdict.record_keys) < 2:
            continue
        hub, *others = sorted(verdict.record_keys)
        for other in others:
            evidence.edges.append(
                MatchEvidence(hub, other, f"same_{verdict.kind}", (verdict.kind,), 1.0)
            )
    evidence.edges.extend(_fuzzy_edges(records, views, config, evidence, block_sizes))
    if config.probabilistic is not None:
        # Imported here: the engine pulls in pandas, which plain rule-based runs do not need.
        from idgraph.match.probabilistic import probabilistic_edges

        edges, scored = probabilistic_edges(records, evidence.identifiers, config.probabilistic)
        evidence.edges.extend(edges)
        evidence.pairs_compared += scored
    return evidence


def fuzzy_matches(
    records: Sequence[Record],
    views: Sequence[Mapping[str, str]],
    config: MatchConfig,
    *,
    block_sizes: Mapping[str, int] | None = None,
) -> list[MatchEvidence]:
    """The fuzzy rules' matches among `records`, before any guard or limit.

    An incremental ingest asks this of a batch and its stored block mates to learn which
    stored records it may actually join, before loading their customers.
    """
    return _fuzzy_edges(records, views, config, Evidence(), block_sizes)


def _fuzzy_edges(
    records: Sequence[Record],
    views: Sequence[Mapping[str, str]],
    config: MatchConfig,
    evidence: Evidence,
    block_sizes: Mapping[str, int] | None,
) -> list[MatchEvidence]:
    best: dict[tuple[str, str], MatchEvidence] = {}
    for rule in config.fuzzy:
        pairs, stats = candidate_pairs(
            views, rule, max_block_size=config.max_block_size, sizes=block_sizes
        )
        evidence.blocking.append(stats)
        if not pairs:
            continue
        evidence.pairs_compared += len(pairs)
        left = np.fromiter((a for a, _ in pairs), dtype=np.int64, count=len(pairs))
        right = np.fromiter((b for _, b in pairs), dtype=np.int64, count=len(pairs))
        passed = np.ones(len(pairs), dtype=bool)
        total = np.zeros(len(pairs), dtype=np.float64)
        for comparison in rule.compare:
            name = comparison.field
            scores = similarities(
                comparison,
                [views[i].get(name, "") for i in left],
                [views[i].get(name, "") for i in right],
            )
            passed &= scores >= comparison.threshold
            total += scores
        fields = tuple(c.field for c in rule.compare)
        for pos in np.flatnonzero(passed):
            a, b = sorted((records[int(left[pos])].key, records[int(right[pos])].key))
            score = round(float(total[pos]) / len(rule.compare), 4)
            current = best.get((a, b))
            if current is None or score > current.score:
                best[(a, b)] = MatchEvidence(a, b, rule.name, fields, score)
    return sorted(best.values(), key=lambda e: (-e.score, e.a, e.b))
