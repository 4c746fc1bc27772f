"""`JunkConfig.is_junk` for a whole column of printable-ASCII strings at once.

The exact values and the patterns become one Rust regex, anchored at both ends: a value as a
case-insensitive literal (on ASCII, ``casefold`` equality is exactly that), a pattern where
`regex.translate` can vouch for it. A pattern it cannot translate (a user's lookahead, say) is
still run in Python, once per distinct string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import polars as pl

from idgraph.normalize._columnar.regex import fullmatch_pattern, lit, translate
from idgraph.normalize.junk import ANY_KIND, JunkConfig

__all__ = ["JunkTest", "junk_test"]


@dataclass(frozen=True, slots=True)
class JunkTest:
    """Vectorised junk test for one kind, exact on printable-ASCII strings.

    Attributes:
        rust: One Rust regex for the values and every translatable pattern, or None.
        python: Patterns left to Python.
    """

    rust: str | None
    python: tuple[re.Pattern[str], ...]

    def mask(self, text: pl.Series) -> pl.Series:
        """Whether each string is junk (False for null); exact when `text` is printable ASCII."""
        junk = pl.repeat(False, len(text), dtype=pl.Boolean, eager=True)
        if self.rust is not None:
            junk = text.str.contains(self.rust).fill_null(False)
        if self.python:
            junk = junk | _python_mask(text, self.python)
        return junk


def _python_mask(text: pl.Series, patterns: tuple[re.Pattern[str], ...]) -> pl.Series:
    distinct = text.drop_nulls().unique()
    hits = [s for s in distinct.to_list() if any(p.fullmatch(s) for p in patterns)]
    return text.is_in(hits).fill_null(False)


def junk_test(junk: JunkConfig, kind: str) -> JunkTest:
    """The vectorised equivalent of ``junk.is_junk(kind, value)``."""
    # The compiled lists are private to JunkConfig; reading them keeps one source of truth.
    matchers = junk._matchers
    matcher = matchers.get(kind) or matchers[ANY_KIND]
    return _compile(matcher.values, matcher.patterns)


@lru_cache(maxsize=64)
def _compile(values: frozenset[str], patterns: tuple[re.Pattern[str], ...]) -> JunkTest:
    printable = (v for v in sorted(values) if all(" " <= ch <= "~" for ch in v))
    bodies = ["(?i:" + "".join(lit(ch) for ch in value) + ")" for value in printable]
    python: list[re.Pattern[str]] = []
    for pattern in patterns:
        body = translate(pattern.pattern, pattern.flags)
        if body is None:
            python.append(pattern)
        else:
            bodies.append(f"(?i:{body})" if pattern.flags & re.IGNORECASE else f"(?:{body})")
    rust = fullmatch_pattern("|".join(bodies)) if bodies else None
    return JunkTest(rust=rust, python=tuple(python))
