"""Where the matcher's errors come from: wrong links by their evidence, missed pairs by kind.

Scores say how many pairs are wrong; the matcher's author needs to know which rule to fix.
Everything here works on what the store keeps after an ingest (records with their customer,
`MATCHED` edges with their rule, identifiers with their `linking` verdict), so it reads the
default matcher through its output only, and keeps working while the matcher changes.

- **Wrong links.** Inside one predicted customer, the records of each true person form a
  group. For every two people sharing a customer, their wrong pairs (|A| x |B|) are charged to
  the evidence directly between their records: the rules of `MATCHED` edges and the kinds of
  linking identifiers both hold (`identifier:email`). Two people with no direct evidence were
  joined through a third one (`via another person`).
- **Missed pairs.** Two records of one person in different customers either share an
  identifier value (switched off for the value as a whole, with the store's reason, or
  linking but refused by a guard at clustering), or agree on first and last name and nothing
  stronger (`name only`), or share neither: then the class names the stored fields the two
  agree on exactly (`agree on last_name, postcode`; `agree on nothing`), since those decide
  whether any blocking rule could have brought the pair in. A record the ingest rejected is a
  class of its own.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "FIELDS",
    "VIA_ANOTHER",
    "Breakdown",
    "Evidence",
    "IdentifierUse",
    "breakdown",
    "breakdown_rows",
    "edge_label",
    "held_identifiers",
    "missed_pair_class",
]

VIA_ANOTHER = "via another person"
NAME_ONLY = "name only: same first and last name, nothing else agrees"
REJECTED = "a record was rejected by the ingest"
#: The stored fields a missed pair is described by, in this order.
FIELDS = ("first_name", "last_name", "birth_date", "postcode", "street", "city")


@dataclass(frozen=True)
class IdentifierUse:
    """One record holding one identifier value, with the store's verdict on the value."""

    record: str
    identifier: str
    kind: str
    linking: bool
    reason: str = ""


