"""The noise model: default corruption rates and the operations that apply them.

Each rate is the probability that one record (or, for `address_moved` and `phone_changed`, one
person) gets that corruption, among the records where it can apply (a nickname needs a name
that has one; a day/month swap needs a day of 12 or less). `--noise LEVEL` multiplies every
rate by LEVEL (capped at 0.95): 0 writes exact copies, 1 the defaults, 2 heavy noise.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .places import STREET_ABBREVIATIONS
from .vec import Ints, Strings, fold, strings

MAX_RATE = 0.95


@dataclass(frozen=True)
class NoiseRates:
    """Per-record corruption probabilities at noise level 1 (see docs/generator.md)."""

    given_nickname: float = 0.08
    given_typo: float = 0.04
    surname_typo: float = 0.04
    accent_fold: float = 0.30
    name_swap: float = 0.01
    given_missing: float = 0.02
    surname_missing: float = 0.01
    dob_missing: float = 0.10
    dob_digit: float = 0.02
    dob_day_month_swap: float = 0.02
    address_moved: float = 0.08
    street_abbrev: float = 0.10
    street_typo: float = 0.03
    postcode_typo: float = 0.01
    address_missing: float = 0.05
    postcode_missing: float = 0.02
    phone_changed: float = 0.08
    phone_format: float = 0.25
    phone_missing: float = 0.15
    email_variant: float = 0.06
    email_typo: float = 0.01
    email_junk: float = 0.005
    email_missing: float = 0.15
    national_id_digit: float = 0.005
    national_id_missing: float = 0.05

    def scaled(self, level: float) -> NoiseRates:
        """Every rate times `level`, capped at `MAX_RATE`."""
        if level < 0:
            raise ValueError("noise level must be >= 0")
        values = {
            f.name: min(getattr(self, f.name) * level, MAX_RATE) for f in dataclasses.fields(self)
        }
        return NoiseRates(**values)

    def as_dict(self) -> dict[str, float]:
        return {f.name: round(getattr(self, f.name), 6) for f in dataclasses.fields(self)}


#: Share of a mover's (or phone changer's) records that carry the new address (or number).
NEW_VALUE_SHARE = 0.5

TYPO_KINDS = ("substitution", "insertion", "deletion", "transposition")
_SUB, _INS, _DEL, _TRA = range(4)
_NEIGHBOURS = {
    "q": "wa", "w": "qes", "e": "wrd", "r": "etf", "t": "ryg", "y": "tuh", "u": "yij",
    "i": "uok", "o": "ipl", "p": "ol", "a": "qsz", "s": "adwx", "d": "sfec", "f": "dgrv",
    "g": "fhtb", "h": "gjyn", "j": "hkum", "k": "jli", "l": "kop", "z": "asx", "x": "zsc",
    "c": "xdv", "v": "cfb", "b": "vgn", "n": "bhm", "m": "nj",
}  # fmt: skip


def _near(ch: str, u: float) -> str:
    """A key next to `ch` on a QWERTY keyboard (a different digit for digits), same case."""
    if ch.isdigit():
        return str((int(ch) + 1 + int(u * 9)) % 10)
    options = _NEIGHBOURS.get(ch.lower(), "aeinrst")
    pick = options[int(u * len(options))]
    if pick == ch.lower():
        pick = options[(int(u * len(options)) + 1) % len(options)]
    return pick.upper() if ch.isupper() else pick


def _typo(text: str, kind: int, u: float, v: float) -> tuple[str, int]:
    """One keyboard error in `text`; returns the new text and the kind actually applied."""
    n = len(text)
    if n == 0:
        return text, -1
    if kind == _TRA:
        if n >= 2:
            p = int(u * (n - 1))
            if text[p] != text[p + 1]:
                return text[:p] + text[p + 1] + text[p] + text[p + 2 :], _TRA
        kind = _SUB
    if kind == _DEL and n < 3:
        kind = _INS
    p = int(u * n)
    if kind == _DEL:
        return text[:p] + text[p + 1 :], _DEL
    if kind == _INS:
        return text[:p] + _near(text[p], v) + text[p:], _INS
    return text[:p] + _near(text[p], v) + text[p + 1 :], _SUB


def typos(
    values: Strings, rng: np.random.Generator, kinds: tuple[int, ...] = (0, 1, 2, 3)
) -> tuple[Strings, Ints]:
    """One typo per value (kind drawn from `kinds`); also returns the kind code per value."""
    n = values.size
    kind = np.asarray(kinds, dtype=np.int64)[rng.integers(0, len(kinds), n)]
    u = rng.random(n)
    v = rng.random(n)
    pairs = [
        _typo(t, int(k), float(a), float(b))
        for t, k, a, b in zip(values.tolist(), kind.tolist(), u.tolist(), v.tolist(), strict=True)
    ]
    return strings([p[0] for p in pairs]), np.array([p[1] for p in pairs], dtype=np.int64)


def email_typos(values: Strings, rng: np.random.Generator) -> tuple[Strings, Ints]:
    """A typo in the local part of each address, so the domain stays recognisable."""
    parts = [e.partition("@") for e in values.tolist()]
    out, kind = typos(strings([p[0] for p in parts]), rng)
    domain = strings([p[2] for p in parts])
    return np.add(np.add(out, "@", dtype=object), domain, dtype=object), kind


EMAIL_VARIANTS = ("dots", "plus_tag", "domain", "case")


def email_variant(email: str, kind: int, u: float, tag: str, other_domain: str) -> str:
    """The same mailbox written another way (or, for `domain`, the same name elsewhere)."""
    local, _, domain = email.partition("@")
    if kind == 0:
        if "." in local:
            return local.replace(".", "", 1) + "@" + domain
        p = 1 + int(u * max(len(local) - 1, 1))
        return local[:p] + "." + local[p:] + "@" + domain
    if kind == 1:
        return f"{local}+{tag}@{domain}"
    if kind == 2 and other_domain != domain:
        return f"{local}@{other_domain}"
    if u < 0.5:
        return email.upper()
    return local.capitalize() + "@" + domain.capitalize()


def abbreviate_street(street: str) -> str:
    """The street with its type abbreviated (`Hauptstraße 5` -> `Hauptstr. 5`), if it has one."""
    for long, short in STREET_ABBREVIATIONS:
        if long in street:
            return street.replace(long, short, 1)
    return street


def fold_text(text: str) -> str:
    """Accents dropped, as systems without Unicode support store names."""
    return fold(text)
