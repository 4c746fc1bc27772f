"""Keys and small values shared between stages.

Records, identifiers and events travel between stages as Polars frames (`idgraph.frames`).
What is left here: the keys they are stored under, the links a resolution accepted or refused
(frozen dataclasses, for dry runs and the id history), and what crosses the public boundary as
pydantic, so other services get validated, serialisable objects.
"""

from __future__ import annotations

from dataclasses import dataclass

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
