"""The `idgraph` command: a thin typer adapter over the library (entry point `idgraph.cli:app`).

Commands live in modules by what they do; importing them registers them on `app`, in the order
`idgraph --help` lists them.
"""

import os

from idgraph.memory import ALLOCATOR_SETTINGS

# Before Polars loads (docs/core.md, "Memory").
os.environ.setdefault(*ALLOCATOR_SETTINGS)

from idgraph.cli import (  # noqa: F401  (registers commands)
    deliver,
    ingest,
    mapping,
    reads,
    report,
    resolve,
    segments,
    serve,
    store_export,
)
from idgraph.cli._app import app, unwrap_help

unwrap_help(app)

__all__ = ["app"]
