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


def open_store(store: str | Path | None = None, *, read_only: bool = False) -> GraphStore:
    """Open the configured store: a Neo4j URL, or an embedded LadybugDB file path.

    Raises:
        StoreUnavailable: the store cannot be opened.
        ConfigError: the URL names an engine idgraph does not support yet.
    """
    url = resolve_store_url(store)
    if url.startswith(_NEO4J_SCHEMES):
        raise ConfigError(
            f"Neo4j stores ({url.split('://')[0]}://) are not supported in this version yet; "
            "use an embedded store path such as ./idgraph.db"
        )
    if "://" in url:
        raise ConfigError(
            f"unknown store URL scheme in {url!r}: use a file path (embedded) or bolt://, neo4j://"
        )
    from idgraph.store.ladybug import LadybugStore

    return LadybugStore(url, read_only=read_only)
