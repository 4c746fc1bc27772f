"""Where the store is, from flags or the environment; credentials only ever from the environment."""

from __future__ import annotations

import os
from pathlib import Path

from idgraph.errors import ConfigError
from idgraph.store.base import GraphStore

DEFAULT_STORE = "idgraph.db"
STORE_ENV = "IDGRAPH_STORE"
_NEO4J_SCHEMES = ("bolt://", "bolt+s://", "bolt+ssc://", "neo4j://", "neo4j+s://", "neo4j+ssc://")


def resolve_store_url(store: str | Path | None) -> str:
    """The store to use: the explicit option, else `$IDGRAPH_STORE`, else `./idgraph.db`."""
    if store:
        return str(store)
    return os.environ.get(STORE_ENV) or DEFAULT_STORE


def open_store(
    store: str | Path | None = None,
    *,
    read_only: bool = False,
    database: str | None = None,
    cache_mb: int | None = None,
) -> GraphStore:
    """Open the configured store: a Neo4j URL, or an embedded LadybugDB file path.

    Args:
        store: Path or URL; default `$IDGRAPH_STORE`, else `./idgraph.db`.
        read_only: Open for reading only (reads route to Neo4j readers).
        database: Neo4j database name; default the server's. Embedded stores ignore it.
        cache_mb: the embedded engine's page cache in MiB (`IDGRAPH_BUFFER_POOL_MB` overrides
            it; None: the engine's default). Neo4j ignores it.

    Raises:
        StoreUnavailable: the store cannot be opened or reached.
        ConfigError: unknown URL scheme, or credentials in the URL.
    """
    url = resolve_store_url(store)
    if url.startswith(_NEO4J_SCHEMES):
        from idgraph.store.neo4j import Neo4jStore

        return Neo4jStore(url, read_only=read_only, database=database)
    if "://" in url:
        raise ConfigError(
            f"unknown store URL scheme in {url!r}: use a file path (embedded) or "
            + ", ".join(_NEO4J_SCHEMES)
        )
    from idgraph.store.ladybug import LadybugStore

    return LadybugStore(url, read_only=read_only, cache_mb=cache_mb)
