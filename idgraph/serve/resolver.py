"""The background resolver: applies what the call log holds, in micro-batches.

Requests append their valid calls to the call log (`idgraph.serve.log`) and are answered once
the append is durable. One resolver thread reads the log after the offset it has applied, up to
`max_calls` calls or `max_wait_ms` after the oldest unapplied one arrived, and resolves them with
`ingest_batches` in one store transaction that also stamps the new applied offset (the `Meta`
row `OFFSET_KEY`). A restart reads that offset and resumes right after it, so a call is applied
once. Log segments wholly behind the offset are deleted, and the embedded store is checkpointed
here in a lull, never in a request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

import orjson

from idgraph.errors import IdGraphError, StoreError
from idgraph.ingest.rejects import Reject
from idgraph.match.config import MatchConfig
from idgraph.pipeline import ingest_batches
from idgraph.serve.calls import LoggedCalls
from idgraph.serve.log import CallLog, LogRecord
from idgraph.store.base import GraphStore
from idgraph.store.queries import STATE_READS
from idgraph.traits.config import TraitsConfig

logger = logging.getLogger(__name__)

#: The `Meta` row holding the last call-log offset the store has applied.
OFFSET_KEY: Final = "serve_log_offset"

#: Reads the bodies of log records into one batch, and the calls refused for their values.
Parser = Callable[[list[bytes]], LoggedCalls]
#: Told of the calls refused when they were resolved (after their micro-batch is applied).
Refused = Callable[[list[Reject]], None]


def applied_offset(store: GraphStore) -> int:
    """The call-log offset the store has applied (0 when it never applied one)."""
    rows = store.query("state_version", STATE_READS["state_version"], {"key": OFFSET_KEY})
    value = rows[0]["version"] if rows else None
    return int(value) if value else 0


@dataclass(slots=True)
class _Entry:
    calls: int
    at: float  # time.time() when acknowledged


class Resolver:
    """One thread that resolves the call log into the store.

    Args:
        store: the open, writable store.
        log: the call log requests append to.
        parse: reads the bodies of a micro-batch's records into one batch.
        refused: told of the calls refused for their values (the rejects file).
        match_config: resolution config for every micro-batch.
        traits: computed traits config for every micro-batch.
        max_calls: calls in one micro-batch at most (a single larger record goes alone).
        max_wait_ms: how long after the oldest unapplied call arrived the resolver waits for
            more before it applies what it has.
        idle_checkpoint_s: after this long with nothing to apply, checkpoint the embedded store
            (0: never while running).
        paused: start paused (tests look at an unresolved queue); `resume()` starts applying.
        retry_s: after the store refused a micro-batch, wait this long before trying again.
    """

    def __init__(
        self,
        store: GraphStore,
        log: CallLog,
        parse: Parser,
        *,
        refused: Refused | None = None,
        match_config: MatchConfig,
        traits: TraitsConfig,
        max_calls: int = 5000,
        max_wait_ms: float = 50.0,
        idle_checkpoint_s: float = 0.0,
        paused: bool = False,
        retry_s: float = 1.0,
    ) -> None:
        self._store = store
        self._log = log
        self._parse = parse
        self._refused = refused
        self._match_config = match_config
        self._traits = traits
        self._max_calls = max_calls
        self._wait = max_wait_ms / 1000
        self._idle = idle_checkpoint_s
        self._cond = threading.Condition()
        #: Held while a micro-batch is applied; `exclusive()` takes it for other writers.
        self._writing = threading.Lock()
        self._entries: dict[int, _Entry] = {}
        self._applied = applied_offset(store)
        self._paused = paused
        self._stopping = False
        self._unfolded = False
        self._thread: threading.Thread | None = None
        self.batches = 0
        self.checkpoints = 0
        self.failed_calls = 0
        self.store_failures = 0
        self.applied_calls = 0
        self.refused_calls = 0
        self._retry = retry_s
        self._failing = False
        for record in log.read(after=self._applied):  # appended before a restart
            self._entries[record.offset] = _Entry(self._calls_in(record), time.time())

    @property
    def applied(self) -> int:
        """The last log offset applied to the store."""
        return self._applied

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def depth(self) -> tuple[int, float]:
        """Calls acknowledged but not applied, and the age in seconds of the oldest of them."""
        with self._cond:
            if not self._entries:
                return 0, 0.0
            calls = sum(e.calls for e in self._entries.values())
            oldest = min(e.at for e in self._entries.values())
        return calls, max(time.time() - oldest, 0.0)

    def start(self) -> None:
        """Start the resolver thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="idgraph-resolver", daemon=True)
            self._thread.start()

    def stop(self, timeout: float | None = 60.0) -> None:
        """Apply what the log holds (unless paused), then stop the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def pause(self) -> None:
        """Stop applying after the current micro-batch (a test hook)."""
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def appended(self, offset: int, calls: int) -> None:
        """Tell the resolver a record is durable (the request is about to be answered)."""
        with self._cond:
            if offset > self._applied:
                self._entries[offset] = _Entry(calls, time.time())
            self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold off the resolver while another writer (an admin call) changes the store.

        The store takes one writer at a time; a micro-batch in flight finishes first.
        """
        with self._writing:
            yield

    def wait_for(self, offset: int, timeout: float) -> bool:
        """Block until `offset` is applied; False when `timeout` seconds pass first."""
        with self._cond:
            return self._cond.wait_for(lambda: self._applied >= offset, timeout)

    # -- the thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                ready = self._cond.wait_for(self._has_work, self._idle or None)
                if self._stopping and (self._paused or self._failing or not self._log_ahead()):
                    return
                if not ready:
                    pass
                elif self._entries:
                    oldest = min(e.at for e in self._entries.values())
                    calls = sum(e.calls for e in self._entries.values())
                    delay = oldest + self._wait - time.time()
                    if delay > 0 and calls < self._max_calls and not self._stopping:
                        self._cond.wait(delay)
            if not ready:
                with self._writing:
                    self._checkpoint()
                continue
            records = self._take()
            if records:
                with self._writing:
                    self._apply(records)

    def _has_work(self) -> bool:
        return self._stopping or (not self._paused and self._log_ahead())

    def _log_ahead(self) -> bool:
        return self._log.last_offset > self._applied

    def _take(self) -> list[LogRecord]:
        taken: list[LogRecord] = []
        calls = 0
        for record in self._log.read(after=self._applied, limit=self._max_calls):
            n = self._calls_in(record)
            if taken and calls + n > self._max_calls:
                break
            taken.append(record)
            calls += n
        return taken

    def _apply(self, records: list[LogRecord]) -> None:
        last = records[-1].offset
        try:
            logged = self._parse([r.body for r in records])
            if logged.batch is not None:
                ingest_batches(
                    self._store,
                    [logged.batch],
                    match_config=self._match_config,
                    traits=self._traits,
                    summary=False,
                    meta={OFFSET_KEY: str(last)},
                )
        except StoreError as exc:
            # The store cannot take writes now: keep the offset and try again later, so no
            # acknowledged call is skipped.
            self._log_failure(exc, len(records))
            self.store_failures += 1
            self._failing = True
            with self._cond:
                self._cond.wait_for(lambda: self._stopping, self._retry)
            return
        except Exception as exc:
            self._log_failure(exc, len(records))
            if len(records) > 1:
                for record in records:
                    self._apply([record])
                    if self._failing:  # the store refused: the rest waits, in order
                        break
                return
            # A record whose calls fail alone (not the store) is skipped so the rest can go
            # on; its offset is stamped with the next micro-batch that applies.
            self.failed_calls += self._calls_in(records[0])
        else:
            self.batches += 1
            self.applied_calls += sum(self._calls_in(r) for r in records) - len(logged.refused)
            self.refused_calls += len(logged.refused)
            if self._refused is not None and logged.refused:
                self._refused(logged.refused)
        self._failing = False
        self._unfolded = True
        with self._cond:
            self._applied = last
            for offset in [o for o in self._entries if o <= last]:
                del self._entries[offset]
            self._cond.notify_all()
        self._log.trim(last)

    def _checkpoint(self) -> None:
        if not self._unfolded:
            return
        try:
            self._store.checkpoint()
        except IdGraphError as exc:  # the commits stay in the engine's log; a later lull retries
            logger.warning("checkpoint in a lull failed: %s", exc)
            return
        self._unfolded = False
        self.checkpoints += 1

    @staticmethod
    def _calls_in(record: LogRecord) -> int:
        head = orjson.loads(record.body)
        return int(head.get("n", 0)) if isinstance(head, dict) else 0

    @staticmethod
    def _log_failure(exc: Exception, records: int) -> None:
        # The message of an unexpected error may quote input values: log its type only.
        detail = str(exc) if isinstance(exc, IdGraphError) else type(exc).__name__
        logger.error("resolving %d log record(s) failed: %s", records, detail)
        logger.debug("resolve failure", exc_info=exc)
