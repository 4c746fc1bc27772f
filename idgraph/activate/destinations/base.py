"""What every sender takes: one batch of one segment's changes from one run."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol

from idgraph.errors import IdGraphError

__all__ = ["Batch", "DeliveredChange", "DeliveryFailed", "Sender"]


class DeliveryFailed(IdGraphError):
    """One attempt to hand a batch to a destination failed; the message is the reason kept as
    the destination's last error (never customer data)."""


@dataclass(frozen=True, slots=True)
class DeliveredChange:
    """One change as a destination sees it; `id` is the idempotency key, the same on repeats."""

    id: str
    customer: str
    change: str
    reason: str
    ts: int
    #: The traits the destination asks for (entered customers; empty for exits).
    traits: dict[str, Any] = field(default_factory=dict)
    #: Normalized emails and phones, for audiences: (kind, value).
    identifiers: tuple[tuple[str, str], ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "idempotency_key": self.id,
            "customer_id": self.customer,
            "change": self.change,
            "reason": self.reason,
            "ts": iso(self.ts),
            "traits": self.traits,
        }


@dataclass(frozen=True, slots=True)
class Batch:
    """Changes of one segment from one run (`run_ts`), in delivery order."""

    segment: str
    run_ts: int
    changes: list[DeliveredChange]

    @property
    def key(self) -> str:
        """A key for the whole batch, stable across repeats (its first change's key)."""
        return self.changes[0].id


class Sender(Protocol):
    """Hands batches to one destination; raises `DeliveryFailed` when an attempt fails."""

    def send(self, batch: Batch) -> None: ...

    def close(self) -> None: ...


def iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).isoformat().replace("+00:00", "Z")


def stamp(ms: int) -> str:
    """A run time as it appears in file names: 20261204T181500123Z."""
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y%m%dT%H%M%S") + (
        f"{ms % 1000:03d}Z"
    )
