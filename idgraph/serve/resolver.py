"""The background resolver: applies what the call log's lanes hold, in micro-batches.

Requests append their valid calls to their worker's lane of the call log (`idgraph.serve.log`)
and are answered once the append is durable. One resolver thread, in the process that holds
the store, follows every lane (`LaneTail`), and resolves up to `max_calls` calls, or what has
arrived `max_wait_ms` after the oldest unapplied one, with `ingest_batches` in one store
transaction that also stamps each lane's new applied offset (the `Meta` rows
`serve_log_offset:<lane>`). A restart reads those offsets and resumes right after them, so a
call is applied once. Lane segments wholly behind their offset are deleted.

The embedded store is checkpointed here, never in a request: in a lull, and under steady load
in a thread of its own once its write-ahead log has grown (`GraphStore.checkpoint_due`), so
the next micro-batch is read and resolved while the log is folded and only its write waits.
A reopen that gives back the engine's memory runs in that thread too, in place of a
checkpoint: it checkpoints with reads let through and writes held, so the next micro-batch is
read and resolved meanwhile, and its write waits for the checkpoint and the close and open.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import orjson

from idgraph.errors import IdGraphError, StoreError
from idgraph.ingest.rejects import Reject
from idgraph.match.config import MatchConfig
from idgraph.memory import resident_bytes
from idgraph.pipeline import ingest_batches
from idgraph.serve.affinity import CpuChoice, CpuPin, unpin
from idgraph.serve.calls import LoggedCalls
from idgraph.serve.lag import LagHistogram
from idgraph.serve.log import lane_folders, trim_lane
from idgraph.serve.tail import LaneTail
from idgraph.state.rebuild import warm_mirror
from idgraph.store.base import GraphStore
from idgraph.store.queries import STATE_READS
from idgraph.traits.config import TraitsConfig

logger = logging.getLogger(__name__)

#: The `Meta` rows holding, per lane, the last call-log offset the store has applied.
OFFSET_KEY: Final = "serve_log_offset"

#: How long a status call waits for the thread to follow a lane that appeared since its last
#: look (a worker's first call): its calls count once the thread reads where to start.
_NEW_LANE_WAIT_S: Final = 0.5

#: Reads the bodies of log records into one batch, and the calls refused for their values.
Parser = Callable[[list[bytes]], LoggedCalls]
#: Told of the calls refused and the values dropped when they were resolved (after their
#: micro-batch is applied).
Refused = Callable[[list[Reject]], None]


def offset_key(lane: str) -> str:
    """The `Meta` key of a lane's applied offset."""
    return f"{OFFSET_KEY}:{lane}"


def applied_offset(store: GraphStore, lane: str) -> int:
    """The offset of `lane` the store has applied (0 when it never applied one)."""
    rows = store.query("state_version", STATE_READS["state_version"], {"key": offset_key(lane)})
    value = rows[0]["version"] if rows else None
    return int(value) if value else 0


@dataclass(frozen=True, slots=True)
class Pending:
    """A durable record not applied yet."""

    lane: str
    offset: int
    calls: int
    at: float  # time.time() when it was appended
    body: bytes


@dataclass(frozen=True, slots=True)
class LaneState:
    """How far one lane is written and applied."""

    lane: str
    appended: int
    applied: int


