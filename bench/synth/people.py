"""The true persons: households, names, dates of birth, addresses, phones, emails, national ids.

Every attribute is a column (a numpy array) over all persons; no per-person Python objects.
Households are the hard negatives: members share surname, address, a device, often a landline
and sometimes a family mailbox, but never a given name or (except twins) a date of birth.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from .names import COUNTRIES, COUNTRY_WEIGHTS, given_pool, surname_pool
from .places import (
    CITIES,
    EMAIL_DOMAINS,
    FAMILY_WORDS,
    GB_INWARD_LETTERS,
    NUMBER_FIRST,
    PHONES,
    STREETS,
)
from .vec import (
    Bools,
    Ints,
    Strings,
    concat,
    digits,
    duplicated,
    email_part,
    hex_ids,
    mailbox_keys,
    map_values,
    random_digits,
    stream,
    strings,
    weighted_choice,
    zipf_weights,
)
from .world import World

#: Sizes of multi-person households, relative to one another (`World.households` of all).
FAMILY_SIZES: dict[int, float] = {2: 0.45, 3: 0.28, 4: 0.17, 5: 0.10}
#: Share of persons holding a national id.
NATIONAL_ID_SHARE = 0.4
#: Zipf offsets `1 / (rank + offset)`: the commonest given name is about 6% of a country's
#: people of that gender, the commonest surname about 0.8% (Rossi, Smith, Müller, García, Martin).
GIVEN_OFFSET, SURNAME_OFFSET = 3.0, 20.0
ROLE_HEAD, ROLE_PARTNER, ROLE_CHILD = 0, 1, 2
_EPOCH = np.datetime64("1970-01-01", "D")


def _days(day: str) -> int:
    return int((np.datetime64(day, "D") - _EPOCH).astype(np.int64))


@dataclass(frozen=True)
class GivenTable:
    """Every given name as one flat table, blocked by (country, gender)."""

    name: Strings
    nicknames: tuple[tuple[str, ...], ...]
    blocks: dict[tuple[int, str], tuple[int, int]]

    @classmethod
    def build(cls, tail: int) -> GivenTable:
        names: list[str] = []
        nicks: list[tuple[str, ...]] = []
        blocks: dict[tuple[int, str], tuple[int, int]] = {}
        for c, country in enumerate(COUNTRIES):
            for gender in ("F", "M"):
                start = len(names)
                for name, nick in given_pool(country, gender, tail):
                    names.append(name)
                    nicks.append(nick)
                blocks[(c, gender)] = (start, len(names))
        return cls(strings(names), tuple(nicks), blocks)


#: The given names at the default `World.given_tail`.
GIVEN_TABLE = GivenTable.build(World().given_tail)


@dataclass(frozen=True)
class Addresses:
    """Street (with house number), suburb or city, postcode and state or region, per person."""

    street: Strings
    suburb: Strings
    postcode: Strings
    state: Strings

    def take(self, index: npt.NDArray[np.intp] | Ints) -> Addresses:
        return Addresses(
            self.street[index], self.suburb[index], self.postcode[index], self.state[index]
        )


@dataclass(frozen=True)
class People:
    """The ground-truth persons, one array element per person (index = person number)."""

    person_id: Strings
    household: Ints
    role: Ints
    country: Ints
    gender: Strings
    given_index: Ints
    given: Strings
    surname: Strings
    dob: Ints
    twin: Bools
    home: Addresses
    new_home: Addresses
    mobile: Strings
    new_mobile: Strings
    landline: Strings
    uses_landline: Bools
    email: Strings
    second_email: Strings
    family_email: Strings
    national_id: Strings
    device: Strings
    given_table: GivenTable

    @property
    def size(self) -> int:
        return int(self.household.size)

    def calling_code(self) -> Strings:
        """The international calling code of each person's country."""
        codes = strings([PHONES[c].calling_code for c in COUNTRIES])
        return codes[self.country]