@dataclass(frozen=True)
class Evidence:
    """What the store says joined or could have joined records."""

    matched: list[tuple[str, str, str]] = field(default_factory=list)
    """`(record a, record b, rule)` of every `MATCHED` edge."""
    identifiers: list[IdentifierUse] = field(default_factory=list)
    fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Record key -> its stored values of FIELDS, in that order; empty when missing."""


@dataclass(frozen=True)
class Breakdown:
    """Wrong pairs by the evidence charged with them; missed pairs by class."""

    wrong_pairs: Counter[str]
    wrong_person_pairs: Counter[str]
    """How many pairs of people each evidence label joined (a pair of people counts once)."""
    missed_pairs: Counter[str]


def edge_label(rule: str, fields: str | None) -> str:
    """A `MATCHED` edge as a class: its rule, and for a scored link the levels that agreed.

    A scored link's `fields` is its waterfall (`prior:-15.29,first_name=exact:+7.43,
    phone=else:-3.35`); the fields that agreed at some level say which evidence carried it.
    """
    levels = []
    for part in (fields or "").split(","):
        name, sep, rest = part.partition("=")
        level = rest.rpartition(":")[0]
        if sep and level and level != "else":
            levels.append(f"{name}={level}")
    return f"{rule}: {' '.join(levels)}" if levels else rule


def _holders(identifiers: Iterable[IdentifierUse]) -> dict[str, list[IdentifierUse]]:
    by_value: dict[str, list[IdentifierUse]] = defaultdict(list)
    for use in identifiers:
        by_value[use.identifier].append(use)
    return by_value


def _direct_evidence(
    labels: Mapping[str, str], truth: Mapping[str, str], evidence: Evidence
) -> dict[tuple[str, str, str], set[str]]:
    """(customer, person a, person b) with a < b -> labels of evidence directly between them."""
    direct: dict[tuple[str, str, str], set[str]] = defaultdict(set)

    def note(a: str, b: str, label: str) -> None:
        customer = labels.get(a)
        if customer is None or customer != labels.get(b):
            return
        pa, pb = truth.get(a), truth.get(b)
        if pa is None or pb is None or pa == pb:
            return
        low, high = sorted((pa, pb))
        direct[(customer, low, high)].add(label)

    for a, b, rule in evidence.matched:
        note(a, b, rule)
    for uses in _holders(evidence.identifiers).values():
        if not uses[0].linking:
            continue
        for x, y in itertools.combinations(uses, 2):
            note(x.record, y.record, f"identifier:{x.kind}")
    return direct


def missed_pair_class(
    a: str,
    b: str,
    held: Mapping[str, Mapping[str, IdentifierUse]],
    fields: Mapping[str, tuple[str, ...]],
) -> str:
    """The class of a missed pair (a, b): what the two records have in common.

    `held` maps a record key to the identifier values it holds (value -> its use).
    """
    mine, theirs = held.get(a, {}), held.get(b, {})
    common = [mine[value] for value in mine.keys() & theirs.keys()]
    if common:
        use = min(common, key=lambda u: (u.linking, u.kind, u.identifier))
        if not use.linking:
            reason = use.reason or "no reason stored"
            return f"share {use.kind}, switched off: {reason}"
        return f"share {use.kind}, linking but refused at clustering"
    if a not in fields or b not in fields:
        return REJECTED
    agree = [name for name, x, y in zip(FIELDS, fields[a], fields[b], strict=True) if x and x == y]
    if agree == ["first_name", "last_name"]:
        return NAME_ONLY
    return "agree on " + (", ".join(agree) if agree else "nothing")


def held_identifiers(identifiers: Iterable[IdentifierUse]) -> dict[str, dict[str, IdentifierUse]]:
    """Record key -> the identifier values it holds (a value held by thousands costs no pairs)."""
    held: dict[str, dict[str, IdentifierUse]] = defaultdict(dict)
    for use in identifiers:
        held[use.record][use.identifier] = use
    return held


def _joined(labels: set[str]) -> str:
    """One class for the evidence between two people: a single kind keeps its detail;
    several become their rules (`identifier:phone + match_model`), or the list grows with
    every combination of levels."""
    if len(labels) == 1:
        return next(iter(labels))
    return " + ".join(sorted({label.split(": ")[0] for label in labels}))


def breakdown(labels: Mapping[str, str], truth: Mapping[str, str], evidence: Evidence) -> Breakdown:
    """Charge every wrong pair to its evidence and classify every missed pair.

    Args:
        labels: record key -> predicted customer id (records missing here are singletons).
        truth: record key -> true person id, for every record scored.
        evidence: the store's match edges, identifiers and names.
    """
    customers: dict[str, dict[str, int]] = defaultdict(Counter)
    for record, person in truth.items():
        customers[labels.get(record, f"missing:{record}")][person] += 1
    direct = _direct_evidence(labels, truth, evidence)
    wrong_pairs: Counter[str] = Counter()
    wrong_person_pairs: Counter[str] = Counter()
    for customer, people in customers.items():
        if len(people) < 2:
            continue
        for pa, pb in itertools.combinations(sorted(people), 2):
            found = direct.get((customer, pa, pb))
            label = _joined(found) if found else VIA_ANOTHER
            wrong_pairs[label] += people[pa] * people[pb]
            wrong_person_pairs[label] += 1
    by_person: dict[str, list[str]] = defaultdict(list)
    for record, person in truth.items():
        by_person[person].append(record)
    held = held_identifiers(evidence.identifiers)
    missed: Counter[str] = Counter()
    for records in by_person.values():
        if len(records) < 2:
            continue
        for a, b in itertools.combinations(sorted(records), 2):
            if labels.get(a, f"missing:{a}") != labels.get(b, f"missing:{b}"):
                missed[missed_pair_class(a, b, held, evidence.fields)] += 1
    return Breakdown(wrong_pairs, wrong_person_pairs, missed)


def _top(counts: Counter[str], limit: int) -> list[tuple[str, int]]:
    """The `limit` largest entries, the rest summed into one `other` row."""
    top = counts.most_common(limit)
    rest = sum(counts.values()) - sum(n for _, n in top)
    return top + ([(f"other ({len(counts) - len(top)} classes)", rest)] if rest else [])


def breakdown_rows(found: Breakdown, *, limit: int = 12) -> tuple[list[list[str]], list[list[str]]]:
    """Two tables, largest first (`limit` rows and the rest as one): wrong pairs by evidence,
    and missed pairs by class."""
    wrong_total = sum(found.wrong_pairs.values()) or 1
    wrong = [["evidence joining two people", "wrong pairs", "share", "pairs of people"]]
    for label, pairs in _top(found.wrong_pairs, limit):
        share = f"{pairs / wrong_total:.1%}"
        people = found.wrong_person_pairs.get(label)
        wrong.append([label, f"{pairs:,}", share, "" if people is None else f"{people:,}"])
    missed_total = sum(found.missed_pairs.values()) or 1
    missed = [["what a missed pair shares", "missed pairs", "share"]]
    for label, pairs in _top(found.missed_pairs, limit):
        missed.append([label, f"{pairs:,}", f"{pairs / missed_total:.1%}"])
    return wrong, missed
