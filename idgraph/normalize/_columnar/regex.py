"""Python `re` patterns rewritten for Polars (Rust `regex`), only where both certainly agree.

A fast path may use a translated pattern only if it accepts exactly the strings the original
accepts. The engines differ at the edges (nested classes and ``\\<`` in Rust, possessive
quantifiers and backreferences in Python), so the translator knows a small common subset and
gives up (None) on anything else; callers then keep the Python pattern.

Agreement is only claimed on printable ASCII subjects (``" "`` to ``"~"``), which is all the fast
paths ever match: there the Unicode classes (``\\w``, ``\\s``, ``\\d``) and case folding of both
engines coincide.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import polars as pl
from polars.exceptions import PolarsError

__all__ = ["fullmatch_pattern", "lit", "prefix_pattern", "translate"]

_PRINTABLE_CHARS = [chr(code) for code in range(0x20, 0x7F)]
_CLASS_ESCAPES = frozenset("dDwWsS")
_PUNCTUATION = frozenset(string.punctuation)
#: Characters that Rust lets (and sometimes needs) a backslash before, in and out of classes.
_RUST_META = frozenset("\\.+*?()|[]{}^$#&-~")
_QUANTIFIER = re.compile(r"\{(\d+)(,(\d+)?)?\}")
_SUPPORTED_FLAGS = re.IGNORECASE | re.UNICODE
#: Most alternatives a backreference may be expanded into.
_MAX_EXPANSION = 40


class _Unsupported(Exception):
    """The pattern uses syntax outside the subset both engines read alike."""


def lit(ch: str) -> str:
    """`ch` as a Rust literal, escaped where Rust would read it as syntax."""
    return "\\" + ch if ch in _RUST_META else ch


_Kind = Literal["atom", "open", "close", "alt", "quant", "anchor", "backref"]


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _Kind
    rust: str
    python: str = ""
    group: int = 0  # capturing group number (open) or the group referred to (backref)


def _class(pattern: str, start: int) -> tuple[str, int]:
    """Rust form of the class opening at `start`, and the index after it (as sre_parse reads it)."""
    i = start + 1
    negate = pattern.startswith("^", i)
    if negate:
        i += 1
    if pattern.startswith("]", i):
        raise _Unsupported("class starting with ']'")
    items: list[str] = []

    def item(at: int) -> tuple[str, bool, int]:
        ch = pattern[at]
        if ch == "[":
            raise _Unsupported("'[' inside a class")
        if ch != "\\":
            return ch, True, at + 1
        escaped = pattern[at + 1]
        if escaped in _CLASS_ESCAPES:
            return "\\" + escaped, False, at + 2
        if escaped in _PUNCTUATION:
            return escaped, True, at + 2
        raise _Unsupported(f"class escape \\{escaped}")

    while True:
        if pattern[i] == "]" and items:
            return "[" + ("^" if negate else "") + "".join(items) + "]", i + 1
        first, first_literal, i = item(i)
        if pattern.startswith("-", i):
            if pattern[i + 1] == "]":
                items += [lit(first) if first_literal else first, "\\-"]
                return "[" + ("^" if negate else "") + "".join(items) + "]", i + 2
            second, second_literal, i = item(i + 1)
            if not (first_literal and second_literal):
                raise _Unsupported("range with a class escape")
            items.append(f"{lit(first)}-{lit(second)}")
        else:
            items.append(lit(first) if first_literal else first)


def _tokens(pattern: str) -> list[_Token]:
    tokens: list[_Token] = []
    groups = 0
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            escaped = pattern[i + 1]
            if escaped in _CLASS_ESCAPES:
                tokens.append(_Token("atom", "\\" + escaped, pattern[i : i + 2]))
            elif escaped in "123456789" and not pattern[i + 2 : i + 3].isdigit():
                tokens.append(_Token("backref", "", group=int(escaped)))
            elif escaped in _PUNCTUATION:
                tokens.append(_Token("atom", lit(escaped), pattern[i : i + 2]))
            else:
                raise _Unsupported(f"escape \\{escaped}")
            i += 2
        elif ch == "[":
            rust, end = _class(pattern, i)
            tokens.append(_Token("atom", rust, pattern[i:end]))
            i = end
        elif ch == "(":
            if pattern.startswith("(?:", i):
                tokens.append(_Token("open", "(?:"))
                i += 3
            elif pattern.startswith("(?", i):
                raise _Unsupported("group extension other than (?:")
            else:
                groups += 1
                tokens.append(_Token("open", "(", group=groups))
                i += 1
        elif ch == ")":
            tokens.append(_Token("close", ")"))
            i += 1
        elif ch == "|":
            tokens.append(_Token("alt", "|"))
            i += 1
        elif ch in "*+?" or ch == "{":
            if ch == "{":
                match = _QUANTIFIER.match(pattern, i)
                if match is None:
                    raise _Unsupported("'{' that is not a counted repetition")
                rust, i = match[0], match.end()
            else:
                rust, i = ch, i + 1
            if pattern.startswith("?", i):
                rust, i = rust + "?", i + 1
            elif pattern.startswith("+", i):
                raise _Unsupported("possessive quantifier")
            tokens.append(_Token("quant", rust))
        elif ch in "^$":
            tokens.append(_Token("anchor", ch))
            i += 1
        elif ch == ".":
            tokens.append(_Token("atom", ".", "."))
            i += 1
        elif ch in "]}":
            raise _Unsupported(f"unbalanced {ch!r}")
        else:
            tokens.append(_Token("atom", lit(ch), ch))
            i += 1
    return tokens


def _expand_backreference(tokens: list[_Token], ignore_case: bool) -> str:
    """Rewrite a one-character group and its backreferences as an alternation over the characters.

    ``([a-z])\\1*@\\1+`` becomes ``(?:(?:a)(?:a)*@(?:a)+|(?:b)...)``. Exact only when the group is
    matched exactly once, so the group must stand unquantified at the top level of a pattern
    without top-level alternatives.
    """
    referred = {t.group for t in tokens if t.kind == "backref"}
    if len(referred) != 1:
        raise _Unsupported("backreferences to several groups")
    (group,) = referred
    depth = 0
    at = -1
    for index, token in enumerate(tokens):
        if token.kind == "open":
            if token.group == group:
                if depth != 0:
                    raise _Unsupported("backreferenced group inside another group")
                at = index
            depth += 1
        elif token.kind == "close":
            depth -= 1
        elif token.kind == "alt" and depth == 0:
            raise _Unsupported("top-level alternatives with a backreference")
        elif token.kind == "backref" and at < 0:
            raise _Unsupported("backreference before its group")
    window = tokens[at : at + 4]
    if (
        len(window) < 3
        or window[1].kind != "atom"
        or window[2].kind != "close"
        or (len(window) == 4 and window[3].kind == "quant")
    ):
        raise _Unsupported("backreferenced group is not one unrepeated character")
    flags = re.IGNORECASE if ignore_case else 0
    single = re.compile(window[1].python, flags)
    alphabet: list[str] = []
    for ch in _PRINTABLE_CHARS:
        if single.fullmatch(ch) and not (ignore_case and ch.lower() in alphabet):
            alphabet.append(ch.lower() if ignore_case else ch)
    if not alphabet or len(alphabet) > _MAX_EXPANSION:
        raise _Unsupported("backreferenced group matches too many characters")
    before = "".join(t.rust for t in tokens[:at])
    branches = []
    for ch in alphabet:
        fixed = f"(?:{lit(ch)})"
        after = "".join(fixed if t.kind == "backref" else t.rust for t in tokens[at + 3 :])
        branches.append(before + fixed + after)
    return "(?:" + "|".join(branches) + ")"


def translate(pattern: str, flags: int = 0) -> str | None:
    """Rust pattern body accepting the same printable-ASCII strings as `pattern`, or None.

    `pattern` must be a valid Python pattern (one that compiles with `flags`). The body is
    unanchored and without flags, as `pattern` was; wrap it with `fullmatch_pattern` or
    `prefix_pattern`. Case-insensitivity matters only for expanding backreferences.

    Examples:
        >>> translate(r"[^@]+@example\\.(?:com|org)")
        '[^@]+@example\\\\.(?:com|org)'
        >>> translate(r"(?<=a)b") is None
        True
    """
    if flags & ~_SUPPORTED_FLAGS or not all(ch in _PRINTABLE_CHARS for ch in pattern):
        return None
    try:
        tokens = _tokens(pattern)
        if any(t.kind == "backref" for t in tokens):
            body = _expand_backreference(tokens, bool(flags & re.IGNORECASE))
        else:
            body = "".join(t.rust for t in tokens)
    except (_Unsupported, IndexError):
        return None
    return body if _compiles(body) else None


@lru_cache(maxsize=256)
def _compiles(body: str) -> bool:
    try:
        pl.Series([""], dtype=pl.String).str.contains(body)
    except PolarsError:
        return False
    return True


def fullmatch_pattern(body: str, *, ignore_case: bool = False) -> str:
    """Rust pattern matching a whole subject against a translated body (like `re.fullmatch`)."""
    return ("(?i)" if ignore_case else "") + f"^(?:{body})$"


def prefix_pattern(body: str, *, ignore_case: bool = False) -> str:
    """Rust pattern matching at the start of a subject (like `re.match`)."""
    return ("(?i)" if ignore_case else "") + f"^(?:{body})"
