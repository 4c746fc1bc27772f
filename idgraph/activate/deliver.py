"""Drain the outbox: hand each destination its changes, retry with backoff, dead-letter the rest.

At least once: a destination's rows are marked only after it accepted them, so a deliverer
killed in between sends them again, with the same idempotency keys. In order per customer:
rows go out oldest first and a batch is retried until it succeeds or is dead-lettered before
the next one of that destination is tried.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path

from idgraph.activate.config import (
    AudienceDestination,
    Destination,
    DestinationsConfig,
    WebhookDestination,
)
from idgraph.activate.deadletter import DeadLetters
from idgraph.activate.destinations import Batch, DeliveredChange, DeliveryFailed, Sender, sender_for
from idgraph.activate.outbox import OutboxRow, bump_state, forget_rows, mark_done, read_pending
from idgraph.activate.reads import identifiers_of, traits_of
from idgraph.errors import ConfigError
from idgraph.store.base import GraphStore

__all__ = ["Deliverer", "DeliveryReport", "drain"]

logger = logging.getLogger(__name__)

#: Changes handed to a file or audience destination at once (a run's file may be split).
_FILE_BATCH = 5000


@dataclass(slots=True)
class DestinationTotals:
    sent: int = 0
    failed_attempts: int = 0
    dead: int = 0


@dataclass(slots=True)
class DeliveryReport:
    """What one drain did, per destination; `dropped` counts rows no destination takes."""

    destinations: dict[str, DestinationTotals] = field(default_factory=dict)
    dropped: int = 0

    @property
    def sent(self) -> int:
        return sum(t.sent for t in self.destinations.values())

    @property
    def dead(self) -> int:
        return sum(t.dead for t in self.destinations.values())


class Deliverer:
    """One destination config bound to one store; `drain()` may be called again and again.

    Args:
        store: A writable store.
        config: The destinations (`load_destinations`).
        stop: Set to make a drain give up between attempts (the service's shutdown).
        writing: A lock (context manager factory) held around each write to the store.
        sleep: Waits between attempts; `stop.wait` when a stop event is given.
    """

    def __init__(
        self,
        store: GraphStore,
        config: DestinationsConfig,
        *,
        stop: threading.Event | None = None,
        sleep: Callable[[float], object] | None = None,
        clock: Callable[[], float] = time.time,
        writing: Callable[[], AbstractContextManager[None]] | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.stop = stop or threading.Event()
        self._sleep = sleep or self.stop.wait
        self._clock = clock
        #: Held around each write: the service's writer lock, so its resolver waits.
        self._writing = writing or nullcontext
        self.dead_letters = DeadLetters(config.dead_letter or Path("dead-letter"))
        self.senders: dict[str, Sender] = {d.name: sender_for(d) for d in config.destinations}

    def _check_traits(self) -> None:
        """Checked at each drain, not once: a trait may appear after the service starts."""
        known = set(self.store.customer_properties()) | {"id"}
        problems = [
            f"destinations.{d.name}.traits: {t!r} is not a customer property of this store"
            for d in self.config.destinations
            for t in d.traits
            if t not in known
        ]
        if problems:
            raise ConfigError("; ".join(problems))

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def drain(self) -> DeliveryReport:
        """Deliver everything pending now; returns what was sent, failed and dead-lettered.

        Raises:
            ConfigError: a destination asks for a trait the store's customers lack.
        """
        self._check_traits()
        report = DeliveryReport({d.name: DestinationTotals() for d in self.config.destinations})
        wanted = {
            segment: frozenset(d.name for d in self.config.taking(segment))
            for d in self.config.destinations
            for segment in d.segments
        }
        for page in read_pending(self.store):
            if self.stop.is_set():
                break
            orphans = [r.id for r in page if r.segment not in wanted]
            if orphans:
                with self._writing():
                    forget_rows(self.store, orphans)
                report.dropped += len(orphans)
            rows = {r.id: r for r in page if r.segment in wanted}
            for dest in self.config.destinations:
                mine = [
                    r
                    for r in rows.values()
                    if r.segment in dest.segments and dest.name not in r.done
                ]
                for batch_rows in _batches(mine, _batch_size(dest)):
                    if self.stop.is_set():
                        return report
                    batch = self._batch(dest, batch_rows)
                    updated = self._deliver(dest, batch, batch_rows, wanted, report)
                    rows.update((r.id, r) for r in updated)
        return report

    def _batch(self, dest: Destination, rows: Sequence[OutboxRow]) -> Batch:
        entered = [r.customer for r in rows if r.change == "entered"]
        traits = traits_of(self.store, entered, dest.traits) if dest.traits else {}
        ids = identifiers_of(self.store, entered) if isinstance(dest, AudienceDestination) else {}
        return Batch(
            segment=rows[0].segment,
            run_ts=rows[0].ts,
            changes=[
                DeliveredChange(
                    id=r.id,
                    customer=r.customer,
                    change=r.change,
                    reason=r.reason,
                    ts=r.ts,
                    traits=traits.get(r.customer, {}) if r.change == "entered" else {},
                    identifiers=tuple(ids.get(r.customer, ())) if r.change == "entered" else (),
                )
                for r in rows
            ],
        )

    def _deliver(
        self,
        dest: Destination,
        batch: Batch,
        rows: Sequence[OutboxRow],
        wanted: dict[str, frozenset[str]],
        report: DeliveryReport,
    ) -> list[OutboxRow]:
        failures, ok, error = self.attempt(dest, batch)
        totals = report.destinations[dest.name]
        totals.failed_attempts += failures
        if ok:
            totals.sent += len(rows)
            with self._writing():
                return mark_done(
                    self.store, dest.name, rows, wanted, sent=len(rows), dead=0,
                    failed=failures, last_error=error, ts=self._now_ms(),
                )  # fmt: skip
        if self.stop.is_set():  # shutting down: leave the rows pending
            return list(rows)
        self.dead_letters.add(dest.name, batch, reason=error or "failed", attempts=failures)
        totals.dead += len(rows)
        logger.warning(
            "destination %s: %d change(s) dead-lettered: %s", dest.name, len(rows), error
        )
        with self._writing():
            return mark_done(
                self.store, dest.name, rows, wanted, sent=0, dead=len(rows), failed=failures,
                last_error=error, ts=self._now_ms(),
            )  # fmt: skip

    def attempt(self, dest: Destination, batch: Batch) -> tuple[int, bool, str | None]:
        """Send one batch within the retry budget: (failed attempts, sent, last error)."""
        policy = dest.retry
        sender = self.senders[dest.name]
        error: str | None = None
        for number in range(policy.attempts):
            if number:
                wait = min(policy.backoff_s * 2 ** (number - 1), policy.max_backoff_s)
                self._sleep(wait)
                if self.stop.is_set():
                    return number, False, error
            try:
                sender.send(batch)
                return number, True, error
            except DeliveryFailed as exc:
                error = str(exc)
                logger.info("destination %s: attempt %d failed: %s", dest.name, number + 1, error)
        return policy.attempts, False, error

    def retry_dead(self) -> DeliveryReport:
        """Send every dead-lettered batch again (traits read anew); what still fails after the
        retry budget stays in the file with its new reason."""
        self._check_traits()
        report = DeliveryReport({d.name: DestinationTotals() for d in self.config.destinations})
        for dest in self.config.destinations:
            still: list[dict[str, object]] = []
            totals = report.destinations[dest.name]
            for entry in self.dead_letters.read(dest.name):
                changes: list[DeliveredChange] = entry["changes"]
                rows = [
                    OutboxRow(c.id, str(entry["segment"]), c.customer, c.ts, c.change,
                              "erasure" if c.reason == "erased" else c.reason, frozenset())
                    for c in changes
                ]  # fmt: skip
                batch = self._batch(dest, rows) if rows else None
                if batch is None or self.stop.is_set():
                    still.append(entry)
                    continue
                failures, ok, error = self.attempt(dest, batch)
                totals.failed_attempts += failures
                if ok:
                    totals.sent += len(rows)
                    with self._writing():
                        bump_state(
                            self.store, dest.name, sent=len(rows), failed=failures,
                            dead=-len(rows), last_error=error, ts=self._now_ms(),
                        )  # fmt: skip
                else:
                    still.append({**entry, "reason": error or "", "attempts": failures})
                    totals.dead += len(rows)
                    with self._writing():
                        bump_state(
                            self.store, dest.name, failed=failures, last_error=error,
                            ts=self._now_ms(),
                        )  # fmt: skip
            self.dead_letters.rewrite(dest.name, still)
        return report

    def close(self) -> None:
        for sender in self.senders.values():
            sender.close()


def drain(store: GraphStore, config: DestinationsConfig) -> DeliveryReport:
    """Deliver everything the outbox holds now to the destinations of `config`.

    Raises:
        ConfigError: a destination asks for a trait the store's customers lack, or its
            secret's environment variable is not set.
    """
    deliverer = Deliverer(store, config)
    try:
        return deliverer.drain()
    finally:
        deliverer.close()


def _batch_size(dest: Destination) -> int:
    return dest.batch_size if isinstance(dest, WebhookDestination) else _FILE_BATCH


def _batches(rows: Iterable[OutboxRow], size: int) -> Iterable[list[OutboxRow]]:
    """Rows of one segment and run together, at most `size` at a time, order kept."""
    for _, group in groupby(rows, key=lambda r: (r.segment, r.ts)):
        chunk: list[OutboxRow] = []
        for row in group:
            chunk.append(row)
            if len(chunk) == size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
