"""Shared type aliases and closed choices. No logic lives here."""

from __future__ import annotations

from typing import Literal, TypeAlias

#: Kinds of deterministic identifiers a record can carry.
IdentifierKind: TypeAlias = Literal[
    "email", "phone", "user_id", "anonymous_id", "device_id", "customer_id"
]
IDENTIFIER_KINDS: tuple[IdentifierKind, ...] = (
    "email",
    "phone",
    "user_id",
    "anonymous_id",
    "device_id",
    "customer_id",
)

#: Golden fields every record may carry after normalization.
FieldName: TypeAlias = Literal[
    "email",
    "phone",
    "first_name",
    "last_name",
    "birth_date",
    "street",
    "city",
    "postcode",
    "country",
]
FIELD_NAMES: tuple[FieldName, ...] = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "birth_date",
    "street",
    "city",
    "postcode",
    "country",
)

#: How a record came in: a table row, or an identity seen in an event stream.
RecordKind: TypeAlias = Literal["row", "user", "anonymous"]

TraitType: TypeAlias = Literal["string", "number", "boolean", "date"]

OutputFormat: TypeAlias = Literal["table", "csv", "json"]
