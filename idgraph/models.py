"""The data carried between stages.

Inside the pipeline the values are frozen dataclasses (cheap to build by the hundred thousand);
what crosses the public boundary (query answers, reports) is pydantic, so other services get
validated, serialisable objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import BaseModel, ConfigDict

from idgraph.types import IdentifierKind, RecordKind, TraitValue

#: Link rules a source asserts (never computed): they always apply and persist across runs.
EXPLICIT_LINK_RULES: frozenset[str] = frozenset({"alias", "must_link"})


def identifier_key(kind: str, value: str) -> str:
    """The primary key of an identifier node: one node per (kind, value), shared by records."""
    return f"{kind}:{value}"


@dataclass(slots=True)
class SourceRecord:
    """What a reader saw on one input line, before normalization (values still raw strings).

    `ts` (epoch ms) says how recent the sighting is; survivorship prefers newer values.
    `raw_identifiers` are ids that are not golden fields: user_id, anonymous_id, device_id,
    customer_id (email and phone travel in `fields` and become identifiers when normalized).
    """

    path: str
    line: int
    source: str
    source_id: str
    kind: RecordKind
    ts: int
    fields: dict[str, str] = field(default_factory=dict)
    raw_identifiers: list[tuple[IdentifierKind, str]] = field(default_factory=list)
    traits: dict[str, TraitValue] = field(default_factory=dict)


def record_key(source: str, source_id: str, kind: RecordKind = "row") -> str:
    """The key `idgraph export clusters` and `fixtures/truth.csv` use for a record.

    Table rows: `crm:1001`; stream identities: `web:user:u-17`, `web:anon:a-93f`.
    """
    if kind == "row":
        return f"{source}:{source_id}"
    return f"{source}:{'user' if kind == 'user' else 'anon'}:{source_id}"


@dataclass(slots=True)
class Record:
    """One normalized record: a table row, or one identity (user or anonymous id) of a stream.

    `fields` holds normalized golden fields (see `idgraph.types.FIELD_NAMES`); `identifiers` the
    deterministic keys it carries; `traits` everything else worth keeping about the person.
    """

    key: str
    source: str
    source_id: str
    kind: RecordKind
    updated_ts: int
    fields: dict[str, str] = field(default_factory=dict)
    identifiers: set[tuple[IdentifierKind, str]] = field(default_factory=set)
    traits: dict[str, TraitValue] = field(default_factory=dict)

    def copy(self) -> Record:
        """An independent copy: merging into it leaves this record as it was."""
        return replace(
            self,
            fields=dict(self.fields),
            identifiers=set(self.identifiers),
            traits=dict(self.traits),
        )

    def merge_newer(self, other: Record) -> None:
        """Fold another sighting of the same record in: newer non-empty values win."""
        newer = other.updated_ts >= self.updated_ts
        for name, value in other.fields.items():
            if newer or name not in self.fields:
                self.fields[name] = value
        for name, trait in other.traits.items():
            if newer or name not in self.traits:
                self.traits[name] = trait
        self.identifiers |= other.identifiers
        self.updated_ts = max(self.updated_ts, other.updated_ts)


@dataclass(frozen=True, slots=True)
class Event:
    """Something a record's person did, at epoch-millisecond `ts`."""

    id: str
    name: str
    ts: int
    source: str
    record_key: str
    properties: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Link:
    """An explicit statement from a source that two records are one person (e.g. `alias`)."""

    a: str
    b: str
    rule: str


@dataclass(frozen=True, slots=True)
class MatchEvidence:
    """Why two records are joined: the rule that fired, the fields it used, and its score."""

    a: str
    b: str
    rule: str
    fields: tuple[str, ...]
    score: float


@dataclass(frozen=True, slots=True)
class BlockedLink:
    """A link the guards refused, with the reason a reviewer reads."""

    evidence: MatchEvidence
    reason: str


class CustomerSummary(BaseModel):
    """A unified customer as listed by segments and lookups."""

    model_config = ConfigDict(frozen=True)

    id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    country: str | None = None
    record_count: int = 0
