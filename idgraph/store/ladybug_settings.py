"""The embedded store's sizes, read from the environment (in whole MiB)."""

from __future__ import annotations

import os

from idgraph.errors import ConfigError

__all__ = [
    "BUFFER_POOL_ENV",
    "CHECKPOINT_ENV",
    "DEFAULT_CHECKPOINT_MB",
    "checkpoint_bytes",
    "megabytes",
]

#: Write-ahead log size, in MiB, past which LadybugDB checkpoints at a commit.
CHECKPOINT_ENV = "IDGRAPH_CHECKPOINT_MB"
DEFAULT_CHECKPOINT_MB = 64
#: The engine's page cache, in MiB (unset: LadybugDB's own default, most of the machine's RAM,
#: which a long-lived service fills as it touches pages).
BUFFER_POOL_ENV = "IDGRAPH_BUFFER_POOL_MB"


def checkpoint_bytes() -> int:
    """The write-ahead log size that triggers a checkpoint, from `IDGRAPH_CHECKPOINT_MB`."""
    return megabytes(CHECKPOINT_ENV, DEFAULT_CHECKPOINT_MB) or 0


def megabytes(name: str, default: int | None) -> int | None:
    """A size in bytes from an environment variable in whole MiB (at least 1), or `default`
    MiB when it is unset (None: no size)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None if default is None else default * 1024 * 1024
    try:
        megabytes = int(raw)
    except ValueError:
        megabytes = 0
    if megabytes < 1:
        raise ConfigError(f"{name}={raw!r}: give a whole number of MiB, at least 1")
    return megabytes * 1024 * 1024
