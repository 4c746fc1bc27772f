"""What a re-resolution would change: which customers merge, which split, and why.

Run before applying a changed match config (`idgraph ingest --dry-run`), so a person can read
the consequences first. Only records that already belonged to a customer count: a new record
joining an existing customer is growth, not a merge.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict

from idgraph.models import BlockedLink, MatchEvidence

__all__ = ["Merge", "ResolutionChanges", "Split", "resolution_changes"]

#: Evidence listed per change; the rest is counted.
_MAX_REASONS = 5


class Merge(BaseModel):
    """Records of several current customers would become one customer."""

    model_config = ConfigDict(frozen=True)

    customer: str
    from_customers: list[str]
    records: int
    reasons: list[str]


class Split(BaseModel):
    """The records of one current customer would be spread over several customers."""

    model_config = ConfigDict(frozen=True)

    customer: str
    into_customers: list[str]
    records: int
    reasons: list[str]


class ResolutionChanges(BaseModel):
    """Merges and splits between the stored grouping and a new one."""

    model_config = ConfigDict(frozen=True)

    merges: list[Merge]
    splits: list[Split]

    @property
    def unchanged(self) -> bool:
        return not self.merges and not self.splits


def resolution_changes(
    before: Mapping[str, str],
    after: Sequence[tuple[str, str]],
    accepted: Sequence[MatchEvidence],
    blocked: Sequence[BlockedLink],
) -> ResolutionChanges:
    """Compare `before` (record -> customer) with `after` (customer, record) memberships.

    A merge's reasons are the accepted links that cross between its former customers; a
    split's are the refused links between its new parts, or, when nothing was refused, that
    no evidence joins the parts any more.
    """
    new_of = {record: customer for customer, record in after}
    old_groups: dict[str, set[str]] = defaultdict(set)
    for record, customer in before.items():
        if record in new_of:
            old_groups[customer].add(record)
    new_groups: dict[str, set[str]] = defaultdict(set)
    for record in before:
        if record in new_of:
            new_groups[new_of[record]].add(record)

    crossing: dict[str, list[MatchEvidence]] = defaultdict(list)
    for e in accepted:
        if e.a in before and e.b in before and before[e.a] != before[e.b] and e.a in new_of:
            crossing[new_of[e.a]].append(e)
    refused: dict[str, list[BlockedLink]] = defaultdict(list)
    for b in blocked:
        a, z = b.evidence.a, b.evidence.b
        if a in before and before.get(a) == before.get(z) and new_of.get(a) != new_of.get(z):
            refused[before[a]].append(b)

    merges = []
    for customer, records in sorted(new_groups.items()):
        sources = sorted({before[r] for r in records})
        if len(sources) > 1:
            merges.append(
                Merge(
                    customer=customer,
                    from_customers=sources,
                    records=len(records),
                    reasons=_describe([_link(e) for e in crossing[customer]]),
                )
            )
    splits = []
    for customer, records in sorted(old_groups.items()):
        parts = sorted({new_of[r] for r in records})
        if len(parts) > 1:
            reasons = [f"{_link(b.evidence)} refused: {b.reason}" for b in refused[customer]]
            splits.append(
                Split(
                    customer=customer,
                    into_customers=parts,
                    records=len(records),
                    reasons=_describe(reasons)
                    or ["no evidence under the new config joins the parts"],
                )
            )
    return ResolutionChanges(merges=merges, splits=splits)


def _link(evidence: MatchEvidence) -> str:
    fields = ",".join(evidence.fields)
    return f"{evidence.a} ~ {evidence.b} by {evidence.rule} ({fields}, {evidence.score:.2f})"


def _describe(lines: list[str]) -> list[str]:
    if len(lines) <= _MAX_REASONS:
        return lines
    return [*lines[:_MAX_REASONS], f"... and {len(lines) - _MAX_REASONS} more"]
