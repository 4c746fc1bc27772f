"""Keys and small values shared between stages.

Records, identifiers and events travel between stages as Polars frames (`idgraph.frames`).
What is left here: the keys they are stored under, the links a resolution accepted or refused
(frozen dataclasses, for dry runs and the id history), and what crosses the public boundary as
pydantic, so other services get validated, serialisable objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from idgraph.types import RecordKind

#: Link rules a source asserts (never computed): they always apply and persist across runs.
EXPLICIT_LINK_RULES: frozenset[str] = frozenset({"alias", "must_link"})


def identifier_key(kind: str, value: str) -> str:
    """The primary key of an identifier node: one node per (kind, value), shared by records."""
    return f"{kind}:{value}"


def record_key(source: str, source_id: str, kind: RecordKind = "row") -> str:
    """The key `idgraph export clusters` and `fixtures/truth.csv` use for a record.

    Table rows: `crm:1001`; stream identities: `web:user:u-17`, `web:anon:a-93f`.
    """
    if kind == "row":
        return f"{source}:{source_id}"
    return f"{source}:{'user' if kind == 'user' else 'anon'}:{source_id}"


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


class RecordView(BaseModel):
    """One source record of a customer: its normalized fields and source traits."""

    model_config = ConfigDict(frozen=True)

    key: str
    source: str
    source_id: str | None = None
    kind: str | None = None
    updated_ts: int | None = None
    fields: dict[str, str] = {}
    traits: dict[str, Any] = {}


class IdentifierView(BaseModel):
    """An identifier on a customer's records, and whether it links them (why not, if not)."""

    model_config = ConfigDict(frozen=True)

    kind: str
    value: str
    linking: bool
    reason: str | None = None
    records: list[str]


class HistoryEntry(BaseModel):
    """One thing that happened to a customer id."""

    model_config = ConfigDict(frozen=True)

    ts: int
    #: created, absorbed (another id merged into this one), merged_into (this id was
    #: absorbed), split_off (a part left, as `other`), split_from (this id was cut out of
    #: `other`), moved_out (some records left for `other`, which lives on), moved_in (some of
    #: `other`'s records joined this one), erased (its last records were forgotten).
    kind: Literal[
        "created",
        "absorbed",
        "merged_into",
        "split_off",
        "split_from",
        "moved_out",
        "moved_in",
        "erased",
    ]
    other: str | None = None
    records: int | None = None
    #: The evidence of a merge or of records moving in, the reason of a split or move out.
    detail: str = ""


class CustomerHistory(BaseModel):
    """A customer id's life: where it came from and, if it is gone, where its records went."""

    model_config = ConfigDict(frozen=True)

    id: str
    #: active, merged, erased; "unknown" for an id issued before the registry existed.
    status: str
    #: The live customer holding this id's records now (itself when active), or None.
    current: str | None
    entries: list[HistoryEntry]
