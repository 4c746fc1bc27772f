"""What the endpoints share: the store, the reader over it, the call log and its resolver,
rejects and counters."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel

from idgraph.activate.loop import DeliveryLoop
from idgraph.activate.status import DestinationStatus, delivery_status
from idgraph.errors import ConfigError, IdGraphError
from idgraph.match.config import load_match_config
from idgraph.pipeline import erased_hashes
from idgraph.query import CustomerProfile, EvidencePath, IdentityGraph, SegmentPage
from idgraph.serve.affinity import check_cpu
from idgraph.serve.calls import ParsedRequest, parse_logged
from idgraph.serve.log import CallLog, LogClosed, lane_folder
from idgraph.serve.models import Counters, Health, LaneStatus, Status
from idgraph.serve.rejects import RejectsLog
from idgraph.serve.resolver import Resolver, applied_offset
from idgraph.serve.settings import ServeSettings
from idgraph.state import keep_mirror_in_memory
from idgraph.store.base import GraphStore
from idgraph.store.queries import READS
from idgraph.traits.config import load_traits_config

logger = logging.getLogger(__name__)


class Backend(Protocol):
    """What the endpoints use of the process state: `Service` in the process that holds the
    store, `idgraph.serve.front.Front` in an HTTP worker process (which asks the former)."""

    settings: ServeSettings

    @property
    def graph(self) -> GraphReads: ...

    def append(self, body: bytes) -> Future[int]: ...

    def wait_for(self, offset: int, timeout: float) -> bool: ...

    def count_request(self, parsed: ParsedRequest) -> None: ...

    def count_outcome(self, *, accepted: int = 0, failed: int = 0) -> None: ...

    def counters(self) -> Counters: ...

    def customers_of(self, record_keys: list[str]) -> list[str]: ...

    def health(self) -> Health: ...

    def status(self) -> Status: ...

    def admin(self, op: str, body: BaseModel) -> BaseModel: ...

    def ui(self, op: str, body: BaseModel) -> BaseModel: ...

    def destinations(self) -> list[DestinationStatus]: ...


class GraphReads(Protocol):
    """The reads of `IdentityGraph` the endpoints make."""

    def lookup(self, identifier: str) -> list[str]: ...

    def why_not_found(self, identifier: str) -> str: ...

    def profile(self, customer_id: str, *, events: int = 20) -> CustomerProfile: ...

    def segment_members(self, name: str, *, offset: int = 0, limit: int = 100) -> SegmentPage: ...

    def explain(self, record_a: str, record_b: str) -> EvidencePath: ...


class Tally:
    """Running totals of the requests one process answered (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters = Counters()

    def count_request(self, parsed: ParsedRequest) -> None:
        """Count a request's calls as received and its refused ones as rejected."""
        with self._lock:
            self._counters.requests += 1
            self._counters.received += parsed.received
            self._counters.rejected += len(parsed.rejects)
            self._counters.pending += parsed.accepted

    def count_outcome(self, *, accepted: int = 0, failed: int = 0) -> None:
        """Move a request's valid calls from pending to logged (or failed)."""
        with self._lock:
            self._counters.pending -= accepted + failed
            self._counters.accepted += accepted
            self._counters.failed += failed

    def add(self, delta: dict[str, int]) -> None:
        """Add the totals another process counted (a worker's, sent to the resolver's)."""
        with self._lock:
            for name, value in delta.items():
                setattr(self._counters, name, getattr(self._counters, name) + value)

    def snapshot(self) -> Counters:
        with self._lock:
            return self._counters.model_copy()


class Counting:
    """Counting a process's requests, and appending their refused calls to the rejects file:
    the same in the process that holds the store and in a worker process."""

    rejects: RejectsLog
    tally: Tally

    def count_request(self, parsed: ParsedRequest) -> None:
        """Count a request and append its refused calls to the rejects file."""
        self.rejects.append(parsed.rejects)
        self.tally.count_request(parsed)

    def count_outcome(self, *, accepted: int = 0, failed: int = 0) -> None:
        self.tally.count_outcome(accepted=accepted, failed=failed)


class Service(Counting):
    """The state of the process that holds the store: the store, the reader over it, the
    resolver over the call log, the rejects file and the totals; `app.state.service` holds
    one when the HTTP worker runs in this process.

    Args:
        store: the open, writable store.
        settings: the service's settings.
        lane: the call-log lane this process appends to (None: HTTP workers in other
            processes do, `idgraph.serve.front`).
    """

    def __init__(self, store: GraphStore, settings: ServeSettings, *, lane: int | None = 0) -> None:
        keep_mirror_in_memory(True)  # the resolver runs many small ingests in this process
        self.store = store
        self.settings = settings
        match_config = settings.match_config or load_match_config(None)
        #: The configs every write resolves with: the resolver's micro-batches and admin calls.
        self.match_config = match_config
        self.traits = settings.traits or load_traits_config(None)
        self.graph = IdentityGraph.over(
            store,
            default_region=settings.options.default_region,
            junk=settings.options.junk,
            match_config=match_config,
        )
        self.log_root = log_folder(store, settings)
        self.rejects = RejectsLog(settings.rejects_path)
        self.tally = Tally()
        self.resolver = Resolver(
            store,
            self.log_root,
            lambda bodies: parse_logged(bodies, self.settings),
            refused=self.rejects.append,
            match_config=match_config,
            traits=self.traits,
            max_calls=settings.resolve_max_calls,
            max_wait_ms=settings.resolve_wait_ms,
            idle_checkpoint_s=settings.checkpoint_idle_s,
            reopen_growth_mb=settings.store_reopen_mb,
            paused=settings.resolver_paused,
            cpu=check_cpu(settings.resolver_cpu),
        )
        #: Continuous delivery of segment changes, when destinations are configured.
        self.delivery: DeliveryLoop | None = None
        if settings.destinations is not None:
            self.delivery = DeliveryLoop(
                store,
                settings.destinations,
                interval_s=settings.deliver_interval_s,
                writing=self.resolver.exclusive,
            )
        self.log: CallLog | None = None
        self.lane = ""
        if lane is not None:
            self.lane = lane_folder(self.log_root, lane).name
            self.log = CallLog(
                lane_folder(self.log_root, lane),
                group_wait_ms=settings.log_group_wait_ms,
                start_after=applied_offset(store, self.lane),
                durable=self.resolver.wake,
            )

    # -- what the endpoints use (the same as `idgraph.serve.front.Front`) -----------------

    def append(self, body: bytes) -> Future[int]:
        """Append a request's record to this process's lane; the future gives its offset once
        it is durable."""
        if self.log is None:
            raise LogClosed("this process has no call-log lane")
        return self.log.append(body)

    def wait_for(self, offset: int, timeout: float) -> bool:
        """Block until this process's record `offset` is resolved (False after `timeout`)."""
        return self.resolver.wait_for(self.lane, offset, timeout)

    def counters(self) -> Counters:
        """A snapshot of the running totals (every worker's)."""
        snapshot = self.tally.snapshot()
        snapshot.commits = self.resolver.batches
        done = snapshot.accepted + snapshot.rejected + snapshot.failed + snapshot.pending
        snapshot.reconciles = snapshot.received == done
        return snapshot

    def start(self) -> None:
        """Start the background threads: the resolver, and delivery when configured."""
        self.resolver.start()
        if self.delivery is not None:
            self.delivery.start()

    def destinations(self) -> list[DestinationStatus]:
        """Per destination: pending, sent, failed, dead, last error (none configured: [])."""
        if self.settings.destinations is None:
            return []
        return delivery_status(self.store, self.settings.destinations)

    def admin(self, op: str, body: BaseModel) -> BaseModel:
        """Run an admin operation (`idgraph.serve.admin_ops.OPERATIONS`) on the store."""
        from idgraph.serve.admin_ops import OPERATIONS

        return OPERATIONS[op](self, body)

    def ui(self, op: str, body: BaseModel) -> BaseModel:
        """Run a web page's operation (`idgraph.serve.ui.ops.OPERATIONS`) on the store."""
        from idgraph.serve.ui.ops import OPERATIONS

        return OPERATIONS[op](self, body)

    def refresh_erased(self) -> None:
        """Read the erased identifiers' hashes again, after an erasure (admin `forget`).

        The resolver refuses calls carrying them from now on, in the calls it has not applied
        yet too.
        """
        options = self.settings.options.model_copy(update={"erased": erased_hashes(self.store)})
        self.settings = self.settings.model_copy(update={"options": options})

    def customers_of(self, record_keys: list[str]) -> list[str]:
        """The customers the given records belong to now."""
        found: set[str] = set()
        for key in record_keys:
            rows = self.store.query("customer_by_record", READS["customer_by_record"], {"key": key})
            found.update(row["id"] for row in rows)
        return sorted(found)

    def health(self) -> Health:
        return Health(
            resolver="running" if self.resolver.running else "stopped",
            pending=self.resolver.depth()[0],
        )

    def status(self) -> Status:
        """Queue depth and resolution lag of the background resolver."""
        depth, lag = self.resolver.depth(fresh=True)
        state: Literal["warming", "running", "paused", "stopped"]
        if not self.resolver.running:
            state = "stopped"
        elif self.resolver.paused:
            state = "paused"
        else:
            state = "warming" if self.resolver.warming else "running"
        lanes = self.resolver.lanes()
        return Status(
            resolver=state,
            depth=depth,
            lag_s=round(lag, 3),
            waits=self.resolver.waits.summary(),
            appended_offset=sum(lane.appended for lane in lanes),
            applied_offset=sum(lane.applied for lane in lanes),
            batches=self.resolver.batches,
            batch_s=round(self.resolver.batch_seconds, 3),
            store_reopens=self.resolver.reopens,
            store_reopen_s=round(self.resolver.reopen_seconds, 3),
            store_checkpoints=self.resolver.checkpoints,
            store_checkpoint_s=round(self.resolver.checkpoint_seconds, 3),
            refused=self.resolver.refused_calls,
            values_dropped=self.resolver.values_dropped,
            store_down=self.store.down,
            lanes=[LaneStatus(lane=s.lane, appended=s.appended, applied=s.applied) for s in lanes],
        )

    def close(self) -> None:
        """Close the log, resolve what it holds, then fold the commits into the store's files."""
        if self.log is not None:
            self.log.close()
        if self.delivery is not None:
            self.delivery.stop()
        self.resolver.stop()
        self.rejects.close()
        try:
            self.store.checkpoint()
        except IdGraphError as exc:  # the commits stay in the log, replayed at the next open
            logger.warning("checkpoint at shutdown failed: %s", exc)


def log_folder(store: GraphStore, settings: ServeSettings) -> Path:
    """Where the call log lives: `settings.log_path`, else `<store>.calls` beside the store."""
    if settings.log_path is not None:
        return settings.log_path
    if "://" in store.location:
        raise ConfigError(
            f"the call log needs a folder: set log_path (--log-dir) for {store.location}"
        )
    return Path(f"{store.location}.calls")
