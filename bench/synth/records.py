"""Records: one to k noisy copies of each person, spread over sources, shuffled.

The clean value of every field is taken from the person (after the person-level events: a move
to a new address, a new mobile number), then the record-level corruptions of `noise.NoiseRates`
are applied with vectorised masks. Each corruption kind is recorded as a boolean mask over the
records, so tests and the manifest can count what was done. Last, each record keeps only the
fields its source captures (`COVERAGE`): a newsletter signup is an email and maybe a first name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .names import COUNTRIES
from .noise import (
    EMAIL_VARIANTS,
    NEW_VALUE_SHARE,
    TYPO_KINDS,
    NoiseRates,
    abbreviate_street,
    email_typos,
    email_variant,
    fold_text,
    typos,
)
from .people import People
from .places import EMAIL_DOMAINS, JUNK_EMAILS, PLUS_TAGS
from .vec import Bools, Ints, Strings, concat, digits, stream, strings, weighted_choice
from .world import World

SOURCES: tuple[str, ...] = ("crm", "pos", "web", "newsletter", "support")
SOURCE_WEIGHTS: tuple[float, ...] = (0.30, 0.30, 0.20, 0.12, 0.08)
COLUMNS: tuple[str, ...] = (
    "record_id",
    "source",
    "given_name",
    "surname",
    "street",
    "suburb",
    "postcode",
    "state",
    "dob",
    "email",
    "phone",
    "national_id",
    "person_id",
)
#: Fields whose clean value never changes between a person's records at noise 0.
STABLE_FIELDS: tuple[str, ...] = COLUMNS[2:12]
PHONE_STYLES = ("grouped", "double_zero", "parenthesised", "dashed", "national")
#: The share of a source's records that capture each field; a field not listed is captured by
#: none. CRM captures everything. Applied to a record with probability `World.source_coverage`.
COVERAGE: dict[str, dict[str, float]] = {
    "crm": dict.fromkeys(STABLE_FIELDS, 1.0),
    "pos": {"given_name": 1.0, "surname": 1.0, "phone": 1.0, "email": 0.7},
    "web": {"given_name": 1.0, "surname": 1.0, "email": 1.0, "phone": 0.4, "dob": 0.3},
    "newsletter": {"email": 1.0, "given_name": 0.5},
    "support": {
        "given_name": 1.0,
        "surname": 1.0,
        "email": 1.0,
        "phone": 1.0,
        "postcode": 1.0,
        "dob": 1.0,
        "national_id": 1.0,
    },
}

#: The fields each record-level change shows in (all of them must be captured to show it).
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "given_nickname": ("given_name",),
    "given_typo": ("given_name",),
    "given_missing": ("given_name",),
    "surname_typo": ("surname",),
    "surname_missing": ("surname",),
    "name_swap": ("given_name", "surname"),
    "dob_digit": ("dob",),
    "dob_day_month_swap": ("dob",),
    "dob_missing": ("dob",),
    "address_moved": ("postcode",),
    "street_abbrev": ("street",),
    "street_typo": ("street",),
    "address_missing": ("postcode",),
    "postcode_typo": ("postcode",),
    "postcode_missing": ("postcode",),
    "phone_changed": ("phone",),
    "phone_format": ("phone",),
    "phone_missing": ("phone",),
    "family_email": ("email",),
    "second_email": ("email",),
    "email_variant": ("email",),
    "email_typo": ("email",),
    "email_junk": ("email",),
    "email_missing": ("email",),
    "national_id_digit": ("national_id",),
    "national_id_missing": ("national_id",),
}

_EPOCH_MONTH = np.datetime64("1970-01", "M")


@dataclass
class Records:
    """The records in output order: people.csv columns, clean values and what was corrupted."""

    person: Ints
    columns: dict[str, Strings]
    clean: dict[str, Strings]
    applied: dict[str, Bools] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)
    #: Per field: the records whose source captures it (the rest were cut to "").
    covered: dict[str, Bools] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return int(self.person.size)


def records_per_person(
    rng: np.random.Generator, n_records: int, mean: float = 2.5, most: int = 12
) -> Ints:
    """Records per person, truncated-geometric (many singletons, a long tail), summing to n."""
    k = np.arange(1, most + 1, dtype=np.float64)
    lo, hi = 0.0, 1.0
    for _ in range(60):
        q = (lo + hi) / 2
        w = q ** (k - 1)
        if float(np.dot(k, w) / w.sum()) < mean:
            lo = q
        else:
            hi = q
    pmf = q ** (k - 1)
    counts = 1 + weighted_choice(rng, int(n_records / mean * 1.2) + 16, pmf).astype(np.int64)
    while int(counts.sum()) < n_records:
        counts = np.concatenate([counts, counts])
    ends = np.cumsum(counts)
    last = int(np.searchsorted(ends, n_records))
    counts = counts[: last + 1].copy()
    counts[-1] -= int(ends[last]) - n_records
    return counts


def build_records(
    people: People, counts: Ints, rates: NoiseRates, seed: int, world: World | None = None
) -> Records:
    """Expand persons into records, corrupt them, and shuffle them into output order."""
    world = world or World()
    n = int(counts.sum())
    rng = stream(seed, "records")
    order = stream(seed, "record-order").permutation(n)
    person = np.repeat(np.arange(people.size, dtype=np.int64), counts)[order]
    rec = Records(person=person, columns={}, clean={})
    source = strings(SOURCES)[weighted_choice(rng, n, SOURCE_WEIGHTS)]
    width = max(7, len(str(n)))
    rec.columns["record_id"] = concat("R", digits(np.arange(1, n + 1), width))
    rec.columns["source"] = source
    _names(rec, people, rates, rng)
    _dob(rec, people, rates, rng)
    _address(rec, people, rates, rng)
    _phone(rec, people, rates, rng)
    _email(rec, people, rates, rng, world)
    _national_id(rec, people, rates, rng)
    _finish_names(rec, rates, rng)
    _cover(rec, stream(seed, "coverage"), world.source_coverage)
    rec.columns["person_id"] = people.person_id[person]
    rec.columns = {name: rec.columns[name] for name in COLUMNS}
    for kind, mask in rec.applied.items():
        rec.kinds[kind] = int(mask.sum())
    return rec


def _draw(rng: np.random.Generator, n: int, rate: float) -> Bools:
    return rng.random(n) < rate


def _names(rec: Records, people: People, rates: NoiseRates, rng: np.random.Generator) -> None:
    n, p = rec.size, rec.person
    given = people.given[p].copy()
    surname = people.surname[p].copy()
    rec.clean["given_name"], rec.clean["surname"] = people.given[p], people.surname[p]
    name_index = people.given_index[p]
    table = people.given_table
    n_nicks = np.array([len(x) for x in table.nicknames], dtype=np.int64)[name_index]
    nick = np.flatnonzero(_draw(rng, n, rates.given_nickname) & (n_nicks > 0))
    pick = (rng.random(nick.size) * n_nicks[nick]).astype(np.int64)
    given[nick] = strings(
        [table.nicknames[i][j] for i, j in zip(name_index[nick], pick, strict=True)]
    )
    rec.applied["given_nickname"] = _mask(n, nick)
    _typo_into(rec, "given_typo", given, _draw(rng, n, rates.given_typo), rng)
    _typo_into(rec, "surname_typo", surname, _draw(rng, n, rates.surname_typo), rng)
    rec.columns["given_name"], rec.columns["surname"] = given, surname


def _typo_into(
    rec: Records, kind: str, values: Strings, mask: Bools, rng: np.random.Generator
) -> None:
    rows = np.flatnonzero(mask & (values != ""))
    values[rows], codes = typos(values[rows], rng)
    rec.applied[kind] = _mask(values.size, rows)
    for code, name in enumerate(TYPO_KINDS):
        key = f"typo_{name}"
        rec.kinds[key] = rec.kinds.get(key, 0) + int((codes == code).sum())


def _mask(n: int, rows: Ints) -> Bools:
    out = np.zeros(n, dtype=bool)
    out[rows] = True
    return out


def _finish_names(rec: Records, rates: NoiseRates, rng: np.random.Generator) -> None:
    """Accent folding over text fields, given/surname swaps and missing names."""
    n = rec.size
    fold_rows = np.flatnonzero(_draw(rng, n, rates.accent_fold))
    changed = np.zeros(n, dtype=bool)
    for name in ("given_name", "surname", "street", "suburb", "state"):
        col = rec.columns[name]
        folded = strings([fold_text(v) for v in col[fold_rows].tolist()])
        changed[fold_rows] |= folded != col[fold_rows]
        col[fold_rows] = folded
    rec.applied["accent_fold"] = changed
    given, surname = rec.columns["given_name"], rec.columns["surname"]
    swap = np.flatnonzero(_draw(rng, n, rates.name_swap))
    given[swap], surname[swap] = surname[swap], given[swap].copy()
    rec.applied["name_swap"] = _mask(n, swap)
    _blank(rec, "given_missing", (given,), _draw(rng, n, rates.given_missing))
    _blank(rec, "surname_missing", (surname,), _draw(rng, n, rates.surname_missing))


def _blank(rec: Records, kind: str, cols: tuple[Strings, ...], mask: Bools) -> None:
    rows = np.flatnonzero(mask & (cols[0] != ""))
    for col in cols:
        col[rows] = ""
    rec.applied[kind] = _mask(rec.size, rows)


def _dob(rec: Records, people: People, rates: NoiseRates, rng: np.random.Generator) -> None:
    n = rec.size
    days = people.dob[rec.person].astype("datetime64[D]")
    month = days.astype("datetime64[M]")
    y = month.astype("datetime64[Y]").astype(np.int64) + 1970
    m = month.astype(np.int64) % 12 + 1
    d = (days - month).astype(np.int64) + 1
    month_len = ((month + 1).astype("datetime64[D]") - month.astype("datetime64[D]")).astype(
        np.int64
    )
    rec.clean["dob"] = _iso(y, m, d)
    kind = rng.random(n)
    digit = _draw(rng, n, rates.dob_digit)
    swap = ~digit & _draw(rng, n, rates.dob_day_month_swap) & (d <= 12) & (d != m)
    y2, m2, d2 = y.copy(), m.copy(), d.copy()
    m2[swap], d2[swap] = d[swap], m[swap]
    shift = rng.integers(1, 10, n)
    new_day = d - d % 10 + (d % 10 + shift) % 10
    day_ok = (new_day >= 1) & (new_day <= month_len)
    new_year = y - y % 10 + (y % 10 + shift) % 10
    leap = (new_year % 4 == 0) & ((new_year % 100 != 0) | (new_year % 400 == 0))
    year_ok = ~((m == 2) & (d == 29) & ~leap)
    use_day = digit & day_ok & ((kind < 0.5) | ~year_ok)
    use_year = digit & ~use_day & year_ok
    d2[use_day] = new_day[use_day]
    y2[use_year] = new_year[use_year]
    dob = _iso(y2, m2, d2)
    rec.applied["dob_digit"] = use_day | use_year
    rec.applied["dob_day_month_swap"] = swap
    rec.columns["dob"] = dob
    _blank(rec, "dob_missing", (dob,), _draw(rng, n, rates.dob_missing))


def _iso(y: Ints, m: Ints, d: Ints) -> Strings:
    return concat(digits(y, 4), "-", digits(m, 2), "-", digits(d, 2))


def _address(rec: Records, people: People, rates: NoiseRates, rng: np.random.Generator) -> None:
    n, p = rec.size, rec.person
    mover = rng.random(people.size) < rates.address_moved
    moved = mover[p] & (rng.random(n) < NEW_VALUE_SHARE)
    rec.applied["address_moved"] = moved
    names = ("street", "suburb", "postcode", "state")
    for name in names:
        home = getattr(people.home, name)[p]
        rec.clean[name] = home
        rec.columns[name] = np.where(moved, getattr(people.new_home, name)[p], home)
    street = rec.columns["street"]
    rows = np.flatnonzero(_draw(rng, n, rates.street_abbrev))
    short = strings([abbreviate_street(s) for s in street[rows].tolist()])
    rec.applied["street_abbrev"] = _mask(n, rows[short != street[rows]])
    street[rows] = short
    _typo_into(rec, "street_typo", street, _draw(rng, n, rates.street_typo), rng)
    postcode = rec.columns["postcode"]
    rows = np.flatnonzero(_draw(rng, n, rates.postcode_typo))
    postcode[rows], _ = typos(postcode[rows], rng, kinds=(0,))
    rec.applied["postcode_typo"] = _mask(n, rows)
    cols = tuple(rec.columns[name] for name in names)
    _blank(rec, "address_missing", cols, _draw(rng, n, rates.address_missing))
    _blank(rec, "postcode_missing", (postcode,), _draw(rng, n, rates.postcode_missing))


def _phone(rec: Records, people: People, rates: NoiseRates, rng: np.random.Generator) -> None:
    n, p = rec.size, rec.person
    changer = rng.random(people.size) < rates.phone_changed
    changed = changer[p] & ~people.uses_landline[p] & (rng.random(n) < NEW_VALUE_SHARE)
    rec.applied["phone_changed"] = changed
    base = np.where(people.uses_landline[p], people.landline[p], people.mobile[p])
    nsn = np.where(changed, people.new_mobile[p], base)
    cc = people.calling_code()[p]
    rec.clean["phone"] = concat("+", cc, base)
    phone = concat("+", cc, nsn)
    rows = np.flatnonzero(_draw(rng, n, rates.phone_format))
    italian = people.country[p[rows]] == COUNTRIES.index("IT")
    style = rng.integers(0, len(PHONE_STYLES) - 1, rows.size)
    style[italian & (rng.random(rows.size) < 0.4)] = len(PHONE_STYLES) - 1
    phone[rows] = strings(
        [_format_phone(c, x, int(s)) for c, x, s in zip(cc[rows], nsn[rows], style, strict=True)]
    )
    rec.applied["phone_format"] = _mask(n, rows)
    rec.columns["phone"] = phone
    _blank(rec, "phone_missing", (phone,), _draw(rng, n, rates.phone_missing))


def _format_phone(cc: str, nsn: str, style: int) -> str:
    """A phone number in one of the ways people write it (see PHONE_STYLES)."""
    a, b, c = nsn[:3], nsn[3:6], nsn[6:]
    if style == 0:
        return f"+{cc} {a} {b} {c}"
    if style == 1:
        return f"00{cc} {nsn}"
    if style == 2:
        return f"(+{cc}) {a}.{b}.{c}"
    if style == 3:
        return f"+{cc}-{a}-{b}{c}"
    return f"{a} {b}{c}"


def _email(
    rec: Records, people: People, rates: NoiseRates, rng: np.random.Generator, world: World
) -> None:
    n, p = rec.size, rec.person
    rec.clean["email"] = people.email[p]
    family = (people.family_email[p] != "") & (rng.random(n) < world.family_email_records)
    second = ~family & (people.second_email[p] != "")
    second &= rng.random(n) < world.second_email_records
    email = np.where(family, people.family_email[p], people.email[p])
    email = np.where(second, people.second_email[p], email)
    rec.applied["family_email"] = family
    rec.applied["second_email"] = second
    before = email.copy()
    rows = np.flatnonzero(_draw(rng, n, rates.email_variant))
    kind = rng.integers(0, len(EMAIL_VARIANTS), rows.size)
    u = rng.random(rows.size)
    tags = strings(PLUS_TAGS)[rng.integers(0, len(PLUS_TAGS), rows.size)]
    country = people.country[p[rows]]
    other = np.empty(rows.size, dtype=object)
    for c, code in enumerate(COUNTRIES):
        sub = np.flatnonzero(country == c)
        pool = strings(EMAIL_DOMAINS[code])
        other[sub] = pool[rng.integers(0, pool.size, sub.size)]
    email[rows] = strings(
        [
            email_variant(e, int(k), float(x), t, o)
            for e, k, x, t, o in zip(email[rows], kind, u, tags, other, strict=True)
        ]
    )
    changed = email[rows] != before[rows]
    rec.applied["email_variant"] = _mask(n, rows[changed])
    for number, name in enumerate(EMAIL_VARIANTS):
        rec.kinds[f"email_{name}"] = int(((kind == number) & changed).sum())
    rows = np.flatnonzero(_draw(rng, n, rates.email_typo))
    email[rows], _ = email_typos(email[rows], rng)
    rec.applied["email_typo"] = _mask(n, rows)
    rows = np.flatnonzero(_draw(rng, n, rates.email_junk))
    email[rows] = strings(JUNK_EMAILS)[rng.integers(0, len(JUNK_EMAILS), rows.size)]
    rec.applied["email_junk"] = _mask(n, rows)
    rec.columns["email"] = email
    # A newsletter signup is its email address: never missing there.
    keep = rec.columns["source"] == "newsletter"
    _blank(rec, "email_missing", (email,), _draw(rng, n, rates.email_missing) & ~keep)
    for tag in ("family_email", "second_email"):
        rec.applied[tag] &= (email != "") & ~rec.applied["email_junk"]


def _national_id(rec: Records, people: People, rates: NoiseRates, rng: np.random.Generator) -> None:
    n, p = rec.size, rec.person
    nid = people.national_id[p].copy()
    rec.clean["national_id"] = people.national_id[p]
    rows = np.flatnonzero(_draw(rng, n, rates.national_id_digit) & (nid != ""))
    nid[rows], _ = typos(nid[rows], rng, kinds=(0,))
    rec.applied["national_id_digit"] = _mask(n, rows)
    rec.columns["national_id"] = nid
    _blank(rec, "national_id_missing", (nid,), _draw(rng, n, rates.national_id_missing))


def _cover(rec: Records, rng: np.random.Generator, share: float) -> None:
    """Cut each record to the fields its source captures (`COVERAGE`), for `share` of records."""
    n = rec.size
    source = rec.columns["source"]
    applies = rng.random(n) < share
    cut_any = np.zeros(n, dtype=bool)
    for name in STABLE_FIELDS:
        u = rng.random(n)
        covered = np.ones(n, dtype=bool)
        for src, fields in COVERAGE.items():
            rows = (source == src) & applies
            covered[rows] = u[rows] < fields.get(name, 0.0)
        col = rec.columns[name]
        cut_any |= ~covered & (col != "")
        col[~covered] = ""
        rec.covered[name] = covered
    # A change to a field the source does not capture did not reach the output.
    for kind, shown_in in KIND_FIELDS.items():
        if kind in rec.applied:
            for name in shown_in:
                rec.applied[kind] &= rec.covered[name]
    rec.applied["source_cut"] = cut_any
