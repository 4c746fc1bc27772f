"""Python patterns translated for Polars accept exactly what Python accepts, or are refused."""

from __future__ import annotations

import random
import re
import string

import phonenumbers
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneMetadata

from idgraph.normalize._columnar.junk import junk_test
from idgraph.normalize._columnar.regex import fullmatch_pattern, prefix_pattern, translate
from idgraph.normalize.junk import _KNOWN_KINDS, DEFAULT_JUNK, JunkConfig, KindJunk

PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F))
CUSTOM = [
    r"guest\d*",
    r"[^@]+@shop\.example",
    r"(?:a|ab)(?:c|bcd)(?:d*)",
    r"x{2}y{1,3}z{2,}",
    r"[a-c-]+",
    r"[-a]+",
    r"[+--]+",
    r"[\]\-\\]+",
    r"[^\W\d_]+",
    r"\w+\s\w+",
    r"\S+",
    r"\D+",
    r"[.^$|?*+(){}]+",
    r"\.\^\$\|\?\*\+\(\)\{\}\[\]\\\/\-\@\#\<\>\&\~",
    r"a.c",
    r"^ab$",
    r"a$|^b",
    r"(\d)\1",
    r"([a-z])\1*@\1+\.[a-z]+",
    r"x([A-C])y\1{2,}",
    r"[A-Z]+",
    r"[^A-Z]+",
    r"[Z-a]+",
    r"[&&]+",
    r"[~~]+",
    r"a*?b+?c??",
    r"#not a comment",
    r"a b",
]
REFUSED = [
    r"(?=a)a",
    r"(?<!a)b",
    r"\bword\b",
    r"a*+",
    r"(a)|\1",
    r"((a))\2",
    r"(ab)\1",
    r"(\d)+\1",
    r"(.)\1",
    r"[[a]]",
    r"[]a]",
    r"a{,3}",
    r"a{x}",
    r"(?i)a",
    r"(?P<n>a)",
    r"\x41",
    r"\u00e9",
    r"é",
    r"\n",
    r"\A",
    r"\Z",
    "a\tb",
    r"a}",
    r"a]",
]


def python_matches(pattern: str, flags: int, subject: str) -> bool:
    return re.fullmatch(pattern, subject, flags) is not None


def polars_matches(pattern: str, flags: int, subjects: list[str]) -> list[bool]:
    body = translate(pattern, flags)
    assert body is not None, pattern
    rust = fullmatch_pattern(body, ignore_case=bool(flags & re.IGNORECASE))
    return pl.Series(subjects, dtype=pl.String).str.contains(rust).to_list()


def subjects_for(pattern: str, rng: random.Random, count: int = 400) -> list[str]:
    """Printable strings made mostly of the pattern's own characters, so that matches happen."""
    pieces = [*{ch for ch in pattern if ch in PRINTABLE}, "a", "A", "0", "@", ".", " ", "x"]
    out = ["", "aa@aa.com", "aA@Aa.CoM", "ab@ab.com", "+391111111111", "test@test.com"]
    for _ in range(count):
        out.append("".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))))
    return out


def builtin_patterns() -> list[re.Pattern[str]]:
    seen: dict[str, re.Pattern[str]] = {}
    for kind in _KNOWN_KINDS:
        for pattern in DEFAULT_JUNK._matchers[kind].patterns:
            seen[pattern.pattern] = pattern
    return list(seen.values())


# Python warns that "--", "&&" and "~~" in a class may become set operations one day; today
# they are literal, and the translation escapes them so that Rust reads them literally too.
@pytest.mark.filterwarnings("ignore:Possible set:FutureWarning")
@pytest.mark.parametrize("flags", [0, re.IGNORECASE])
@pytest.mark.parametrize("pattern", CUSTOM)
def test_translations_agree_with_python(pattern, flags):
    subjects = subjects_for(pattern, random.Random(pattern))
    got = polars_matches(pattern, flags, subjects)
    assert got == [python_matches(pattern, flags, s) for s in subjects]


@pytest.mark.parametrize("pattern", builtin_patterns(), ids=lambda p: p.pattern[:40])
def test_every_builtin_junk_pattern_translates_and_agrees(pattern):
    subjects = subjects_for(pattern.pattern, random.Random(pattern.pattern), count=2000)
    got = polars_matches(pattern.pattern, pattern.flags, subjects)
    assert got == [pattern.fullmatch(s) is not None for s in subjects]


@pytest.mark.parametrize("pattern", REFUSED)
def test_unsupported_syntax_is_refused(pattern):
    assert translate(pattern) is None


@pytest.mark.filterwarnings("ignore:Possible set:FutureWarning")
@settings(deadline=None, max_examples=300)
@given(
    pattern=st.sampled_from(CUSTOM),
    subject=st.text(st.sampled_from(PRINTABLE), max_size=12),
    flags=st.sampled_from([0, re.IGNORECASE]),
)
def test_translations_agree_on_any_printable_text(pattern, subject, flags):
    assert polars_matches(pattern, flags, [subject]) == [python_matches(pattern, flags, subject)]


def _metadata():
    for code in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE):
        region = phonenumbers.region_code_for_country_code(code)
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
        if metadata is not None:
            yield code, metadata


def _digit_strings(rng: random.Random, count: int) -> list[str]:
    return [
        "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 16))) for _ in range(count)
    ]


def test_phone_metadata_patterns_translate_and_agree():
    rng = random.Random(7)
    for code, metadata in _metadata():
        subjects = [*_digit_strings(rng, 150), str(code), f"0{code}", "180020123456", "1001"]
        general = metadata.general_desc.national_number_pattern
        body = translate(general)
        assert body is not None, (code, general)
        got = pl.Series(subjects).str.contains(fullmatch_pattern(body)).to_list()
        assert got == [re.fullmatch(general, s) is not None for s in subjects], code
        rule = metadata.national_prefix_for_parsing
        if rule:
            body = translate(rule)
            assert body is not None, (code, rule)
            # `parse` uses where the prefix match ends: leftmost-first in both engines.
            head = pl.Series(subjects).str.extract(prefix_pattern(f"({body})"), 1).to_list()
            python = [(m[0] if (m := re.match(rule, s)) else None) for s in subjects]
            assert head == python, code


def test_junk_test_matches_is_junk_on_printable_text():
    junk = JunkConfig(
        kinds={
            "*": KindJunk(values=frozenset({"Anon", "K", "ß"}), patterns=("x{3,}",)),
            "email": KindJunk(patterns=(r"(?=.*\d{4})\w+@mail\.com", r"(.)\1+@.*")),
        }
    )
    rng = random.Random(3)
    subjects = [
        "anon",
        "ANON",
        "k",
        "ss",
        "SS",
        "xxx",
        "XxX",
        "ab1234@mail.com",
        "ab123@mail.com",
        "zz@x.com",
        "test@test.com",
        "n/a",
        *(
            "".join(rng.choice(string.printable[:95]) for _ in range(rng.randint(0, 8)))
            for _ in range(500)
        ),
    ]
    for kind in ("email", "phone", "street", "user_id", "unknown-kind"):
        for config in (DEFAULT_JUNK, junk):
            got = junk_test(config, kind).mask(pl.Series(subjects)).to_list()
            assert got == [config.is_junk(kind, s) for s in subjects], (kind, config)
