"""The real-time HTTP service behind `idgraph serve`: Segment-compatible collection endpoints
that store and resolve each call as it arrives, and read endpoints over `idgraph.query`.

Examples:
    >>> from idgraph.serve import ServeSettings, create_app
    >>> from idgraph.settings import open_store
    >>> store = open_store("idgraph.db")  # doctest: +SKIP
    >>> app = create_app(store, ServeSettings(api_keys=("k1",)))  # doctest: +SKIP
"""

from idgraph.serve.app import create_app
from idgraph.serve.settings import (
    ADMIN_KEYS_ENV,
    API_KEYS_ENV,
    ServeSettings,
    admin_keys_from_env,
    api_keys_from_env,
)

__all__ = [
    "ADMIN_KEYS_ENV",
    "API_KEYS_ENV",
    "ServeSettings",
    "admin_keys_from_env",
    "api_keys_from_env",
    "create_app",
]
