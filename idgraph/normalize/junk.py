"""Junk values: placeholders that must never link two people ("test@test.com", "0000000000").

A junk identifier shared by thousands of unrelated form fills would chain them all into one
customer, so junk is dropped during normalization, before any matching sees it.

:class:`JunkConfig` is the user-facing, serialisable part (extra values and regex patterns per
kind, and a switch for the built-in lists); it compiles itself on first use and keeps the result, so
:meth:`JunkConfig.is_junk` is a set lookup plus a few regex matches.

Matching rules: exact values compare case-insensitively (``casefold``); patterns must match the
whole value and ignore case. Values are compared in normalized form (emails lower-cased, phones in
E.164 such as ``+14155550100``); normalization also checks the trimmed raw value, so a
placeholder such as ``n/a`` is dropped rather than rejected as a malformed phone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal, TypeAlias

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from idgraph.config_file import problems_message, read_yaml_mapping, validation_problems
from idgraph.errors import ConfigError
from idgraph.types import FIELD_NAMES, IDENTIFIER_KINDS, FieldName, IdentifierKind

__all__ = ["ANY_KIND", "DEFAULT_JUNK", "JunkConfig", "JunkKind", "KindJunk"]

#: Key in `JunkConfig.kinds` whose values and patterns apply to every kind.
ANY_KIND: Literal["*"] = "*"
#: What `JunkConfig.kinds` may be keyed by.
JunkKind: TypeAlias = Literal[IdentifierKind, FieldName, "*"]
_KNOWN_KINDS: tuple[JunkKind, ...] = (*IDENTIFIER_KINDS, *FIELD_NAMES)

_GENERIC_VALUES = frozenset(
    {"n/a", "na", "none", "null", "nil", "nan", "undefined", "unknown", "-", "0", "test"}
)
_GENERIC_PATTERNS = (
    r"[\W_]+",  # punctuation only: "--", "?", "..."
    r"0+",
    r"0{8}-0{4}-0{4}-0{4}-0{12}",  # the nil UUID, sent as advertising id when tracking is off
)
# "Na", "Nan" and "Nil" are real names, so names get their own generic list.
_NAME_VALUES = (_GENERIC_VALUES - {"na", "nan", "nil"}) | {"noname", "no name", "fnu", "lnu"}

_EMAIL_VALUES = frozenset({"test@test.com", "test@example.com", "a@a.com"})
_EMAIL_PATTERNS = (
    r"[^@]+@example\.(?:com|org|net)",
    r"[^@]+@[^@]+\.(?:test|example|invalid|localhost)",  # reserved top-level domains
    r"(?:no-?e?mail|no-?reply|do-?not-?reply|none|na|n/a|null|unknown|noname|nobody|test)@.*",
    r"(?:asdf|qwerty)\w*@.*",
    r"([a-z])\1*@\1+\.[a-z]+",  # a@a.com, xx@xx.org
)

_COUNTRY_CODES = "|".join(str(code) for code in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE))
_PHONE_PATTERNS = (
    # Country codes are prefix-free, so the national number is unambiguous.
    rf"\+(?:{_COUNTRY_CODES})(\d)\1{{5,}}",  # one digit repeated: +10000000000, +391111111111
    rf"\+(?:{_COUNTRY_CODES})0?1234567(?:8(?:9(?:0)?)?)?",
    rf"\+(?:{_COUNTRY_CODES})9876543(?:2(?:1(?:0)?)?)?",
    r"\+1\d{3}55501\d{2}",  # North American fictional range 555-0100..0199
    r"\+442079460\d{3}",  # Ofcom drama numbers, London
    r"\+447700900\d{3}",  # Ofcom drama numbers, mobile
)

_DATE_VALUES = frozenset({"1900-01-01"})
_DATE_PATTERNS = (r"0{4}-?0{2}-?0{2}", r"0{1,2}[/.-]0{1,2}[/.-]0{4}")


def _builtin(kind: str) -> tuple[frozenset[str], tuple[str, ...]]:
    if kind in ("first_name", "last_name"):
        return _NAME_VALUES, _GENERIC_PATTERNS
    if kind == "email":
        return _GENERIC_VALUES | _EMAIL_VALUES, _GENERIC_PATTERNS + _EMAIL_PATTERNS
    if kind == "phone":
        return _GENERIC_VALUES, _GENERIC_PATTERNS + _PHONE_PATTERNS
    if kind == "birth_date":
        return _GENERIC_VALUES | _DATE_VALUES, _GENERIC_PATTERNS + _DATE_PATTERNS
    return _GENERIC_VALUES, _GENERIC_PATTERNS


class KindJunk(BaseModel):
    """Extra junk for one kind of value, added to the built-in list (or replacing it).

    Attributes:
        values: Exact values, compared case-insensitively with the normalized value.
        patterns: Regular expressions that must match the whole value (case is ignored).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    values: frozenset[str] = frozenset()
    patterns: tuple[str, ...] = ()

    @field_validator("patterns")
    @classmethod
    def _patterns_compile(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        problems = []
        for index, pattern in enumerate(patterns):
            try:
                re.compile(pattern)
            except re.error as exc:
                problems.append(f"pattern {index} ({pattern!r}) is not a valid regex: {exc}")
        if problems:
            raise ValueError("; ".join(problems))
        return patterns


@dataclass(frozen=True, slots=True)
class _Matcher:
    """Compiled junk test for one kind; compares equal when built from the same lists."""

    values: frozenset[str]
    patterns: tuple[re.Pattern[str], ...]

    @classmethod
    def build(cls, values: frozenset[str], patterns: tuple[str, ...]) -> _Matcher:
        return cls(
            frozenset(value.casefold() for value in values),
            tuple(re.compile(pattern, re.IGNORECASE) for pattern in patterns),
        )

    def __call__(self, value: str) -> bool:
        return value.casefold() in self.values or any(p.fullmatch(value) for p in self.patterns)


class JunkConfig(BaseModel):
    """Which values count as junk, per identifier kind or field name.

    Attributes:
        use_defaults: Keep the built-in lists (test emails, repeated-digit and fictional phone
            numbers, placeholders such as ``n/a`` or ``unknown``); False uses only `kinds`.
        kinds: Extra junk keyed by identifier kind (``email``, ``user_id``, ...) or field name
            (``first_name``, ``birth_date``, ...); the key ``"*"`` applies to every kind.

    Examples:
        >>> config = JunkConfig(kinds={"user_id": KindJunk(values=frozenset({"guest"}))})
        >>> config.is_junk("user_id", "GUEST"), config.is_junk("email", "noreply@shop.it")
        (True, True)
        >>> config.is_junk("phone", "+14155552671")
        False
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    use_defaults: bool = True
    kinds: dict[JunkKind, KindJunk] = Field(default_factory=dict)

    @cached_property
    def _matchers(self) -> dict[str, _Matcher]:
        """One compiled matcher per kind, built on first use and kept with the config."""
        shared = self.kinds.get(ANY_KIND, KindJunk())
        matchers: dict[str, _Matcher] = {}
        for kind in (ANY_KIND, *_KNOWN_KINDS):
            values, patterns = _builtin(kind) if self.use_defaults else (frozenset(), ())
            extra = self.kinds.get(kind, KindJunk()) if kind != ANY_KIND else KindJunk()
            matchers[kind] = _Matcher.build(
                values | shared.values | extra.values,
                patterns + shared.patterns + extra.patterns,
            )
        return matchers

    def is_junk(self, kind: str, normalized_value: str) -> bool:
        """Whether `normalized_value` of `kind` is a placeholder that must not identify anyone.

        Args:
            kind: An identifier kind or field name; other kinds get the generic list only.
            normalized_value: The value after its field normalizer (or the trimmed raw value).
        """
        matcher = self._matchers.get(kind) or self._matchers[ANY_KIND]
        return matcher(normalized_value)


#: The built-in junk lists with no additions.
DEFAULT_JUNK = JunkConfig()


def load_junk_config(path: Path | str) -> JunkConfig:
    """Read a junk list from YAML, e.g. ``kinds: {email: {values: [info@myshop.it]}}``.

    Raises:
        ConfigError: the file is unreadable, not YAML, or invalid (every problem listed).
    """
    data = read_yaml_mapping(path, what="junk config")
    try:
        return JunkConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(problems_message(validation_problems(exc)), path=path) from exc