class Resolver:
    """One thread that resolves the call log into the store.

    Args:
        store: the open, writable store.
        log_root: the call log's folder; every `lane-*` folder in it is followed.
        parse: reads the bodies of a micro-batch's records into one batch.
        refused: told of the calls refused and the values dropped (the rejects file).
        match_config: resolution config for every micro-batch.
        traits: computed traits config for every micro-batch.
        max_calls: calls in one micro-batch at most (a single larger record goes alone).
        max_wait_ms: how long after the oldest unapplied call arrived the resolver waits for
            more before it applies what it has.
        idle_checkpoint_s: after this long with nothing to apply, checkpoint the embedded store
            (0: never while running).
        reopen_growth_mb: reopen the store between micro-batches once this process has grown
            by this many MiB since the first micro-batch or the last reopen (0: never).
        paused: start paused (tests look at an unresolved queue); `resume()` starts applying.
        retry_s: after the store refused a micro-batch, wait this long before trying again.
        poll_ms: how often lanes written by other processes are looked at (an append in this
            process wakes the resolver at once through `wake`).
        cpu: pin the resolver thread and Polars' pool to one CPU while a micro-batch runs
            (`idgraph.serve.affinity.CpuPin`; None: not pinned).
    """

    def __init__(
        self,
        store: GraphStore,
        log_root: Path,
        parse: Parser,
        *,
        refused: Refused | None = None,
        match_config: MatchConfig,
        traits: TraitsConfig,
        max_calls: int = 5000,
        max_wait_ms: float = 50.0,
        idle_checkpoint_s: float = 0.0,
        reopen_growth_mb: int = 0,
        paused: bool = False,
        retry_s: float = 1.0,
        poll_ms: float = 5.0,
        cpu: CpuChoice = None,
    ) -> None:
        self._store = store
        self._root = log_root
        self._parse = parse
        self._refused = refused
        self._match_config = match_config
        self._traits = traits
        self._max_calls = max_calls
        self._wait = max_wait_ms / 1000
        self._idle = idle_checkpoint_s
        self._reopen_bytes = reopen_growth_mb * 1024 * 1024
        self._baseline: int | None = None
        #: Resident bytes when the process outgrew the setting: the next job behind the
        #: micro-batches is a reopen (None: a checkpoint, when one is due).
        self._grown: int | None = None
        self._poll = poll_ms / 1000
        self._pin = CpuPin(cpu)
        self._retry = retry_s
        self._cond = threading.Condition()
        #: Held while a micro-batch is applied; `exclusive()` takes it for other writers.
        self._writing = threading.Lock()
        #: Held while the lanes' tails are read: by the thread, or by a status call.
        self._reading = threading.Lock()
        self._tails: dict[str, LaneTail] = {}
        self._folders: dict[str, Path] = {}
        self._applied: dict[str, int] = {}
        self._pending: dict[str, deque[Pending]] = {}
        self._paused = paused
        self._stopping = False
        self._failing = False
        self._unfolded = False
        self._last_work = time.monotonic()
        self._looked_at = 0.0
        #: True until the stored state is in memory (`warm_mirror`), as the thread starts.
        self.warming = True
        self._thread: threading.Thread | None = None
        #: One thread (one store connection) for checkpoints and reopens behind the
        #: micro-batches.
        self._folder = ThreadPoolExecutor(
            1, thread_name_prefix="idgraph-checkpoint", initializer=unpin
        )
        self._folding: Future[None] | None = None
        self.batches = 0
        #: Seconds the applied micro-batches took, summed, from parsing to commit.
        self.batch_seconds = 0.0
        self.checkpoints = 0
        #: Seconds the checkpoints took, summed (those inside reopens count as reopens).
        self.checkpoint_seconds = 0.0
        self.reopens = 0
        self.reopen_seconds = 0.0
        self.failed_calls = 0
        self.store_failures = 0
        self.applied_calls = 0
        self.refused_calls = 0
        #: Values dropped from calls that were stored (one `field` reject each).
        self.values_dropped = 0
        #: Each resolved call's wait from its acknowledgement to its micro-batch's commit.
        self.waits = LagHistogram()
        self._refresh()  # what was appended before a restart counts in the depth at once

    # -- what other threads ask -----------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def lanes(self) -> list[LaneState]:
        """Per lane, the last whole record seen and the last one applied."""
        with self._cond:
            return [
                LaneState(lane, tail.next - 1, self._applied.get(lane, 0))
                for lane, tail in sorted(self._tails.items())
            ]

    def applied(self, lane: str) -> int:
        with self._cond:
            return self._applied.get(lane, 0)

    def depth(self, fresh: bool = False) -> tuple[int, float]:
        """Calls acknowledged but not applied, and the age in seconds of the oldest of them.

        With `fresh`, first read what the lanes gained, in the caller's thread: a call
        acknowledged just before counts. Waiting for the resolver's thread to read them
        instead answered only after its micro-batch in flight had committed, when the calls
        left waiting are the youngest: the lag it reported ran low.
        """
        if fresh:
            self._read_lanes()
            if self.running and set(lane_folders(self._root)) - set(self._tails):
                self._await_look(_NEW_LANE_WAIT_S)
        with self._cond:
            calls = sum(p.calls for queue in self._pending.values() for p in queue)
            heads = [queue[0].at for queue in self._pending.values() if queue]
        return calls, max(time.time() - min(heads), 0.0) if heads else 0.0

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
        self._folder.shutdown(wait=True)

    def pause(self) -> None:
        """Stop applying after the current micro-batch (a test hook)."""
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def wake(self, _offset: int = 0) -> None:
        """A record was made durable in this process: look at the lanes now."""
        with self._cond:
            self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold off the resolver while another writer (an admin call) changes the store.

        The store takes one writer at a time; a micro-batch in flight finishes first. The
        writer's commits are folded into the store's files at the next lull, as the
        resolver's own are.
        """
        with self._writing:
            try:
                yield
            finally:
                self._unfolded = True

    def catch_up(self, timeout: float) -> bool:
        """Block until every call made durable before this call is applied, in every lane
        (False when `timeout` seconds pass first)."""
        asked = time.monotonic()
        with self._cond:
            self._cond.notify_all()
            return self._cond.wait_for(
                lambda: self._looked_at > asked and not any(self._pending.values()), timeout
            )

    def wait_for(self, lane: str, offset: int, timeout: float) -> bool:
        """Block until `offset` of `lane` is applied; False when `timeout` seconds pass first."""
        with self._cond:
            return self._cond.wait_for(lambda: self._applied.get(lane, 0) >= offset, timeout)

    # -- the thread ---------------------------------------------------------------------

    def _run(self) -> None:
        self._warm()
        while True:
            self._refresh()
            with self._cond:
                calls, oldest = self._head()
                if self._stopping and (self._paused or self._failing or not calls):
                    break
                if self._paused or not calls:
                    lull = self._idle and time.monotonic() - self._last_work >= self._idle
                    if not (lull and self._unfolded):
                        self._cond.wait(self._poll)
                        continue
                else:
                    delay = oldest + self._wait - time.time()
                    if delay > 0 and calls < self._max_calls and not self._stopping:
                        self._cond.wait(min(delay, self._poll))
                        continue
            if not calls or self._paused:
                with self._writing:
                    self._checkpoint()
                continue
            taken = self._take()
            with self._writing, self._pin.hold():
                self._apply(taken)
                self._reopen_if_grown()
            self._checkpoint_behind()
        self._settle()

    def _warm(self) -> None:
        """Read the mirror into memory before the first micro-batch needs it."""
        started = time.monotonic()
        try:
            with self._writing:
                warm_mirror(self._store, self._match_config)
        except IdGraphError as exc:  # the first micro-batch reads what it needs instead
            logger.warning("reading the resolution state into memory failed: %s", exc)
        else:
            logger.info("resolution state in memory in %.1f s", time.monotonic() - started)
        finally:
            self.warming = False

    def _head(self) -> tuple[int, float]:
        calls = sum(p.calls for queue in self._pending.values() for p in queue)
        heads = [queue[0].at for queue in self._pending.values() if queue]
        return calls, min(heads) if heads else 0.0

    def _refresh(self) -> None:
        """Follow new lanes and read what the lanes gained."""
        for lane, folder in lane_folders(self._root).items():
            if lane not in self._tails:
                applied = applied_offset(self._store, lane)
                with self._reading, self._cond:
                    self._folders[lane] = folder
                    self._applied[lane] = applied
                    self._pending[lane] = deque()
                    self._tails[lane] = LaneTail(folder, applied)
        self._read_lanes()

    def _await_look(self, timeout: float) -> None:
        """Let the thread look at the lanes once more (it alone follows a new lane, reading
        where the store says it was applied up to), waiting at most `timeout` seconds."""
        with self._cond:
            asked, give_up = time.monotonic(), time.monotonic() + timeout
            self._cond.notify_all()
            while self._looked_at < asked and time.monotonic() < give_up:
                self._cond.wait(give_up - time.monotonic())

    def _read_lanes(self) -> None:
        """Read what the followed lanes gained into the pending calls (from any thread)."""
        started = time.monotonic()
        with self._reading:
            for lane, tail in list(self._tails.items()):
                while records := tail.read():
                    fresh = [self._pending_of(lane, r.offset, r.body) for r in records]
                    with self._cond:
                        self._pending[lane].extend(fresh)
        with self._cond:
            self._looked_at = max(self._looked_at, started)
            self._cond.notify_all()

    @staticmethod
    def _pending_of(lane: str, offset: int, body: bytes) -> Pending:
        head = orjson.loads(body)
        calls = int(head.get("n", 0)) if isinstance(head, dict) else 0
        at = float(head.get("at") or time.time()) if isinstance(head, dict) else time.time()
        return Pending(lane, offset, calls, at, body)

    def _take(self) -> list[Pending]:
        """Up to `max_calls` calls, each lane's records in order, oldest lanes first."""
        taken: list[Pending] = []
        calls = 0
        with self._cond:
            queues = sorted((q for q in self._pending.values() if q), key=lambda queue: queue[0].at)
            for queue in queues:
                for record in queue:
                    if taken and calls + record.calls > self._max_calls:
                        return taken
                    taken.append(record)
                    calls += record.calls
        return taken

    def _apply(self, records: list[Pending]) -> None:
        last: dict[str, int] = {}
        for record in records:
            last[record.lane] = record.offset
        started = time.monotonic()
        try:
            if self._store.down is not None:
                # A reopen closed the store and could not open it again: try once more (in
                # the checkpoint thread, so the engine's threads are not pinned as this one).
                self._folder.submit(self._store.reopen).result()
                logger.warning("the store is open again after a failed reopen")
            logged = self._parse([r.body for r in records])
            if logged.batch is not None:
                ingest_batches(
                    self._store,
                    [logged.batch],
                    match_config=self._match_config,
                    traits=self._traits,
                    summary=False,
                    meta={offset_key(lane): str(offset) for lane, offset in last.items()},
                )
        except StoreError as exc:
            # The store cannot take writes now: keep the offsets and try again later, so no
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
            # on; its offset is stamped with the next micro-batch of its lane.
            self.failed_calls += records[0].calls
        else:
            committed = time.time()
            for record in records:
                self.waits.add(committed - record.at, record.calls)
            self.batches += 1
            self.batch_seconds += time.monotonic() - started
            self.applied_calls += sum(r.calls for r in records) - len(logged.refused)
            self.refused_calls += len(logged.refused)
            self.values_dropped += len(logged.dropped)
            if self._refused is not None and logged.rejects:
                self._refused(logged.rejects)
        self._failing = False
        self._unfolded = True
        self._last_work = time.monotonic()
        with self._cond:
            for lane, offset in last.items():
                self._applied[lane] = offset
                queue = self._pending[lane]
                while queue and queue[0].offset <= offset:
                    queue.popleft()
            self._cond.notify_all()
        for lane, offset in last.items():
            trim_lane(self._folders[lane], offset)

    def _checkpoint_behind(self) -> None:
        """Start a reopen in the background when the process has grown, or else a checkpoint
        when the store's log asks for one."""
        if self._folding is not None and not self._folding.done():
            return
        if self._store.down is not None:
            return
        if self._grown is not None:
            grown, self._grown = self._grown, None
            self._folding = self._folder.submit(self._reopen, grown)
        elif self._store.checkpoint_due():
            self._folding = self._folder.submit(self._fold_log)

    def _fold_log(self) -> None:
        try:
            self._timed_checkpoint()
        except IdGraphError as exc:  # the engine checkpoints at a later commit instead
            logger.warning("checkpoint behind the resolver failed: %s", exc)

    def _timed_checkpoint(self) -> None:
        """Checkpoint the store, counted with its time: while one runs the resolver's next
        write waits, so `GET /v1/status` shows what the lag paid for them."""
        started = time.monotonic()
        if not self._store.checkpoint():
            return
        took = time.monotonic() - started
        self.checkpoints += 1
        self.checkpoint_seconds += took
        logger.debug("store checkpointed in %.2f s", took)

    def _settle(self) -> None:
        """Wait for a checkpoint started in the background."""
        if self._folding is not None:
            self._folding.result()
            self._folding = None

    def _checkpoint(self) -> None:
        self._settle()
        if not self._unfolded:
            return
        try:
            self._timed_checkpoint()
        except IdGraphError as exc:  # the commits stay in the engine's log; a later lull retries
            logger.warning("checkpoint in a lull failed: %s", exc)
            return
        self._unfolded = False

    def _reopen_if_grown(self) -> None:
        """Ask for a reopen behind the micro-batches once the process has grown too much."""
        if not self._reopen_bytes or self._grown is not None:
            return
        if (now := resident_bytes()) is None:
            return
        if self._baseline is None or now < self._baseline:
            self._baseline = now
            return
        # The engine caches the store's pages as micro-batches touch them: growth up to the
        # store's size is that cache, not what its past writes hold (at 1M customers, a 2 GiB
        # file meant a reopen every ~10 s, each a checkpoint of seconds).
        if now - self._baseline >= self._reopen_bytes + self._store.file_bytes():
            self._grown = now

    def _reopen(self, grown: int) -> None:
        """Reopen the store (in the background thread): the resolver reads and resolves its
        next micro-batch meanwhile, and its write waits until the store is open again."""
        started = time.monotonic()
        try:
            self._store.reopen()
        except IdGraphError as exc:
            # Closed but not open again (`store.down`): the next micro-batch tries to open it
            # before anything else. Otherwise it stays as it was until more growth.
            logger.warning("reopening the store failed: %s", exc)
            self._baseline = grown
            return
        self.reopens += 1
        self.reopen_seconds += time.monotonic() - started
        self._baseline = resident_bytes()
        logger.info(
            "store reopened to give back memory: %d MiB resident before, %d MiB after",
            grown >> 20,
            (self._baseline or 0) >> 20,
        )

    @staticmethod
    def _log_failure(exc: Exception, records: int) -> None:
        # The message of an unexpected error may quote input values: log its type only.
        detail = str(exc) if isinstance(exc, IdGraphError) else type(exc).__name__
        logger.error("resolving %d log record(s) failed: %s", records, detail)
        logger.debug("resolve failure", exc_info=exc)
