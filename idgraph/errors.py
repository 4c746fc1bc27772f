"""Exceptions raised by idgraph.

Every error a user can cause derives from :class:`IdGraphError`, so the CLI can turn any of them
into one line and an exit code, and services importing :mod:`idgraph.query` can catch one type::

    IdGraphError
    ├── ConfigError                 a match config, source mapping or setting is invalid
    ├── InputError                  an input file cannot be read (carries path, line, field)
    ├── SegmentDefinitionError      a segment definition is invalid (carries path, location)
    ├── NotFoundError               an identifier, customer or record is not in the store
    └── StoreError                  the graph store failed
        ├── StoreUnavailable        it cannot be opened or reached
        └── StoreQueryError         one named statement failed (never carries parameter values)
"""

from __future__ import annotations

from pathlib import Path


class IdGraphError(Exception):
    """Base class of every error idgraph raises on purpose."""


class ConfigError(IdGraphError):
    """A configuration file or option is invalid; the message lists every problem found."""

    def __init__(self, message: str, *, path: Path | str | None = None) -> None:
        self.path = str(path) if path is not None else None
        super().__init__(f"{self.path}: {message}" if self.path else message)


class InputError(IdGraphError):
    """An input file cannot be read at all (empty, binary, missing a mapped column)."""

    def __init__(
        self,
        message: str,
        *,
        path: Path | str,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        where = self.path
        if line is not None:
            where += f":{line}"
        if field is not None:
            where += f" [{field}]"
        self.reason = message
        super().__init__(f"{where}: {message}")


class FieldError(ValueError):
    """One field of one input line is unusable; readers turn it into a reject naming the field.

    Not an `IdGraphError`: it never leaves the ingest stage, it becomes a line in the rejects file.
    """

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class SegmentDefinitionError(IdGraphError):
    """A segment definition is invalid; `location` is the path inside it, e.g. `where.all[2]`."""

    def __init__(self, message: str, *, path: str | None = None, location: str | None = None):
        self.path = path
        self.location = location
        prefix = ": ".join(p for p in (path, location) if p)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class NotFoundError(IdGraphError):
    """The thing asked for is not in the store."""


class StoreError(IdGraphError):
    """The graph store failed."""


class StoreUnavailable(StoreError):
    """The store cannot be opened or reached; the message says what to do."""


class StoreQueryError(StoreError):
    """A named statement failed. Parameter values are never included (they may hold PII)."""

    def __init__(self, query_name: str, message: str) -> None:
        self.query_name = query_name
        super().__init__(f"query {query_name!r} failed: {message}")
