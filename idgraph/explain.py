"""Why two records are, or are not, one customer: the evidence path and the refusals.

`IdentityGraph.explain` answers with these. Every refusal names the match-config setting
behind it and how to change it, so a person reading `idgraph explain` knows what to do;
the reads go through the graph's own (records, identifiers, history).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from idgraph.errors import NotFoundError
from idgraph.match.config import MatchConfig
from idgraph.match.households import household_names
from idgraph.match.model import MatchModel
from idgraph.match.scored import lifted_config
from idgraph.match.tolerance import values_compatible
from idgraph.models import CustomerHistory, IdentifierView, RecordView
from idgraph.state.model import stored_model
from idgraph.store.base import GraphStore

__all__ = ["EvidencePath", "EvidenceStep", "GraphReads", "Refusal", "explain", "refusals_between"]


class GraphReads(Protocol):
    """What explaining reads of a store; `idgraph.query.IdentityGraph` is one."""

    @property
    def store(self) -> GraphStore: ...

    def _read(self, statement: str, /, **params: Any) -> list[dict[str, Any]]: ...

    def _identifiers(self, customer_id: str) -> list[IdentifierView]: ...

    def _records(self, customer_id: str) -> list[RecordView]: ...

    def history(self, customer_id: str) -> CustomerHistory: ...


class EvidenceStep(BaseModel):
    """One link on an evidence path: a shared identifier, or a match edge between two records."""

    model_config = ConfigDict(frozen=True)

    from_record: str
    to_record: str
    via: Literal["identifier", "match"]
    #: The identifier's `kind:value`, for `via="identifier"`.
    identifier: str | None = None
    #: The match rule (`alias`, `must_link` or a fuzzy rule's name), for `via="match"`.
    rule: str | None = None
    fields: list[str] = []
    score: float | None = None


class Refusal(BaseModel):
    """Something that could join two records' customers and does not, with the setting behind it.

    `kind` says what: `identifier`, an identifier both customers' records hold that links
    nobody (`reason` is the verdict stored with it); `guard`, a link between the two customers
    that an identity limit or a strong attribute refuses; `block`, a blocking key the two
    records share that is too common for their pair to be compared; `override`, a reviewer's
    split; `history`, a split or move between the two ids recorded by an earlier run.
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["identifier", "guard", "block", "override", "history"]
    reason: str
    #: The identifier's `kind:value` (for `identifier` and `guard`), or the blocking key.
    identifier: str | None = None
    #: The records concerned, of both customers.
    records: list[str] = []
    #: The match config key that decides it, e.g. `limits.user_id`,
    #: `identifiers[kind=email].max_records`, `strong_attributes`, `max_block_size`.
    setting: str | None = None
    #: How to change the outcome.
    change: str = ""


class EvidencePath(BaseModel):
    """Why two records are one customer: the shortest chain of evidence joining them.

    `steps` is empty when no linking evidence joins them (then `same_customer` is False, or
    the two keys name the same record). For records of different customers, `refusals` says
    what could have joined them and why it does not (empty when nothing they share could).
    """

    model_config = ConfigDict(frozen=True)

    record_a: str
    record_b: str
    customer_a: str | None
    customer_b: str | None
    same_customer: bool
    steps: list[EvidenceStep]
    refusals: list[Refusal] = []


def explain(graph: GraphReads, config: MatchConfig, record_a: str, record_b: str) -> EvidencePath:
    """What `IdentityGraph.explain` answers: the evidence path, and for two customers what
    they share that does not join them (`refusals`), each under `config`'s settings.

    Raises:
        NotFoundError: either record key is unknown.
    """
    customers = []
    for key in (record_a, record_b):
        rows = graph._read("customer_by_record", key=key)
        if not rows:
            raise NotFoundError(f"no record with key {key!r}")
        customers.append(rows[0]["id"])
    steps: list[EvidenceStep] = []
    if record_a != record_b:
        rows = graph.store.query(
            "evidence_path",
            graph.store.dialect.evidence_path(),
            {"record_a": record_a, "record_b": record_b},
        )
        if rows:
            steps = _evidence_steps(rows[0])
    same = customers[0] == customers[1]
    return EvidencePath(
        record_a=record_a,
        record_b=record_b,
        customer_a=customers[0],
        customer_b=customers[1],
        same_customer=same,
        steps=steps,
        refusals=[] if same else refusals_between(graph, config, record_a, record_b, *customers),
    )


