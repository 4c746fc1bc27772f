"""Vector helpers: random streams, fixed-width digit strings, per-value maps over object arrays.

Strings live in numpy object arrays. Work that depends only on a value (folding accents,
lower-casing a name) is done once per distinct value and mapped back, so it costs the size of
the vocabulary, not of the data.
"""

from __future__ import annotations

import unicodedata
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

Strings = npt.NDArray[np.object_]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


def stream(seed: int, name: str) -> np.random.Generator:
    """An independent random stream per purpose, so one part's draws never shift another's."""
    return np.random.default_rng([zlib.crc32(name.encode()), seed])


def strings(values: list[str] | tuple[str, ...]) -> Strings:
    """A 1-d object array of Python strings."""
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def digits(values: npt.ArrayLike, width: int) -> Strings:
    """Non-negative integers as zero-padded decimal strings of `width` characters."""
    v = np.asarray(values, dtype=np.int64).copy()
    mat = np.empty((v.size, width), dtype=np.uint8)
    for col in range(width - 1, -1, -1):
        mat[:, col] = 48 + v % 10
        v //= 10
    return mat.view(f"S{width}").ravel().astype(f"U{width}").astype(object)


def random_digits(rng: np.random.Generator, n: int, width: int) -> Strings:
    """`n` strings of `width` random decimal digits."""
    mat = rng.integers(48, 58, size=(n, width), dtype=np.uint8)
    return mat.view(f"S{width}").ravel().astype(f"U{width}").astype(object)


def map_values(values: Strings, func: Callable[[str], str]) -> Strings:
    """Apply `func` once per distinct value and broadcast the results back."""
    if values.size == 0:
        return values.copy()
    codes, uniques = pd.factorize(pd.Series(values, dtype=object))
    mapped = strings([func(u) for u in uniques])
    out: Strings = mapped[codes]
    return out


def fold(text: str) -> str:
    """Drop accents (`Müller` -> `Muller`), keeping the base letters."""
    text = text.replace("ß", "ss")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def email_part(text: str) -> str:
    """A name as it appears in an email local part: folded, lower-case, letters only."""
    return "".join(ch for ch in fold(text).lower() if ch.isalnum())


def weighted_choice(
    rng: np.random.Generator, n: int, weights: npt.ArrayLike
) -> npt.NDArray[np.intp]:
    """`n` indices drawn with the given (unnormalised) weights."""
    w = np.asarray(weights, dtype=np.float64)
    cdf = np.cumsum(w / w.sum())
    cdf[-1] = 1.0
    return np.searchsorted(cdf, rng.random(n), side="right")


def zipf_weights(n: int, offset: float = 5.0) -> npt.NDArray[np.float64]:
    """Rank weights `1 / (rank + offset)`: a few very common values and a long rare tail."""
    return 1.0 / (np.arange(n, dtype=np.float64) + 1.0 + offset)


def hex_ids(rng: np.random.Generator, n: int, width: int) -> Strings:
    """`n` random lower-case hexadecimal strings of `width` characters."""
    table = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    mat = table[rng.integers(0, 16, size=(n, width))]
    return mat.view(f"S{width}").ravel().astype(f"U{width}").astype(object)


def concat(*parts: Strings | str) -> Strings:
    """Element-wise concatenation of object arrays and plain strings."""
    out: Strings | str = parts[0]
    for part in parts[1:]:
        out = np.add(out, part, dtype=object)
    assert isinstance(out, np.ndarray)
    return out


#: Domains whose mailboxes ignore dots in the local part (`mario.rossi` is `mariorossi`).
DOTLESS_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


def mailbox_keys(emails: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Each address as the mailbox it reaches: lower-cased, and without the dots of its local
    part at a domain that ignores them. Two persons must never share one."""
    keys = []
    for email in emails.tolist():
        local, _, domain = str(email).lower().partition("@")
        keys.append(
            f"{local.replace('.', '')}@{domain}"
            if domain in DOTLESS_DOMAINS
            else f"{local}@{domain}"
        )
    return np.array(keys, dtype=object)


def duplicated(values: npt.NDArray[Any]) -> Bools:
    """True for every value already seen earlier in the array (hash based, fast on strings)."""
    series = pd.Series(values, dtype=object if values.dtype == object else values.dtype)
    return np.asarray(series.duplicated(keep="first").to_numpy(), dtype=bool)
