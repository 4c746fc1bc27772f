"""Opt-in logging for the CLI; the library never configures the root logger."""

from __future__ import annotations

import logging


def enable(level: int = logging.INFO) -> None:
    """Send idgraph's log records to stderr at `level` (DEBUG shows query names, never values)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("idgraph")
    root.handlers[:] = [handler]
    root.setLevel(level)