def make_people(n: int, seed: int, world: World | None = None) -> People:
    """Draw `n` persons in households, deterministic for `seed`."""
    world = world or World()
    household, role, size = _households(n, stream(seed, "households"), world.households)
    n_households = int(household[-1]) + 1 if n else 0
    rng = stream(seed, "people")
    country_h = weighted_choice(rng, n_households, COUNTRY_WEIGHTS).astype(np.int64)
    country = country_h[household]
    surname = _surnames(rng, country_h, world.surname_tail)[household]
    home = _addresses(rng, country_h).take(household)
    landline = _phones(rng, country_h, mobile=False)[household]
    device_h = concat("dev-", hex_ids(rng, n_households, 12))
    gender = _genders(rng, role)
    dob, twin = _dobs(rng, household, role, size, world.twins)
    table = (
        GIVEN_TABLE
        if world.given_tail == World().given_tail
        else GivenTable.build(world.given_tail)
    )
    given_index = _given_names(rng, table, country, gender, household)
    given = table.name[given_index]
    family = size[household] > 1
    uses_landline = (family & (rng.random(n) < world.landline)) | twin
    own_device = concat("dev-", hex_ids(rng, n, 12))
    email = _emails(rng, given, surname, dob, country)
    extra = stream(seed, "people-mail")
    return People(
        person_id=_person_ids(n, stream(seed, "person-ids")),
        household=household,
        role=role,
        country=country,
        gender=gender,
        given_index=given_index,
        given=given,
        surname=surname,
        dob=dob,
        twin=twin,
        home=home,
        new_home=_addresses(rng, country),
        mobile=_phones(rng, country, mobile=True),
        new_mobile=_phones(rng, country, mobile=True),
        landline=landline,
        uses_landline=uses_landline,
        email=email,
        second_email=_second_emails(extra, email, country, world.second_email),
        family_email=_family_emails(extra, surname, country, size, household, world.family_email),
        national_id=_national_ids(rng, n),
        device=np.where(family, device_h[household], own_device),
        given_table=table,
    )


def _households(n: int, rng: np.random.Generator, share: float) -> tuple[Ints, Ints, Ints]:
    """Household number and role of each person, and the size of each household."""
    values = np.array([1, *FAMILY_SIZES], dtype=np.int64)
    weights = [1 - share, *(share * w for w in FAMILY_SIZES.values())]
    mean = float(np.dot(values, weights))
    sizes = values[weighted_choice(rng, int(n / mean) + 16, weights)]
    while int(sizes.sum()) < n:
        sizes = np.concatenate([sizes, sizes])
    ends = np.cumsum(sizes)
    last = int(np.searchsorted(ends, n))
    sizes = sizes[: last + 1].copy()
    sizes[-1] -= int(ends[last]) - n
    household = np.repeat(np.arange(sizes.size, dtype=np.int64), sizes)
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
    position = np.arange(n, dtype=np.int64) - starts
    role = np.minimum(position, ROLE_CHILD)
    return household, role, sizes


def _person_ids(n: int, rng: np.random.Generator) -> Strings:
    """Labels `P0000001`... assigned in random order, so family members are not neighbours."""
    width = max(7, len(str(n)))
    return concat("P", digits(rng.permutation(n) + 1, width))


def _genders(rng: np.random.Generator, role: Ints) -> Strings:
    gender = np.where(rng.random(role.size) < 0.5, "F", "M").astype(object)
    partner = np.flatnonzero(role == ROLE_PARTNER)
    opposite = np.where(gender[partner - 1] == "F", "M", "F")
    gender[partner] = np.where(rng.random(partner.size) < 0.92, opposite, gender[partner])
    return gender