def refusals_between(
    graph: GraphReads,
    config: MatchConfig,
    record_a: str,
    record_b: str,
    customer_a: str,
    customer_b: str,
) -> list[Refusal]:
    """What the records of two customers share that does not join them, and why."""
    model = stored_model(graph.store, config)
    config = lifted_config(config, model.lifted if model is not None else [])
    held_a, held_b = graph._identifiers(customer_a), graph._identifiers(customer_b)
    refusals, linking = _shared_identifiers(held_a, held_b)
    blocked, compared = _shared_blocks(graph, record_a, record_b, config, [*held_a, *held_b])
    records_a, records_b = graph._records(customer_a), graph._records(customer_b)
    apart = _kept_apart(graph, {r.key for r in records_a}, {r.key for r in records_b})
    conflicts = _guard_conflicts(config, records_a, records_b, held_a, held_b)
    for name, records in linking:
        # A shared identifier that links yet leaves two customers: a household's value,
        # or a guard refused the join when they were resolved. A reviewer's split
        # explains it too.
        household = _household(records, records_a, records_b, config, model)
        if household:
            refusals.append(_refusal("guard", household, identifier=name, records=records))
            continue
        for reason in conflicts or ([] if apart else [_UNKNOWN_GUARD]):
            refusals.append(_refusal("guard", reason, identifier=name, records=records))
    if compared and not linking:
        keys = ", ".join(compared)
        for reason in conflicts:
            refusals.append(
                _refusal(
                    "guard",
                    f"a fuzzy match between them (blocking keys {keys}) would be refused: "
                    + reason,
                    records=[record_a, record_b],
                )
            )
    return refusals + blocked + apart + _parted(graph, customer_a, customer_b)


def _household(
    holders: list[str],
    records_a: list[RecordView],
    records_b: list[RecordView],
    config: MatchConfig,
    model: MatchModel | None,
) -> str:
    """Why a shared value links no holder of one customer to one of the other as a
    household's (`idgraph.match.households`), or "". `config` is the store's model's
    (`lifted_config`): where its records hold no households, no value is one's."""
    if "first_name" not in config.scoring.must_agree:
        return ""
    held = set(holders)

    def names(records: list[RecordView]) -> list[tuple[str | None, str | None]]:
        return [
            (r.fields.get("first_name"), r.fields.get("last_name"))
            for r in records
            if r.key in held
        ]

    side_a, side_b = names(records_a), names(records_b)
    if not side_a or not side_b:
        return ""
    found = household_names(side_a, side_b, model.aliases if model is not None else [])
    if found is None:
        return ""
    return (
        f"a household's value: first names {found[0]!r} and {found[1]!r} are two people "
        "(scoring.must_agree first_name)"
    )


