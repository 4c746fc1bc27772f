"""What one Segment / RudderStack call may hold, checked value by value.

The rules every event-stream call is held to, whatever reads it: how ids, nested objects and
traits are read, and the reject reason (`BadCall`) for each value that breaks a rule. The
columnar reader (`jsonl_columns`) takes the calls that plainly follow them; the call-by-call
checker in `jsonl_events` applies them to the rest and names the first broken rule.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from idgraph.frames import EVENTS
from idgraph.ingest.full_name import split_full_name
from idgraph.ingest.lines import CONTROL_CHARACTERS, CONTROL_IN_ID
from idgraph.ingest.mapping import PROPERTY_NAME_PATTERN

__all__ = [
    "CALL_TYPES",
    "EVENT_ROW",
    "FIELD_TRAITS",
    "PAGE_CONTEXT_KEYS",
    "TIMESTAMP_KEYS",
    "VIEW_EVENTS",
    "BadCall",
    "Profile",
    "account_traits",
    "add_view_properties",
    "checked_id",
    "json_text",
    "nested_object",
    "scalar_id",
    "snake_case",
]

#: Call types read, and the event name page-like calls become.
CALL_TYPES = ("identify", "track", "page", "screen", "alias", "group")
VIEW_EVENTS = {"page": "Page Viewed", "screen": "Screen Viewed"}
TIMESTAMP_KEYS = ("timestamp", "originalTimestamp", "sentAt", "receivedAt")

#: Trait keys that feed golden fields, and which field each feeds.
FIELD_TRAITS: dict[str, str] = {
    "email": "email",
    "phone": "phone",
    "firstName": "first_name",
    "first_name": "first_name",
    "lastName": "last_name",
    "last_name": "last_name",
    "birthday": "birth_date",
    "birth_date": "birth_date",
    "dateOfBirth": "birth_date",
}
_ADDRESS_PARTS: dict[str, str] = {
    "street": "street",
    "city": "city",
    "postalCode": "postcode",
    "postal_code": "postcode",
    "country": "country",
}
PAGE_CONTEXT_KEYS = ("url", "path", "title", "referrer")
#: Events as a stream is read into them; the batch adds the source.
EVENT_ROW = {name: kind for name, kind in EVENTS.items() if name != "source"}


def add_view_properties(
    call: dict[str, Any], context: dict[str, Any], into: dict[str, Any]
) -> None:
    """A page or screen call's name, category and page context as event properties, where
    the call's own properties do not already say them."""
    for extra in ("name", "category"):
        if isinstance(call.get(extra), str):
            into.setdefault(extra, call[extra])
    page = context.get("page")
    if isinstance(page, dict):
        for extra in PAGE_CONTEXT_KEYS:
            if page.get(extra) is not None:
                into.setdefault(extra, page[extra])


_PROPERTY_NAME = re.compile(PROPERTY_NAME_PATTERN)
_CONTROL = re.compile(CONTROL_CHARACTERS)


class BadCall(Exception):
    """A call that cannot be ingested; `field` is the JSON key path at fault, if one is."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


def snake_case(name: str) -> str:
    """A trait key as a graph property name: `lifetimeValue` -> `lifetime_value`.

    Examples:
        >>> snake_case("lifetimeValue"), snake_case("HTTPStatus"), snake_case("Plan Name")
        ('lifetime_value', 'http_status', 'plan_name')
    """
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def checked_id(value: Any, name: str) -> str | None:
    """An id (user, anonymous, device, message): `scalar_id`, refusing control characters,
    which would reach record keys and every export."""
    text = scalar_id(value, name)
    if text is not None and _CONTROL.search(text):
        raise BadCall(f"{name} {CONTROL_IN_ID}", name)
    return text


def scalar_id(value: Any, name: str) -> str | None:
    """An id given as a string or a number, as text; None when absent or blank."""
    if type(value) is str:
        return value.strip() or None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadCall(f"{name} must be a string or a number", name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def json_text(value: Any) -> str:
    """A value as JSON text (as close to what was read as can be), for a `field` reject."""
    return orjson.dumps(value, default=str).decode()


def nested_object(parent: dict[str, Any], key: str, name: str) -> dict[str, Any]:
    """A nested object, or {} when absent; anything else is an error naming `name`."""
    value = parent.get(key)
    if type(value) is dict:
        return value
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadCall(f"{name} must be an object", name)
    return value


def account_traits(traits: dict[str, Any]) -> str:
    """A group call's traits (the account's) as the JSON object stored: scalar values under
    their `snake_case` names; nested values and names that cannot be property keys are left
    out (a group call's `traits` describe the account, never the person).

    Examples:
        >>> account_traits({"Plan": "enterprise", "employeeCount": 120, "address": {"c": 1}})
        '{"employee_count":120.0,"plan":"enterprise"}'
    """
    kept: dict[str, Any] = {}
    for key, value in traits.items():
        if not isinstance(value, bool | int | float | str) or value == "":
            continue
        name = snake_case(str(key))
        if not _PROPERTY_NAME.match(name):
            continue
        if isinstance(value, float) and value != value:  # NaN
            continue
        kept[name] = value if isinstance(value, bool | str) else float(value)
    return orjson.dumps(kept, option=orjson.OPT_SORT_KEYS).decode()


class Profile:
    """Golden fields and traits read from a call's traits, with where each field came from.

    A field given as something other than a string or a number (an object, a list, a boolean)
    is left out and listed in `dropped` as (JSON key path, reason, the value as JSON): the
    call is still read, and the value becomes a `field` reject.
    """

    __slots__ = ("dropped", "fields", "full_name", "origin", "traits")

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.traits: dict[str, str] = {}
        self.origin: dict[str, str] = {}
        self.full_name: tuple[str | None, str | None, str] | None = None
        self.dropped: list[tuple[str, str, str]] = []

    @classmethod
    def of(cls, shared: dict[str, Any], own: dict[str, Any] | None) -> Profile:
        """What `context.traits` (`shared`) and an identify call's `traits` (`own`) say."""
        profile = cls()
        profile.read(shared, "context.traits")
        if own:
            profile.read(own, "traits")
        profile.finish()
        return profile

    def set_field(self, name: str, value: Any, origin: str) -> None:
        try:
            text = scalar_id(value, origin)
        except BadCall as exc:
            self.dropped.append((origin, exc.reason, json_text(value)))
            return
        if text is not None:
            self.fields[name] = text
            self.origin[name] = origin

    def read(self, traits: dict[str, Any], prefix: str) -> None:
        for key, value in traits.items():
            if key in FIELD_TRAITS:
                self.set_field(FIELD_TRAITS[key], value, f"{prefix}.{key}")
            elif key == "address" and isinstance(value, dict):
                for part, name in _ADDRESS_PARTS.items():
                    self.set_field(name, value.get(part), f"{prefix}.{key}.{part}")
            elif key == "name" and isinstance(value, str) and value.strip():
                first, last = split_full_name(value)
                self.full_name = (first, last, f"{prefix}.{key}")
            elif isinstance(value, bool | int | float | str):
                name = snake_case(key)
                if not _PROPERTY_NAME.match(name) or value == "":
                    continue
                scalar = value if isinstance(value, bool | str) else float(value)
                self.traits[name] = orjson.dumps(scalar).decode()

    def finish(self) -> None:
        """Fill first and last name from `name` where they were not given on their own."""
        if self.full_name is None:
            return
        first, last, origin = self.full_name
        if first and "first_name" not in self.fields:
            self.set_field("first_name", first, origin)
        if last and "last_name" not in self.fields:
            self.set_field("last_name", last, origin)
