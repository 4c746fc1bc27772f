"""The one seam between idgraph's logic and a graph database.

Subclasses implement a handful of hooks (`_run`, `_write_batch`, ...); the shared behaviour
(query naming, DEBUG logging without parameter values, error wrapping) lives in final methods
here so both engines behave alike.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from types import TracebackType
from typing import Any, final

from idgraph.errors import IdGraphError, StoreQueryError
from idgraph.store.dialect import Dialect
from idgraph.store.plan import StoreState, WritePlan

logger = logging.getLogger(__name__)

Row = dict[str, Any]


class GraphStore(ABC):
    """A graph store holding idgraph's schema (see `cypher/schema.cypher`)."""

    dialect: Dialect
    #: Human-readable location, safe to print (never contains credentials).
    location: str

    @final
    def query(self, name: str, cypher: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Run one named read statement and return its rows as dicts keyed by column name.

        Values always travel as parameters; `name` is what logs and errors show.
        """
        logger.debug("cypher %s", name)
        try:
            return self._run(cypher, dict(params or {}))
        except IdGraphError:
            raise
        except Exception as exc:  # engine exceptions are wrapped here, once
            raise StoreQueryError(name, _first_line(str(exc))) from exc

    @final
    def load_state(self) -> StoreState:
        """Everything resolution needs from earlier ingests."""
        try:
            return self._load_state()
        except IdGraphError:
            raise
        except Exception as exc:
            raise StoreQueryError("load_state", _first_line(str(exc))) from exc

    @final
    def apply(self, plan: WritePlan) -> None:
        """Write one ingest's changes atomically: all of them, or none."""
        logger.debug(
            "apply: %d new records, %d events, %d customers",
            len(plan.new_records),
            len(plan.new_events),
            len(plan.customers),
        )
        try:
            self._apply(plan)
        except IdGraphError:
            raise
        except Exception as exc:
            raise StoreQueryError("apply", _first_line(str(exc))) from exc

    @abstractmethod
    def _load_state(self) -> StoreState:
        """Read records, explicit links, the record->customer map and column types."""

    @abstractmethod
    def _apply(self, plan: WritePlan) -> None:
        """Write `plan` in one transaction, rolling back on any failure."""

    @abstractmethod
    def existing_event_ids(self, ids: list[str]) -> set[str]:
        """Which of `ids` are stored already (re-ingest must add nothing)."""

    @abstractmethod
    def _run(self, cypher: str, params: dict[str, Any]) -> list[Row]:
        """Execute one statement on the engine."""

    @abstractmethod
    def customer_properties(self) -> dict[str, str]:
        """Property names of `Customer` nodes mapped to a trait type (string/number/boolean)."""

    @abstractmethod
    def close(self) -> None:
        """Release the engine's resources."""

    def __enter__(self) -> GraphStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else "unknown error"