def _shared_blocks(
    graph: GraphReads,
    record_a: str,
    record_b: str,
    config: MatchConfig,
    held: list[IdentifierView],
) -> tuple[list[Refusal], list[str]]:
    """Blocking keys both records have: refusals for those over `max_block_size`, and the
    others (also those whose size is unknown: no mirror beside the store). `held`: the
    identifiers of their customers (a rule may block on the customer id)."""
    # Imported here: blocking keys pull in the matching stack.
    from idgraph.state.blocks import shared_blocks

    refusals, compared = [], []
    fields = {
        row["record"]["key"]: row["record"]
        for row in graph._read("records_by_key", keys=[record_a, record_b])
    }
    ids = [
        (record, found.kind, found.value)
        for found in held
        for record in found.records
        if record in fields
    ]
    for block, size in shared_blocks(graph.store, config, fields, ids):
        rule, _, key = block.partition("\x1f")
        shown = f"{rule}:" + key.replace("\x1f", "|")
        cap = config.block_cap(rule)
        if size is None or size <= cap:
            compared.append(shown)
            continue
        reason = (
            f"blocking key shared by {size} records (max_block_size {cap}): "
            "the pair was never compared"
        )
        refusals.append(_refusal("block", reason, identifier=shown, records=[record_a, record_b]))
    return refusals, compared


def _kept_apart(graph: GraphReads, keys_a: set[str], keys_b: set[str]) -> list[Refusal]:
    """Reviewer splits (cannot-links) between records of the two customers."""
    refusals = []
    for row in graph._read("records_cannot_link", keys=sorted(keys_a | keys_b)):
        pair = {row["a"], row["b"]}
        if pair & keys_a and pair & keys_b:
            reason = f"a reviewer split these records apart: {row['reason'] or 'no reason'}"
            refusals.append(_refusal("override", reason, records=sorted(pair)))
    return refusals


def _parted(graph: GraphReads, customer_a: str, customer_b: str) -> list[Refusal]:
    """Splits and moves between the two ids that earlier runs recorded, with the reason."""
    refusals, seen = [], set()
    for this, that in ((customer_a, customer_b), (customer_b, customer_a)):
        for entry in graph.history(this).entries:
            if entry.other != that or entry.kind not in _PARTED or not entry.detail:
                continue
            if (entry.ts, entry.detail) not in seen:
                seen.add((entry.ts, entry.detail))
                what = f"{this} {entry.kind.replace('_', ' ')} {that}: {entry.detail}"
                refusals.append(_refusal("history", what))
    return refusals


_REFRESH = "then re-resolve with `idgraph ingest --full --match-config FILE`"
_UNKNOWN_GUARD = (
    "links, but a guard refused joining the two customers when they were resolved "
    "(the reason is not stored)"
)
#: Stored reasons (`match.decide`, `cluster.components`) -> the setting behind them.
_SETTINGS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (
        re.compile(r"shared by \d+ records \(max_records \d+\)"),
        "identifiers[kind={kind}].max_records",
        "raise max_records of the {kind} entry under `identifiers:` in a match config, " + _REFRESH,
    ),
    (
        re.compile(r"held by \d+ different first names \(max_names \d+\)"),
        "identifiers[kind={kind}].max_names",
        "raise max_names of the {kind} entry under `identifiers:` in a match config, " + _REFRESH,
    ),
    (
        re.compile(r"(?:joins|would give one customer) \d+ distinct (?P<limited>\w+) \(limit"),
        "limits.{limited}",
        "raise `limits.{limited}` in a match config, " + _REFRESH + "; or, when the "
        "{limited} values are one person, join them with an alias call or `idgraph link A B`",
    ),
    (
        re.compile(r"(?:joins records with \d+ different|records disagree on) (?P<name>\w+)"),
        "strong_attributes",
        "correct the records' {name}, or take {name} out of `strong_attributes` in a match "
        "config, " + _REFRESH,
    ),
    (
        re.compile(r"(?P<id_kind>\w+) is not a linking identifier"),
        "identifiers[kind={id_kind}].link",
        "list {id_kind} under `identifiers:` with `link: true` in a match config, " + _REFRESH,
    ),
    (
        re.compile(r"max_block_size"),
        "max_block_size",
        "raise `max_block_size` in a match config, or block the fuzzy rule on a rarer key "
        "(`fuzzy[].block_on`), " + _REFRESH,
    ),
    (
        re.compile(r"reviewer split"),
        "idgraph split",
        "a reviewer's decision (`idgraph split`); `idgraph unsplit` removes it",
    ),
    (
        re.compile(r"erased at the person's request"),
        "idgraph forget",
        "erased with `idgraph forget`; it cannot be restored",
    ),
)


