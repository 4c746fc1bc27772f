"""idgraph: graph-based identity resolution and segmentation for customer data platforms.

The public surface is small: `run_ingest` resolves files into a store, `IdentityGraph` reads it.
Importing idgraph loads neither the CLI stack nor a database driver.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from idgraph.errors import (
    ConfigError,
    IdGraphError,
    InputError,
    NotFoundError,
    SegmentDefinitionError,
    StoreError,
    StoreQueryError,
    StoreUnavailable,
)

try:
    __version__ = version("idgraph")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "ConfigError",
    "IdGraphError",
    "IdentityGraph",
    "IngestReport",
    "InputError",
    "NotFoundError",
    "SegmentDefinitionError",
    "StoreError",
    "StoreQueryError",
    "StoreUnavailable",
    "__version__",
    "run_ingest",
]


def __getattr__(name: str) -> object:
    # Lazy so `import idgraph` stays cheap and free of the store engine until it is used.
    if name in ("run_ingest", "IngestReport"):
        from idgraph import pipeline

        return getattr(pipeline, name)
    if name == "IdentityGraph":
        from idgraph.query import IdentityGraph

        return IdentityGraph
    raise AttributeError(f"module 'idgraph' has no attribute {name!r}")
