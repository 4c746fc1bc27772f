"""What the service is configured with: keys, limits, the source name, resolution configs."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from idgraph.activate.config import DestinationsConfig
from idgraph.errors import ConfigError
from idgraph.match.config import MatchConfig
from idgraph.normalize.record import NormalizeOptions
from idgraph.serve.affinity import CpuChoice
from idgraph.traits.config import TraitsConfig

#: The environment variable holding the accepted API keys, comma-separated.
API_KEYS_ENV = "IDGRAPH_API_KEYS"
#: The environment variable holding the admin keys (erasure, history, link, split).
ADMIN_KEYS_ENV = "IDGRAPH_ADMIN_KEYS"

#: Segment's own limits: 32 KB per call, 500 KB per batch request.
DEFAULT_MAX_CALL_BYTES = 32 * 1024
DEFAULT_MAX_BATCH_BYTES = 500 * 1024


class ServeSettings(BaseModel):
    """How `create_app` behaves; the CLI builds it from flags and the environment.

    Attributes:
        api_keys: keys a client may present (Basic username or Bearer token); empty with
            `auth=False` only.
        admin_keys: keys that open the admin endpoints (`/v1/admin/...`), and only them (a
            key opens collection and reads only if it is in `api_keys` too); empty: the admin
            endpoints answer 403, whatever `auth` says.
        auth: False turns authentication off for collection and reads (the CLI allows it on
            loopback hosts only); the admin endpoints still need an admin key.
        source: source name of every record and event the service stores.
        options: normalization options for fields in traits (phone region, date order).
        match_config: resolution config; None means the shipped default.
        traits: computed traits config; None means the shipped default.
        rejects_path: JSONL file every rejected call is appended to (None: counted only).
        max_call_bytes: body limit of a single-call endpoint, and of each call in a batch.
        max_batch_bytes: body limit of `/v1/batch`.
        max_batch_calls: calls one batch request may hold.
        checkpoint_idle_s: seconds without calls after which the resolver folds its commits
            into the store's files (embedded store; 0: only when the log passes
            `IDGRAPH_CHECKPOINT_MB`, and at stop).
        store_reopen_mb: once the resolver's process has grown by this many MiB, plus the
            store's file size (what the engine's page cache may hold), since its first
            micro-batch, the resolver reopens the embedded store between micro-batches, which
            gives back what the engine kept of past writes (0: never).
        segment_page_limit: largest `limit` of a segment members page.
        log_path: folder of the call log (None: `<store>.calls` beside the embedded store).
        log_group_wait_ms: how long the log writer waits for more calls before one fsync.
        resolve_max_calls: calls the resolver applies in one micro-batch at most.
        resolve_wait_ms: how long after the oldest unresolved call the resolver waits for more.
        resolver_paused: start with the resolver paused (a test hook; nothing is resolved).
        resolver_cpu: pin the resolver thread and Polars' thread pool to one CPU while a
            micro-batch runs (`idgraph.serve.affinity`): `"auto"` (the CPU the resolver woke
            up on, on Linux with two or more), a CPU number, or None (not pinned; the default
            here, as the pool is the whole process's; `idgraph serve` owns its process and
            defaults to `"auto"`).
        wait_timeout_s: how long `?wait=true` waits for resolution (then `resolved` is false).
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    api_keys: tuple[str, ...] = ()
    admin_keys: tuple[str, ...] = ()
    auth: bool = True
    source: str = Field(default="http", pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
    options: NormalizeOptions = NormalizeOptions()
    match_config: MatchConfig | None = None
    traits: TraitsConfig | None = None
    #: Destinations the service delivers segment changes to (`idgraph.activate`); None: none.
    destinations: DestinationsConfig | None = None
    deliver_interval_s: float = Field(default=1.0, gt=0, le=3600)
    rejects_path: Path | None = None
    max_call_bytes: int = Field(default=DEFAULT_MAX_CALL_BYTES, gt=0)
    max_batch_bytes: int = Field(default=DEFAULT_MAX_BATCH_BYTES, gt=0)
    max_batch_calls: int = Field(default=2500, gt=0)
    checkpoint_idle_s: float = Field(default=10.0, ge=0)
    store_reopen_mb: int = Field(default=512, ge=0)
    segment_page_limit: int = Field(default=1000, gt=0, le=10_000)
    log_path: Path | None = None
    log_group_wait_ms: float = Field(default=0.0, ge=0)
    resolve_max_calls: int = Field(default=5000, gt=0)
    resolve_wait_ms: float = Field(default=50.0, ge=0)
    resolver_paused: bool = False
    resolver_cpu: CpuChoice = None
    wait_timeout_s: float = Field(default=10.0, gt=0)


def api_keys_from_env(environ: dict[str, str] | None = None) -> tuple[str, ...]:
    """The API keys in `$IDGRAPH_API_KEYS` (comma-separated, blanks ignored).

    Examples:
        >>> api_keys_from_env({"IDGRAPH_API_KEYS": " k1, ,k2"})
        ('k1', 'k2')
    """
    return _keys(API_KEYS_ENV, environ)


def admin_keys_from_env(environ: dict[str, str] | None = None) -> tuple[str, ...]:
    """The admin keys in `$IDGRAPH_ADMIN_KEYS` (comma-separated, blanks ignored).

    Examples:
        >>> admin_keys_from_env({"IDGRAPH_ADMIN_KEYS": "a1,, a2 ", "IDGRAPH_API_KEYS": "k1"})
        ('a1', 'a2')
    """
    return _keys(ADMIN_KEYS_ENV, environ)


def _keys(name: str, environ: dict[str, str] | None) -> tuple[str, ...]:
    text = (os.environ if environ is None else environ).get(name, "")
    return tuple(key.strip() for key in text.split(",") if key.strip())


def is_loopback(host: str) -> bool:
    """Whether binding to `host` keeps the service on this machine.

    Examples:
        >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
        (True, True, False)
    """
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_auth_setup(settings: ServeSettings, host: str) -> None:
    """Refuse a service that anyone on the network could write to.

    Raises:
        ConfigError: no keys and auth on, or auth off on a non-loopback host.
    """
    if settings.auth and not settings.api_keys:
        raise ConfigError(
            f"no API keys: set {API_KEYS_ENV}=key1,key2 in the environment "
            "(or pass --no-auth when binding to 127.0.0.1)"
        )
    if not settings.auth and not is_loopback(host):
        raise ConfigError(
            f"--no-auth is allowed only on a loopback host (127.0.0.1, ::1, localhost), "
            f"not {host!r}: set {API_KEYS_ENV} instead"
        )