def _dobs(
    rng: np.random.Generator, household: Ints, role: Ints, size: Ints, twin_share: float
) -> tuple[Ints, Bools]:
    """Dates of birth (days since 1970): partners within a few years, children 22-38 years on."""
    n = role.size
    alone = size[household] == 1
    dob = rng.integers(_days("1941-01-01"), _days("2007-12-31"), n, endpoint=True)
    heads = np.flatnonzero((role == ROLE_HEAD) & ~alone)
    dob[heads] = rng.integers(_days("1945-01-01"), _days("1982-12-31"), heads.size)
    head_of = np.searchsorted(household, household)
    partner = np.flatnonzero(role == ROLE_PARTNER)
    dob[partner] = dob[head_of[partner]] + rng.integers(-6 * 365, 6 * 365, partner.size)
    child = np.flatnonzero(role == ROLE_CHILD)
    dob[child] = dob[head_of[child]] + rng.integers(22 * 365, 38 * 365, child.size)
    late = np.flatnonzero(dob > _days("2007-12-31"))
    dob[late] = rng.integers(_days("1985-01-01"), _days("2007-12-31"), late.size, endpoint=True)
    twin = np.zeros(n, dtype=bool)
    position = np.arange(n) - np.searchsorted(household, household)
    second = np.flatnonzero(position == 3)
    pairs = second[rng.random(second.size) < twin_share]
    dob[pairs] = dob[pairs - 1]
    twin[pairs] = twin[pairs - 1] = True
    for offset in (1, 2, 3, 4):
        idx = np.arange(offset, n)
        clash = (household[idx] == household[idx - offset]) & (dob[idx] == dob[idx - offset])
        clash &= ~(twin[idx] & twin[idx - offset])
        dob[idx[clash]] -= 1 + offset
    return dob.astype(np.int64), twin


def _given_names(
    rng: np.random.Generator, table: GivenTable, country: Ints, gender: Strings, household: Ints
) -> Ints:
    """Given names by (country, gender) popularity, never repeated inside a household."""
    out = np.empty(country.size, dtype=np.int64)
    for (c, g), (start, stop) in table.blocks.items():
        rows = np.flatnonzero((country == c) & (gender == g))
        weights = zipf_weights(stop - start, GIVEN_OFFSET)
        out[rows] = start + weighted_choice(rng, rows.size, weights)
    block_start = np.empty_like(out)
    block_size = np.empty_like(out)
    for (c, g), (start, stop) in table.blocks.items():
        rows = (country == c) & (gender == g)
        block_start[rows], block_size[rows] = start, stop - start
    for _ in range(8):
        changed = False
        for offset in (1, 2, 3, 4):
            idx = np.arange(offset, out.size)
            clash = (household[idx] == household[idx - offset]) & (out[idx] == out[idx - offset])
            rows = idx[clash]
            if rows.size:
                changed = True
                out[rows] = (
                    block_start[rows] + (out[rows] - block_start[rows] + 1) % block_size[rows]
                )
        if not changed:
            break
    return out


def _surnames(rng: np.random.Generator, country: Ints, tail: int) -> Strings:
    out = np.empty(country.size, dtype=object)
    for c, code in enumerate(COUNTRIES):
        pool = strings(surname_pool(code, tail))
        rows = np.flatnonzero(country == c)
        out[rows] = pool[weighted_choice(rng, rows.size, zipf_weights(pool.size, SURNAME_OFFSET))]
    return out


def _addresses(rng: np.random.Generator, country: Ints) -> Addresses:
    n = country.size
    street = np.empty(n, dtype=object)
    suburb = np.empty(n, dtype=object)
    postcode = np.empty(n, dtype=object)
    state = np.empty(n, dtype=object)
    for c, code in enumerate(COUNTRIES):
        rows = np.flatnonzero(country == c)
        cities = CITIES[code]
        pick = weighted_choice(rng, rows.size, [city.weight for city in cities])
        suburb[rows] = strings([city.name for city in cities])[pick]
        state[rows] = strings([city.state for city in cities])[pick]
        postcode[rows] = _postcodes(rng, code, pick)
        names = strings(STREETS[code])
        name = names[weighted_choice(rng, rows.size, zipf_weights(names.size, 4.0))]
        number = (1 + np.minimum(rng.geometric(0.03, rows.size), 240)).astype(str).astype(object)
        if code in NUMBER_FIRST:
            street[rows] = concat(number, " ", name)
        else:
            street[rows] = concat(name, " ", number)
    return Addresses(street, suburb, postcode, state)


