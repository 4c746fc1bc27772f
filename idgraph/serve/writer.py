"""One writer thread that group-commits: many requests' calls, one `ingest_batches` call.

Requests hand their parsed batch to `GroupWriter.submit` and wait on the future it returns.
The writer takes everything queued (up to `max_calls`) and resolves it in one transaction, so
while one commit runs the next requests queue up and go together: throughput grows with the
number of concurrent clients instead of being one transaction per request. A failed group is
retried one request at a time, so one bad request cannot fail the others; a request whose own
commit fails gets the error, and nothing of it was written (each commit is all or nothing).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass

from idgraph.errors import IdGraphError
from idgraph.ingest.collect import SourceBatch
from idgraph.match.config import MatchConfig
from idgraph.pipeline import IngestReport, ingest_batches
from idgraph.store.base import GraphStore
from idgraph.traits.config import TraitsConfig

logger = logging.getLogger(__name__)


class WriterBusy(Exception):
    """Too many calls are queued already; the client should retry shortly."""


class WriterStopped(Exception):
    """The writer is not running (the service is starting or shutting down)."""


@dataclass(slots=True)
class _Job:
    batch: SourceBatch
    calls: int
    future: Future[IngestReport]


class GroupWriter:
    """Serialises every write to the store through one thread, committing in groups.

    Args:
        store: the open, writable store.
        match_config: resolution config for every commit.
        traits: computed traits config for every commit.
        max_calls: calls folded into one commit at most (a single larger request goes alone).
        wait_ms: how long to wait for more work after the first request before committing.
        max_pending: queued calls past which `submit` raises `WriterBusy`.
        idle_checkpoint_s: after this long with nothing queued, fold the commits made since
            the last checkpoint into the store's files (0: never while running). A commit
            that meets the engine's own log-size checkpoint waits for it, so doing it in a
            lull keeps that wait away from requests.
    """

    def __init__(
        self,
        store: GraphStore,
        *,
        match_config: MatchConfig,
        traits: TraitsConfig,
        max_calls: int = 5000,
        wait_ms: float = 0.0,
        max_pending: int = 50_000,
        idle_checkpoint_s: float = 0.0,
    ) -> None:
        self._store = store
        self._match_config = match_config
        self._traits = traits
        self._max_calls = max_calls
        self._wait = wait_ms / 1000
        self._max_pending = max_pending
        self._idle = idle_checkpoint_s
        self._unfolded = False
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._pending = 0
        self._thread: threading.Thread | None = None
        self.commits = 0
        self.checkpoints = 0
        self.last_commit_calls = 0

    @property
    def pending(self) -> int:
        """Calls queued or being committed."""
        return self._pending

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the writer thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="idgraph-writer", daemon=True)
            self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Commit what is queued, then stop the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def submit(self, batch: SourceBatch) -> Future[IngestReport]:
        """Queue a batch; the future resolves once it is committed (or fails with the error).

        Raises:
            WriterBusy: more than `max_pending` calls are queued.
            WriterStopped: the writer is not running.
        """
        calls = batch.counts.ingested
        with self._lock:
            if not self.running:
                raise WriterStopped("the writer is not running")
            if self._pending and self._pending + calls > self._max_pending:
                raise WriterBusy(f"{self._pending} calls are waiting to be stored")
            self._pending += calls
        job = _Job(batch, calls, Future())
        self._queue.put(job)
        return job.future

    def _run(self) -> None:
        stopping = False
        while not stopping:
            try:
                first = self._queue.get(timeout=self._idle if self._lull_due() else None)
            except queue.Empty:
                self._checkpoint()
                continue
            if first is None:
                break
            group, size = [first], first.calls
            deadline = time.monotonic() + self._wait
            while size < self._max_calls:
                try:
                    remaining = deadline - time.monotonic()
                    job = (
                        self._queue.get(timeout=remaining)
                        if remaining > 0
                        else (self._queue.get_nowait())
                    )
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                group.append(job)
                size += job.calls
            self._commit(group)

    def _commit(self, group: list[_Job]) -> None:
        try:
            report = ingest_batches(
                self._store,
                [job.batch for job in group],
                match_config=self._match_config,
                traits=self._traits,
                summary=False,
            )
        except Exception as exc:
            self._log_failure(exc, len(group))
            if len(group) == 1:
                self._finish(group, error=exc)
            else:
                for job in group:
                    self._commit([job])
            return
        self.commits += 1
        self._unfolded = True
        self.last_commit_calls = sum(job.calls for job in group)
        self._finish(group, report=report)

    def _lull_due(self) -> bool:
        return self._unfolded and self._idle > 0

    def _checkpoint(self) -> None:
        try:
            self._store.checkpoint()
        except IdGraphError as exc:  # the commits stay in the log; the next lull tries again
            logger.warning("checkpoint in a lull failed: %s", exc)
            return
        self._unfolded = False
        self.checkpoints += 1

    def _finish(
        self,
        group: list[_Job],
        *,
        report: IngestReport | None = None,
        error: BaseException | None = None,
    ) -> None:
        with self._lock:
            self._pending -= sum(job.calls for job in group)
        for job in group:
            if error is not None:
                job.future.set_exception(error)
            else:
                assert report is not None
                job.future.set_result(report)

    @staticmethod
    def _log_failure(exc: Exception, requests: int) -> None:
        # The message of an unexpected error may quote input values: log its type only.
        detail = str(exc) if isinstance(exc, IdGraphError) else type(exc).__name__
        logger.error("commit of %d request(s) failed: %s", requests, detail)
        logger.debug("commit failure", exc_info=exc)
