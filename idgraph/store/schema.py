"""The graph schema both engines hold: labels, relationship types and typed properties.

`cypher/schema.cypher` documents it for Neo4j; the dialect renders DDL from these tables for
engines that need declared columns. Trait and event-property columns are added at run time,
after their names pass `check_property_name`.
"""

from __future__ import annotations

import re
from typing import Final, Literal

from idgraph.errors import ConfigError

ColumnType = Literal["STRING", "INT64", "DOUBLE", "BOOLEAN", "STRING[]"]

NODE_TABLES: Final[dict[str, dict[str, ColumnType]]] = {
    "Record": {
        "key": "STRING",
        "source": "STRING",
        "source_id": "STRING",
        "kind": "STRING",
        "email": "STRING",
        "phone": "STRING",
        "first_name": "STRING",
        "last_name": "STRING",
        "birth_date": "STRING",
        "street": "STRING",
        "city": "STRING",
        "postcode": "STRING",
        "country": "STRING",
        "updated_ts": "INT64",
        "traits": "STRING",
    },
    "Identifier": {
        "key": "STRING",
        "kind": "STRING",
        "value": "STRING",
        "linking": "BOOLEAN",
        "reason": "STRING",
    },
    "Customer": {
        "id": "STRING",
        "email": "STRING",
        "phone": "STRING",
        "first_name": "STRING",
        "last_name": "STRING",
        "birth_date": "STRING",
        "street": "STRING",
        "city": "STRING",
        "postcode": "STRING",
        "country": "STRING",
        "record_count": "INT64",
        "sources": "STRING",
        "first_seen_ts": "INT64",
        "last_seen_ts": "INT64",
        "flagged": "BOOLEAN",
        "flag_reason": "STRING",
        "updated_ts": "INT64",
    },
    "Event": {
        "id": "STRING",
        "name": "STRING",
        "ts": "INT64",
        "time": "STRING",
        "source": "STRING",
        "record_key": "STRING",
        "properties": "STRING",
    },
    "Segment": {
        "name": "STRING",
        "description": "STRING",
        "definition": "STRING",
        "updated_ts": "INT64",
        "last_run_ts": "INT64",
        "size": "INT64",
    },
    "SegmentRun": {
        "id": "STRING",
        "segment": "STRING",
        "ts": "INT64",
        "as_of_ts": "INT64",
        "size": "INT64",
        "entered": "INT64",
        "exited": "INT64",
    },
    "SegmentChange": {
        "id": "STRING",
        "segment": "STRING",
        "customer": "STRING",
        "ts": "INT64",
        "change": "STRING",
        "cause": "STRING",
    },
    #: A segment change not yet delivered to every destination that takes its segment
    #: (`idgraph.activate`); `done` lists the destinations that have it, comma-separated.
    "OutboxChange": {
        "id": "STRING",
        "segment": "STRING",
        "customer": "STRING",
        "ts": "INT64",
        "change": "STRING",
        "cause": "STRING",
        "done": "STRING",
    },
    #: Delivery totals of one destination: changes sent, attempts failed, changes dead-lettered.
    "DeliveryState": {
        "name": "STRING",
        "sent": "INT64",
        "failed": "INT64",
        "dead": "INT64",
        "last_error": "STRING",
        "last_ts": "INT64",
    },
    "CustomerId": {
        "id": "STRING",
        "created_ts": "INT64",
        "status": "STRING",
        "retired_ts": "INT64",
    },
    "ErasedIdentifier": {"hash": "STRING", "kind": "STRING", "ts": "INT64"},
    "Meta": {"key": "STRING", "value": "STRING"},
    #: An account a customer belongs to (Segment's `group`: a company, household, team);
    #: `traits` is the JSON of its newest group call's traits, each scalar trait also a column.
    "Account": {
        "id": "STRING",
        "traits": "STRING",
        "first_seen_ts": "INT64",
        "updated_ts": "INT64",
    },
}

PRIMARY_KEYS: Final[dict[str, str]] = {
    "Record": "key",
    "Identifier": "key",
    "Customer": "id",
    "Event": "id",
    "Segment": "name",
    "SegmentRun": "id",
    "SegmentChange": "id",
    "OutboxChange": "id",
    "DeliveryState": "name",
    "CustomerId": "id",
    "ErasedIdentifier": "hash",
    "Meta": "key",
    "Account": "id",
}

#: Neo4j indexes beyond the uniqueness constraints on `PRIMARY_KEYS`: name -> (label, properties).
#: The embedded engine indexes primary keys only, so these exist on Neo4j alone.
NEO4J_INDEXES: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "event_name_ts": ("Event", ("name", "ts")),
    "record_source": ("Record", ("source",)),
    "identifier_kind": ("Identifier", ("kind",)),
    "segment_change_segment_ts": ("SegmentChange", ("segment", "ts")),
    "outbox_change_ts": ("OutboxChange", ("ts", "segment", "customer")),
}


def constraint_name(label: str) -> str:
    """The name of the uniqueness constraint on `label`'s key, e.g. `segment_run_id`."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", label).lower()
    return f"{snake}_{PRIMARY_KEYS[label]}"


#: Relationship type -> (from label, to label, properties).
REL_TABLES: Final[dict[str, tuple[str, str, dict[str, ColumnType]]]] = {
    "HAS_RECORD": ("Customer", "Record", {}),
    "HAS_IDENTIFIER": ("Record", "Identifier", {}),
    "MATCHED": ("Record", "Record", {"rule": "STRING", "fields": "STRING", "score": "DOUBLE"}),
    "PERFORMED": ("Record", "Event", {}),
    "MEMBER_OF": ("Record", "Account", {"since_ts": "INT64", "updated_ts": "INT64"}),
    "IN_SEGMENT": ("Customer", "Segment", {"since_ts": "INT64"}),
    "CANNOT_LINK": ("Record", "Record", {"reason": "STRING", "ts": "INT64"}),
    "MERGED_INTO": (
        "CustomerId",
        "CustomerId",
        {"ts": "INT64", "evidence": "STRING", "records": "INT64"},
    ),
    "SPLIT_FROM": (
        "CustomerId",
        "CustomerId",
        {"ts": "INT64", "reason": "STRING", "records": "INT64"},
    ),
    "MOVED_TO": (
        "CustomerId",
        "CustomerId",
        {"ts": "INT64", "reason": "STRING", "evidence": "STRING", "records": "INT64"},
    ),
}

#: Labels whose nodes may gain columns at run time, and for what.
EXTENSIBLE: Final[dict[str, str]] = {
    "Customer": "trait",
    "Event": "event property",
    "Account": "account trait",
}

_PROPERTY_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_RESERVED: Final[frozenset[str]] = frozenset({"id", "key", "label", "type", "properties", "traits"})


def check_property_name(name: str, *, what: str = "property") -> str:
    """Allowlist check for a user-supplied name about to become a graph property key.

    Raises:
        ConfigError: the name is not lower-case snake_case of at most 63 characters, or reserved.
    """
    if not _PROPERTY_NAME.match(name) or name in _RESERVED:
        raise ConfigError(
            f"{what} name {name!r} is not allowed: use lower-case letters, digits and _ "
            "(starting with a letter, at most 63 characters), not one of "
            + ", ".join(sorted(_RESERVED))
        )
    return name