def _postcodes(rng: np.random.Generator, country: str, city: npt.NDArray[np.intp]) -> Strings:
    out = np.empty(city.size, dtype=object)
    for i, spec in enumerate(CITIES[country]):
        rows = np.flatnonzero(city == i)
        codes = spec.postcodes
        if isinstance(codes[0], int):
            start, end, step = codes
            k = rng.integers(0, (end - start) // step, rows.size, endpoint=True)
            out[rows] = digits(start + step * k, 5)
            continue
        districts = [f"{area}{d}" for area, lo, hi in codes for d in range(lo, hi + 1)]
        outward = strings(districts)[rng.integers(0, len(districts), rows.size)]
        letters = np.frombuffer(GB_INWARD_LETTERS.encode(), dtype=np.uint8)
        inward = np.empty((rows.size, 3), dtype=np.uint8)
        inward[:, 0] = rng.integers(ord("1"), ord("9"), rows.size, endpoint=True)
        inward[:, 1:] = letters[rng.integers(0, letters.size, (rows.size, 2))]
        out[rows] = concat(outward, " ", inward.view("S3").ravel().astype("U3").astype(object))
    return out


def _phones(rng: np.random.Generator, country: Ints, *, mobile: bool) -> Strings:
    """National significant numbers (no trunk prefix), unique across all persons."""
    number = np.zeros(country.size, dtype=np.int64)
    for c, code in enumerate(COUNTRIES):
        plan = PHONES[code]
        prefixes = plan.mobile_prefixes if mobile else plan.landline_prefixes
        rows = np.flatnonzero(country == c)
        pick = rng.integers(0, len(prefixes), rows.size)
        for p, prefix in enumerate(prefixes):
            sub = rows[pick == p]
            scale = 10 ** (plan.length - len(prefix))
            number[sub] = int(prefix) * scale + rng.integers(0, scale, sub.size)
    key = country * 10**12 + number
    for _ in range(20):
        dup = np.flatnonzero(duplicated(key))
        if dup.size == 0:
            break
        shift = rng.integers(1, 10_000, dup.size)
        number[dup] = number[dup] - number[dup] % 10_000 + (number[dup] % 10_000 + shift) % 10_000
        key[dup] = country[dup] * 10**12 + number[dup]
    out = np.empty(country.size, dtype=object)
    for c, code in enumerate(COUNTRIES):
        rows = np.flatnonzero(country == c)
        out[rows] = digits(number[rows], PHONES[code].length)
    return out


def _emails(
    rng: np.random.Generator, given: Strings, surname: Strings, dob: Ints, country: Ints
) -> Strings:
    """Addresses built from the name in common patterns, at the country's usual domains."""
    n = given.size
    g = map_values(given, email_part)
    s = map_values(surname, email_part)
    initial = map_values(given, lambda x: email_part(x)[:1])
    year = (dob.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 70) % 100
    patterns: list[Callable[[npt.NDArray[np.intp]], Strings]] = [
        lambda r: concat(g[r], ".", s[r]),
        lambda r: concat(initial[r], ".", s[r]),
        lambda r: concat(g[r], s[r]),
        lambda r: concat(g[r], ".", s[r], digits(year[r], 2)),
        lambda r: concat(s[r], ".", g[r]),
        lambda r: concat(g[r], "_", s[r]),
        lambda r: concat(g[r], s[r], random_digits(rng, r.size, 3)),
    ]
    pick = weighted_choice(rng, n, [0.3, 0.1, 0.15, 0.15, 0.05, 0.05, 0.2])
    local = np.empty(n, dtype=object)
    for p, build in enumerate(patterns):
        rows = np.flatnonzero(pick == p)
        local[rows] = build(rows)
    return _mailboxes(rng, local, country, digits=2)


def _mailboxes(rng: np.random.Generator, local: Strings, country: Ints, *, digits: int) -> Strings:
    """Local parts at the country's usual domains, made unique by appending random digits:
    unique as mailboxes, so `mario.rossi@gmail.com` and `mariorossi@gmail.com`, one mailbox
    to Gmail, never go to two persons."""
    domain = np.empty(local.size, dtype=object)
    for c, code in enumerate(COUNTRIES):
        rows = np.flatnonzero(country == c)
        names = strings(EMAIL_DOMAINS[code])
        domain[rows] = names[weighted_choice(rng, rows.size, zipf_weights(names.size, 0.5))]
    email = concat(local, "@", domain)
    for attempt in range(12):
        dup = np.flatnonzero(duplicated(mailbox_keys(email)))
        if dup.size == 0:
            break
        local[dup] = concat(local[dup], random_digits(rng, dup.size, digits + attempt // 3))
        email[dup] = concat(local[dup], "@", domain[dup])
    return email


def _second_emails(
    rng: np.random.Generator, email: Strings, country: Ints, share: float
) -> Strings:
    """For some persons the same local part at another of the country's domains, else empty.

    A second address that is someone else's first one is dropped, so two persons never share a
    real mailbox by accident.
    """
    out = np.full(email.size, "", dtype=object)
    rows = np.flatnonzero(rng.random(email.size) < share)
    parts = [e.partition("@") for e in email[rows].tolist()]
    local, domain = strings([p[0] for p in parts]), strings([p[2] for p in parts])
    other = np.empty(rows.size, dtype=object)
    for c, code in enumerate(COUNTRIES):
        sub = np.flatnonzero(country[rows] == c)
        pool = EMAIL_DOMAINS[code]
        place = {name: i for i, name in enumerate(pool)}
        own = np.array([place.get(d, -1) for d in domain[sub].tolist()], dtype=np.int64)
        # Another domain than the person's own: draw among the others.
        pick = rng.integers(0, len(pool) - 1, sub.size)
        pick += (own >= 0) & (pick >= own)
        other[sub] = strings(pool)[pick]
    second = concat(local, "@", other)
    keys = mailbox_keys(second)
    taken = np.array(
        pd.Series(keys, dtype=object).isin(pd.Series(mailbox_keys(email), dtype=object))
    )
    taken |= (other == domain) | duplicated(keys)
    out[rows[~taken]] = second[~taken]
    return out


def _family_emails(
    rng: np.random.Generator,
    surname: Strings,
    country: Ints,
    size: Ints,
    household: Ints,
    share: float,
) -> Strings:
    """A family mailbox (`famiglia.rossi@libero.it`) shared by some households, else empty."""
    n_h = size.size
    head = np.searchsorted(household, np.arange(n_h))
    has = (size > 1) & (rng.random(n_h) < share)
    rows = np.flatnonzero(has)
    c = country[head[rows]]
    word = strings([FAMILY_WORDS[code] for code in COUNTRIES])[c]
    local = concat(word, ".", map_values(surname[head[rows]], email_part))
    mail = _mailboxes(rng, local, c, digits=1)
    by_household = np.full(n_h, "", dtype=object)
    by_household[rows] = mail
    out: Strings = by_household[household]
    return out


def luhn_check_digit(payload: Ints) -> Ints:
    """The Luhn check digit for each 8-digit payload (so the 9-digit id passes Luhn)."""
    total = np.zeros(payload.size, dtype=np.int64)
    v = payload.astype(np.int64).copy()
    for j in range(8):
        d = v % 10
        v //= 10
        if j % 2 == 0:
            d = d * 2
            d = np.where(d > 9, d - 9, d)
        total += d
    return (10 - total % 10) % 10


def _national_ids(rng: np.random.Generator, n: int) -> Strings:
    """A unique 9-digit id with a Luhn check digit for some persons; empty for the rest."""
    holders = np.flatnonzero(rng.random(n) < NATIONAL_ID_SHARE)
    payload = 10_000_000 + rng.choice(90_000_000, size=holders.size, replace=False)
    out = np.full(n, "", dtype=object)
    out[holders] = digits(payload * 10 + luhn_check_digit(payload), 9)
    return out
