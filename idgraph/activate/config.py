"""Destinations, declared in YAML: which segments go where, with which traits.

The format is fixed so scripts can rely on it (see docs/destinations.md)::

    destinations:
      - name: crm_hook
        kind: webhook            # webhook | file | audience
        url: http://127.0.0.1:9000/hook
        secret_env: CRM_HOOK_SECRET
        segments: [lapsed_high_spenders]

Secrets never sit in the file: `secret_env` names the environment variable holding them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from idgraph.config_file import problems_message, read_yaml_mapping, validation_problems
from idgraph.errors import ConfigError
from idgraph.segment.definition import SEGMENT_NAME_PATTERN
from idgraph.store.schema import check_property_name

__all__ = [
    "DESTINATIONS_FILE",
    "AudienceDestination",
    "Destination",
    "DestinationsConfig",
    "FileDestination",
    "RetryPolicy",
    "WebhookDestination",
    "find_destinations",
    "load_destinations",
]

#: The file looked for beside the segments when no `--destinations` is given.
DESTINATIONS_FILE = "destinations.yaml"
_NAME = r"^[a-z][a-z0-9_]{0,62}$"


class RetryPolicy(BaseModel):
    """How hard one destination is tried before a change goes to the dead-letter file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Attempts per batch, the first included.
    attempts: int = Field(default=5, ge=1, le=100)
    #: Wait before the second attempt; doubled for each one after, up to `max_backoff_s`.
    backoff_s: float = Field(default=0.5, ge=0, le=3600)
    max_backoff_s: float = Field(default=30.0, ge=0, le=86400)


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME)
    segments: list[str] = Field(min_length=1)
    #: Customer properties (traits, golden fields) sent with each entered customer.
    traits: list[str] = Field(default_factory=list)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)

    @field_validator("segments")
    @classmethod
    def _segment_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not SEGMENT_NAME_PATTERN.fullmatch(name):
                raise ValueError(f"{name!r} is not a segment name")
        return value

    @field_validator("traits")
    @classmethod
    def _trait_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if name != "id":
                check_property_name(name, what="trait")
        return value


class WebhookDestination(_Base):
    """POSTs JSON batches, signed with HMAC-SHA256 over the body when `secret_env` is set."""

    kind: Literal["webhook"]
    url: str = Field(pattern=r"^https?://")
    secret_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    batch_size: int = Field(default=500, ge=1, le=100_000)
    timeout_s: float = Field(default=10.0, gt=0, le=600)
    #: The header carrying `sha256=<hex digest>`.
    signature_header: str = "X-Idgraph-Signature"

    def secret(self) -> bytes | None:
        """The signing key, read from the environment now.

        Raises:
            ConfigError: `secret_env` is set but the variable is not.
        """
        if self.secret_env is None:
            return None
        value = os.environ.get(self.secret_env)
        if not value:
            raise ConfigError(
                f"destination {self.name}: environment variable {self.secret_env} "
                "(secret_env) is not set"
            )
        return value.encode()


class FileDestination(_Base):
    """One file per run (CSV, JSONL or Parquet) in a folder, for syncs run by others."""

    kind: Literal["file"]
    folder: Path
    format: Literal["csv", "jsonl", "parquet"] = "csv"


class AudienceDestination(_Base):
    """Hashed customer-list files: one row per normalized email/phone, added and removed."""

    kind: Literal["audience"]
    folder: Path
    #: Region for phone numbers written without a country code.
    default_region: str = Field(default="US", pattern=r"^[A-Z]{2}$")


Destination = Annotated[
    WebhookDestination | FileDestination | AudienceDestination, Field(discriminator="kind")
]


class DestinationsConfig(BaseModel):
    """Every destination of one file; names are unique."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    destinations: list[Destination] = Field(default_factory=list)
    #: Where changes that fail after the retry budget are written (default beside the file).
    dead_letter: Path | None = None

    @field_validator("destinations")
    @classmethod
    def _unique(cls, value: list[Destination]) -> list[Destination]:
        seen: set[str] = set()
        for dest in value:
            if dest.name in seen:
                raise ValueError(f"destination name {dest.name!r} is used twice")
            seen.add(dest.name)
        return value

    def taking(self, segment: str) -> list[Destination]:
        """The destinations a change of `segment` goes to."""
        return [d for d in self.destinations if segment in d.segments]

    def dead_letter_folder(self, base: Path) -> Path:
        return self.dead_letter if self.dead_letter is not None else base / "dead-letter"


def load_destinations(path: Path | str) -> DestinationsConfig:
    """Read and validate a destinations file; relative folders are taken from its folder.

    Raises:
        ConfigError: unreadable YAML, or every problem as `location: message` with the file.
    """
    source = Path(path)
    data = read_yaml_mapping(source, what="destinations file")
    try:
        config = DestinationsConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(problems_message(validation_problems(exc)), path=source) from exc
    base = source.resolve().parent
    fixed: list[Destination] = []
    for dest in config.destinations:
        if (
            isinstance(dest, FileDestination | AudienceDestination)
            and not dest.folder.is_absolute()
        ):
            dest = dest.model_copy(update={"folder": base / dest.folder})
        fixed.append(dest)
    dead = config.dead_letter_folder(base)
    if not dead.is_absolute():
        dead = base / dead
    return config.model_copy(update={"destinations": fixed, "dead_letter": dead})


def find_destinations(explicit: Path | str | None) -> Path:
    """The destinations file: `explicit`, else `$IDGRAPH_DESTINATIONS`, else
    `segments/destinations.yaml` (beside the segment files), else `./destinations.yaml`.

    Raises:
        ConfigError: no such file.
    """
    env = os.environ.get("IDGRAPH_DESTINATIONS")
    if explicit is not None or env:
        path = Path(explicit if explicit is not None else str(env))
    else:
        path = Path("segments") / DESTINATIONS_FILE
        if not path.is_file():
            path = Path(DESTINATIONS_FILE)
    if not path.is_file():
        raise ConfigError(
            "no destinations file: pass --destinations FILE, set IDGRAPH_DESTINATIONS, or "
            f"write {DESTINATIONS_FILE} beside the segments",
            path=path,
        )
    return path