#: History entries that record two ids parting, whose detail is the reason.
_PARTED = frozenset({"split_off", "split_from", "moved_out"})


def _shared_identifiers(
    held_a: list[IdentifierView], held_b: list[IdentifierView]
) -> tuple[list[Refusal], list[tuple[str, list[str]]]]:
    """Identifiers on both customers' records: refusals for those that link nobody (with the
    reason stored with them, as `profile` shows it), and the `kind:value` and holders of those
    that link."""
    by_key = {(i.kind, i.value): i for i in held_a}
    refusals, linking = [], []
    for other in held_b:
        one = by_key.get((other.kind, other.value))
        if one is None:
            continue
        name, records = f"{one.kind}:{one.value}", sorted({*one.records, *other.records})
        if one.linking:
            linking.append((name, records))
        else:
            reason = one.reason or "does not link"
            refusals.append(_refusal("identifier", reason, identifier=name, records=records))
    return refusals, linking


def _refusal(
    kind: Literal["identifier", "guard", "block", "override", "history"],
    reason: str,
    *,
    identifier: str | None = None,
    records: list[str] | None = None,
) -> Refusal:
    """A refusal with the setting its reason names, and how to change it."""
    id_kind = identifier.partition(":")[0] if identifier else ""
    setting, change = None, ""
    for pattern, key, how in _SETTINGS:
        found = pattern.search(reason)
        if found:
            names = {"kind": id_kind, **{k: v for k, v in found.groupdict().items() if v}}
            setting, change = key.format(**names), how.format(**names)
            break
    return Refusal(
        kind=kind,
        reason=reason,
        identifier=identifier,
        records=records or [],
        setting=setting,
        change=change,
    )


def _guard_conflicts(
    config: MatchConfig,
    records_a: list[RecordView],
    records_b: list[RecordView],
    held_a: Collection[IdentifierView],
    held_b: Collection[IdentifierView],
) -> list[str]:
    """Why the guards refuse joining two customers, worded as `cluster.components` words it.

    Limits count distinct values (aliased user ids count once there, so this may overcount
    when a customer holds several aliased values); strong attributes compare value sets.
    """
    found = []
    for kind, limit in config.limits.items():
        left = {i.value for i in held_a if i.kind == kind}
        right = {i.value for i in held_b if i.kind == kind}
        if left and right and len(left | right) > limit:
            found.append(
                f"would give one customer {len(left | right)} distinct {kind} (limit {limit})"
            )
    for name in config.strong_attributes:
        left = {r.fields[name] for r in records_a if r.fields.get(name)}
        right = {r.fields[name] for r in records_b if r.fields.get(name)}
        if not values_compatible(name, left, right):
            found.append(f"records disagree on {name}")
    return found


def _evidence_steps(row: dict[str, Any]) -> list[EvidenceStep]:
    """Fold a path's parallel lists into steps; `record -id- Identifier -id- record` is one."""
    keys, labels = row["keys"], row["labels"]
    steps: list[EvidenceStep] = []
    i = 0
    while i < len(keys) - 1:
        if labels[i + 1] == "Identifier" and i + 2 < len(keys):
            steps.append(
                EvidenceStep(
                    from_record=keys[i],
                    to_record=keys[i + 2],
                    via="identifier",
                    identifier=keys[i + 1],
                )
            )
            i += 2
            continue
        fields = row["fields"][i]
        steps.append(
            EvidenceStep(
                from_record=keys[i],
                to_record=keys[i + 1],
                via="match",
                rule=row["rules"][i],
                fields=fields.split(",") if fields else [],
                score=row["scores"][i],
            )
        )
        i += 1
    return steps
