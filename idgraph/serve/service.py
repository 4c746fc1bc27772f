"""What the endpoints share: the store, the reader over it, the call log and its resolver,
rejects and counters."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Literal

from idgraph.errors import ConfigError, IdGraphError
from idgraph.match.config import load_match_config
from idgraph.query import IdentityGraph
from idgraph.serve.calls import ParsedRequest, parse_logged
from idgraph.serve.log import CallLog
from idgraph.serve.models import Counters, Status
from idgraph.serve.rejects import RejectsLog
from idgraph.serve.resolver import Resolver, applied_offset
from idgraph.serve.settings import ServeSettings
from idgraph.store.base import GraphStore
from idgraph.store.queries import READS
from idgraph.traits.config import load_traits_config

logger = logging.getLogger(__name__)


class Service:
    """The running service's state; `app.state.service` holds one."""

    def __init__(self, store: GraphStore, settings: ServeSettings) -> None:
        self.store = store
        self.settings = settings
        match_config = settings.match_config or load_match_config(None)
        self.graph = IdentityGraph.over(
            store,
            default_region=settings.options.default_region,
            junk=settings.options.junk,
            match_config=match_config,
        )
        self.log = CallLog(
            log_folder(store, settings),
            group_wait_ms=settings.log_group_wait_ms,
            start_after=applied_offset(store),
        )
        self.rejects = RejectsLog(settings.rejects_path)
        self.resolver = Resolver(
            store,
            self.log,
            lambda bodies: parse_logged(bodies, self.settings),
            refused=self.rejects.append,
            match_config=match_config,
            traits=settings.traits or load_traits_config(None),
            max_calls=settings.resolve_max_calls,
            max_wait_ms=settings.resolve_wait_ms,
            idle_checkpoint_s=settings.checkpoint_idle_s,
            paused=settings.resolver_paused,
        )
        self._lock = threading.Lock()
        self._counters = Counters()

    def counters(self) -> Counters:
        """A snapshot of the running totals."""
        with self._lock:
            snapshot = self._counters.model_copy()
        snapshot.commits = self.resolver.batches
        done = snapshot.accepted + snapshot.rejected + snapshot.failed + snapshot.pending
        snapshot.reconciles = snapshot.received == done
        return snapshot

    def count_request(self, parsed: ParsedRequest) -> None:
        """Count a request's calls as received and its refused ones as rejected (and log them)."""
        self.rejects.append(parsed.rejects)
        with self._lock:
            self._counters.requests += 1
            self._counters.received += parsed.received
            self._counters.rejected += len(parsed.rejects)
            self._counters.pending += parsed.accepted

    def count_outcome(self, *, accepted: int = 0, failed: int = 0) -> None:
        """Move a request's valid calls from pending to stored (or failed)."""
        with self._lock:
            self._counters.pending -= accepted + failed
            self._counters.accepted += accepted
            self._counters.failed += failed

    def customers_of(self, record_keys: list[str]) -> list[str]:
        """The customers the given records belong to now."""
        found: set[str] = set()
        for key in record_keys:
            rows = self.store.query("customer_by_record", READS["customer_by_record"], {"key": key})
            found.update(row["id"] for row in rows)
        return sorted(found)

    def status(self) -> Status:
        """Queue depth and resolution lag of the background resolver."""
        depth, lag = self.resolver.depth()
        state: Literal["running", "paused", "stopped"]
        if not self.resolver.running:
            state = "stopped"
        else:
            state = "paused" if self.resolver.paused else "running"
        return Status(
            resolver=state,
            depth=depth,
            lag_s=round(lag, 3),
            appended_offset=self.log.last_offset,
            applied_offset=self.resolver.applied,
            batches=self.resolver.batches,
            refused=self.resolver.refused_calls,
        )

    def close(self) -> None:
        """Close the log, resolve what it holds, then fold the commits into the store's files."""
        self.log.close()
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
