"""An independent reference for record linkage, written from docs/matching.md (issue 17).

Plain Python, one record and one pair at a time, all pairs: it only has to run on a few hundred
records, and it must be easy to check by reading. It shares no code with the columnar core
beyond the per-value normalizers (`idgraph.normalize.fields`, `nicknames`, the junk lists),
which are unit-tested on their own; pair generation, rule evaluation, identifier verdicts,
guards, the order links are applied in, clustering and the oversized split are its own.

What it implements, in the words of docs/matching.md:

1. Normalize: each golden field through its normalizer; a value the normalizer refuses, or a
   junk value, is dropped (the record stays). Raw identifier kinds are trimmed; junk dropped.
2. Identifiers: records sharing a value of a listed kind are linked (every pair of holders),
   unless the value is held by more than `max_records` records or `max_names` first names
   (nicknames and typos counting once), or its holders already break
   an identity limit (aliased ids counting as one identity), or disagree on a strong attribute
   (typos aside, as in 5; and two holders of one value of a `personal` kind that vouch for
   each other count as one, however far apart their values: `personal_pairs`). When
   `first_name` must agree (`scoring.must_agree`), a pair of
   holders of a value of a kind with `max_names` whose first names are both known and are not
   one name (a typo, an initial, a short form, a nickname) nor the other's last name (a
   missing last name matches nothing) is two people of one household and not linked; on a
   value such a pair shows to be a household's, holders with no first name link nobody.
   (Learned aliases come from a trained model; these tables are too small to train one.)
3. Blocking: records sharing a rule's whole key form a block; blocks over `max_block_size`
   are skipped.
4. Fuzzy rules: a pair in a block of the rule links when every comparison reaches its
   threshold; its score is the mean of the comparisons, to four decimals.
5. Clustering: links applied strongest first — explicit links, identifiers in config order,
   fuzzy links by score — with a union-find that refuses a link that would give one customer
   more distinct values of a limited kind than allowed or two different strong attributes
   (a birth date a typo away is not different: `same_value`; nor are the values of two
   records of one component a personal identifier vouches for). Explicit links always apply;
   nothing joins across a cannot-link.
6. Oversized components: links dropped from the weakest score up until every part fits;
   explicit links never dropped; a component explicit links alone hold over the limit stays.

The documented order fixes only tiers (explicit, then each identifier kind, then each fuzzy
score); inside a tier it says "deterministic (sorted)" without saying sorted by what. So
`resolve` takes the order as an argument: by record keys, identifier links by value first (the
two readings of "sorted"), or shuffled inside the tiers; `documented_partitions` runs both
readings and a few shuffles, and where they disagree the docs do not decide the data.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Literal

import jellyfish
from rapidfuzz.distance import JaroWinkler, Levenshtein

from idgraph.errors import FieldError
from idgraph.match.config import BlockPart, Comparison, MatchConfig
from idgraph.normalize.fields import (
    clean_name,
    email_local_part,
    name_key,
    normalize_date,
    normalize_email,
    normalize_phone,
    normalize_postcode,
    normalize_text,
)
from idgraph.normalize.nicknames import canonical_first_name
from idgraph.normalize.record import NormalizeOptions

Partition = frozenset[frozenset[str]]

#: Raw identifier kinds: trimmed, junk dropped (email and phone are identifiers too).
RAW_KINDS = ("customer_id", "user_id", "anonymous_id", "device_id")


@dataclass(frozen=True)
class RawRecord:
    """One input row as written: its record key, golden fields and raw identifiers."""

    key: str
    fields: Mapping[str, str] = field(default_factory=dict)
    ids: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Record:
    """A normalized record: field values (None when missing) and identifiers by kind."""

    key: str
    fields: Mapping[str, str | None]
    identifiers: Mapping[str, str]


@dataclass(frozen=True)
class Link:
    """A candidate link between two records; `tier` orders links, strongest first."""

    a: str
    b: str
    tier: tuple[float, ...]
    score: float
    explicit: bool
    why: str
    #: The shared value of an identifier link ("" for others).
    value: str = ""


@dataclass
class Resolution:
    partition: Partition
    accepted: list[Link]
    refused: list[tuple[Link, str]]


# --- 1. normalize ------------------------------------------------------------------------


def _normalizer(name: str, options: NormalizeOptions) -> Callable[[str], str | None]:
    return {
        "email": normalize_email,
        "phone": lambda raw: normalize_phone(raw, options.default_region),
        "first_name": clean_name,
        "last_name": clean_name,
        "birth_date": lambda raw: normalize_date(raw, order=options.date_order),
        "postcode": normalize_postcode,
        "street": normalize_text,
        "city": normalize_text,
    }[name]


def field_value(name: str, raw: str, options: NormalizeOptions) -> str | None:
    """The stored value of a golden field: normalized, None when blank, refused or junk."""
    text = raw.strip()
    try:
        value = _normalizer(name, options)(text)
    except FieldError:
        return None
    if value is None or options.junk.is_junk(name, value):
        return None
    return value


def normalize(raw: RawRecord, options: NormalizeOptions) -> Record:
    fields = {name: field_value(name, text, options) for name, text in raw.fields.items()}
    identifiers: dict[str, str] = {}
    for kind in ("email", "phone"):
        if fields.get(kind):
            identifiers[kind] = str(fields[kind])
    for kind, text in raw.ids.items():
        assert kind in RAW_KINDS, kind
        value = text.strip()
        if value and not options.junk.is_junk(kind, value):
            identifiers[kind] = value
    return Record(raw.key, fields, identifiers)


# --- match keys (what blocking and comparisons read) --------------------------------------


def _blank(value: str | None) -> str | None:
    return value if value else None


def match_value(record: Record, name: str) -> str | None:
    """A record's value of a match field: names folded, nicknames resolved, etc."""
    get = record.fields.get
    if name == "first_name":
        first = get("first_name")
        return _blank(canonical_first_name(name_key(first))) if first else None
    if name == "last_name":
        last = get("last_name")
        return _blank(name_key(last)) if last else None
    if name == "full_name":
        parts = [match_value(record, "first_name"), match_value(record, "last_name")]
        return _blank(" ".join(p for p in parts if p))
    if name == "email_local":
        email = get("email")
        return _blank(email_local_part(email).replace(".", "")) if email else None
    if name == "postcode":
        postcode = get("postcode")
        return _blank(postcode.replace(" ", "")) if postcode else None
    if name in ("city", "street"):
        text = get(name)
        return _blank(name_key(text)) if text else None
    return _blank(get(name))


def _key_part(record: Record, part: BlockPart) -> str | None:
    value = match_value(record, part.field)
    if value is None:
        return None
    match part.transform:
        case "exact":
            out = value
        case "phonetic":
            out = jellyfish.metaphone(value)
        case "prefix3":
            out = value[:3]
        case "initial":
            out = value[:1]
        case "initials":
            out = "".join(sorted(canonical_first_name(word)[:1] for word in value.split()))
        case "year":
            out = value[:4]
    return out or None


def block_key(record: Record, parts: Sequence[BlockPart]) -> tuple[str, ...] | None:
    """The record's whole key for one rule, None when a part is missing."""
    values = [_key_part(record, part) for part in parts]
    if any(v is None for v in values):
        return None
    return tuple(str(v) for v in values)


def similarity(comparison: Comparison, a: Record, b: Record) -> float:
    """Similarity in [0, 1]; a missing value on either side scores 0."""
    x, y = match_value(a, comparison.field), match_value(b, comparison.field)
    if x is None or y is None:
        return 0.0
    match comparison.method:
        case "exact":
            return 1.0 if x == y else 0.0
        case "phonetic":
            return 1.0 if jellyfish.metaphone(x) == jellyfish.metaphone(y) else 0.0
        case "jaro_winkler":
            return float(JaroWinkler.normalized_similarity(x, y))
        case "levenshtein":
            return float(Levenshtein.normalized_similarity(x, y))
    raise AssertionError(comparison.method)


# --- 2-4. candidate links ------------------------------------------------------------------


class Identities:
    """Identity classes of limited identifier values: aliased (explicitly linked) values are
    one identity. A union-find over (kind, value)."""

    def __init__(
        self,
        records: Mapping[str, Record],
        links: Iterable[tuple[str, str]],
        config: MatchConfig,
    ) -> None:
        self.parent: dict[tuple[str, str], tuple[str, str]] = {}
        for a, b in links:
            for kind in config.limits:
                va = records[a].identifiers.get(kind)
                vb = records[b].identifiers.get(kind)
                if va is not None and vb is not None:
                    self._union((kind, va), (kind, vb))

    def find(self, value: tuple[str, str]) -> tuple[str, str]:
        while self.parent.get(value, value) != value:
            value = self.parent[value]
        return value

    def _union(self, x: tuple[str, str], y: tuple[str, str]) -> None:
        rx, ry = self.find(x), self.find(y)
        if rx != ry:
            self.parent[max(rx, ry)] = min(rx, ry)

    def of(self, record: Record, kind: str) -> tuple[str, str] | None:
        value = record.identifiers.get(kind)
        return None if value is None else self.find((kind, value))


def identifier_verdict(
    holders: Sequence[Record],
    kind: str,
    config: MatchConfig,
    identities: Identities,
    vouched: Set[tuple[str, str]] = frozenset(),
) -> str:
    """Why an identifier value shared by `holders` links nobody ("" when it links them)."""
    rule = config.identifier_rule(kind)
    if rule is None or not rule.link:
        return f"{kind} is not a linking identifier"
    if len(holders) > rule.max_records:
        return f"shared by {len(holders)} records (max_records {rule.max_records})"
    for limited, limit in config.limits.items():
        classes = {identities.of(r, limited) for r in holders} - {None}
        if len(classes) > limit:
            return f"joins {len(classes)} distinct {limited} (limit {limit})"
    for name in config.strong_attributes:
        count = len(set(strong_classes(name, holders, vouched).values()))
        if count > 1:
            return f"joins records with {count} different {name}"
    if rule.max_names is not None:
        names = {match_value(r, "first_name") for r in holders} - {None}
        count = len(set(value_classes("first_name", names).values()))  # type: ignore[arg-type]
        if count > rule.max_names:
            return f"held by {count} different first names (max_names {rule.max_names})"
    return ""


def _edits(x: str, y: str) -> int:
    """Letters changed, added or dropped, and neighbours swapped (optimal string alignment)."""
    rows = [[i + j if i * j == 0 else 0 for j in range(len(y) + 1)] for i in range(len(x) + 1)]
    for i in range(1, len(x) + 1):
        for j in range(1, len(y) + 1):
            cost = 0 if x[i - 1] == y[j - 1] else 1
            best = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and x[i - 1] == y[j - 2] and x[i - 2] == y[j - 1]:
                best = min(best, rows[i - 2][j - 2] + 1)
            rows[i][j] = best
    return rows[len(x)][len(y)]


def same_value(name: str, x: str, y: str) -> bool:
    """docs/matching.md: a birth date one digit off, with two neighbouring digits swapped, or
    with day and month swapped is the same date; a first name (folded, nicknames resolved) an
    initial, a typo or a short form away is the same name, unless only its closing vowel
    changed; other attributes must be equal."""
    if x == y:
        return True
    if name == "first_name":
        if len(x) == 1 or len(y) == 1:
            return x[0] == y[0]
        if x[:-1] == y[:-1] and x[-1] in "aeio" and y[-1] in "aeio":
            return False
        return _edits(x, y) <= (2 if min(len(x), len(y)) >= 7 else 1) or _short_form(x, y)
    if name != "birth_date" or len(x) != 10 or len(y) != 10:
        return False
    dx, dy = x.replace("-", ""), y.replace("-", "")
    if not (dx.isdigit() and dy.isdigit()):
        return False
    differ = [i for i in range(8) if dx[i] != dy[i]]
    if len(differ) == 1:
        return True
    if len(differ) == 2 and differ[1] == differ[0] + 1:
        i, j = differ
        if dx[i] == dy[j] and dx[j] == dy[i]:
            return True
    return dx[:4] == dy[:4] and dx[4:6] == dy[6:8] and dx[6:8] == dy[4:6]


def value_classes(name: str, values: Iterable[str]) -> dict[str, int]:
    """Each value's class: values joined by a chain of `same_value` pairs share one."""
    ordered_values = sorted(values)
    cls = {v: i for i, v in enumerate(ordered_values)}
    changed = True
    while changed:
        changed = False
        for x, y in itertools.combinations(ordered_values, 2):
            if cls[x] != cls[y] and same_value(name, x, y):
                low = min(cls[x], cls[y])
                for v, c in cls.items():
                    if c in (cls[x], cls[y]) and c != low:
                        cls[v] = low
                changed = True
    return cls


def strong_classes(
    name: str, group: Sequence[Record], vouched: Set[tuple[str, str]]
) -> dict[str, int]:
    """The class of each record of `group` that has attribute `name`: values joined by a
    chain of `same_value` pairs, or held by two records of the group that vouch for each
    other (`personal_pairs`), share one."""
    held: dict[str, str] = {}
    for r in group:
        value = r.fields.get(name)
        if value is not None:
            held[r.key] = value
    cls = value_classes(name, set(held.values()))
    for a, b in itertools.combinations(sorted(held), 2):
        if (a, b) in vouched and cls[held[a]] != cls[held[b]]:
            gone, kept = max(cls[held[a]], cls[held[b]]), min(cls[held[a]], cls[held[b]])
            cls = {value: kept if c == gone else c for value, c in cls.items()}
    return {key: cls[value] for key, value in held.items()}


def _same_surname(x: str, y: str) -> bool:
    """Equal, or a typo apart (`_edits`) when both have three letters or more."""
    if x == y:
        return True
    shorter = min(len(x), len(y))
    return shorter >= 3 and _edits(x, y) <= (2 if shorter >= 7 else 1)


def _vouch(a: Record, b: Record) -> bool:
    """docs/matching.md, personal identifiers: one first name (a typo, a nickname, an initial
    or a short form aside); or each other's first and last names; or, with no first name on
    one side, one last name."""
    first_a, first_b = match_value(a, "first_name"), match_value(b, "first_name")
    last_a, last_b = match_value(a, "last_name"), match_value(b, "last_name")
    if first_a is not None and first_b is not None and one_first_name(first_a, first_b):
        return True
    if None not in (first_a, first_b, last_a, last_b):
        # Swapped: a last name standing for a first name is read as one (nicknames resolved).
        as_first_a, as_first_b = (canonical_first_name(x) for x in (last_a, last_b))  # type: ignore[arg-type]
        return _same_surname(first_a, as_first_b) and _same_surname(as_first_a, first_b)  # type: ignore[arg-type]
    if first_a is None or first_b is None:
        return last_a is not None and last_b is not None and _same_surname(last_a, last_b)
    return False


def personal_pairs(
    records: Mapping[str, Record], config: MatchConfig
) -> frozenset[tuple[str, str]]:
    """(key, key) pairs, smaller key first, of records holding one value of a linking
    `personal` identifier that at most its `max_records` records hold, and that vouch for
    each other (`_vouch`)."""
    found: set[tuple[str, str]] = set()
    for rule in config.identifiers:
        if not (rule.personal and rule.link):
            continue
        holders: dict[str, list[Record]] = {}
        for record in records.values():
            value = record.identifiers.get(rule.kind)
            if value is not None:
                holders.setdefault(value, []).append(record)
        for group in holders.values():
            if len(group) > rule.max_records:
                continue
            for a, b in itertools.combinations(sorted(group, key=lambda r: r.key), 2):
                if _vouch(a, b):
                    found.add((a.key, b.key))
    return frozenset(found)


def _short_form(x: str, y: str) -> bool:
    """The shorter name, of three to five letters and two or more shorter than the other, is
    the longer one's start, its end, inside it (four letters or more), or its start less a pet
    ending "i" or "y" (four letters or more)."""
    short, long = sorted((x, y), key=len)
    if not 3 <= len(short) <= 5 or len(long) < len(short) + 2:
        return False
    if long.startswith(short) or long.endswith(short):
        return True
    if len(short) >= 4 and short in long:
        return True
    return len(short) >= 4 and short[-1] in "iy" and long.startswith(short[:-1])


def one_first_name(x: str, y: str) -> bool:
    return same_value("first_name", x, y)


def _household(a: Record, b: Record) -> bool:
    first_a, first_b = match_value(a, "first_name"), match_value(b, "first_name")
    if first_a is None or first_b is None or one_first_name(first_a, first_b):
        return False
    last_a, last_b = match_value(a, "last_name"), match_value(b, "last_name")
    swapped = (last_b is not None and one_first_name(first_a, last_b)) or (
        last_a is not None and one_first_name(last_a, first_b)
    )
    return not swapped


def identifier_links(
    records: Mapping[str, Record],
    config: MatchConfig,
    identities: Identities,
    vouched: Set[tuple[str, str]] = frozenset(),
) -> list[Link]:
    """Every pair of holders of every linking identifier value, tiered by the kind's place,
    less a household's pairs."""
    links: list[Link] = []
    households = "first_name" in config.scoring.must_agree
    for order, rule in enumerate(config.identifiers):
        holders: dict[str, list[Record]] = {}
        for record in records.values():
            value = record.identifiers.get(rule.kind)
            if value is not None:
                holders.setdefault(value, []).append(record)
        for value, group in sorted(holders.items()):
            if len(group) < 2 or identifier_verdict(group, rule.kind, config, identities, vouched):
                continue
            pairs = list(itertools.combinations(sorted(group, key=lambda r: r.key), 2))
            shared = households and rule.max_names is not None
            apart = {(a.key, b.key) for a, b in pairs if shared and _household(a, b)}
            for a, b in pairs:
                nameless = None in (match_value(a, "first_name"), match_value(b, "first_name"))
                if (a.key, b.key) in apart or (apart and nameless):
                    continue
                links.append(Link(a.key, b.key, (1, order), 1.0, False, f"same_{rule.kind}", value))
    return links


#: How close to its threshold a similarity counts as on it (see `Problem.on_threshold`).
ON_THRESHOLD = 1e-6


def fuzzy_links(
    records: Mapping[str, Record],
    config: MatchConfig,
    on_threshold: list[tuple[str, str, str]] | None = None,
) -> list[Link]:
    """Every pair that shares a rule's block (of at most max_block_size records) and passes
    all of its comparisons; one link per (pair, rule), tiered by score.

    Pairs with a string similarity within `ON_THRESHOLD` of its threshold are added to
    `on_threshold` as (key, key, rule).
    """
    links: list[Link] = []
    for rule in config.fuzzy:
        blocks: dict[tuple[str, ...], list[Record]] = {}
        for record in records.values():
            key = block_key(record, rule.block_on)
            if key is not None:
                blocks.setdefault(key, []).append(record)
        for members in blocks.values():
            if len(members) > config.block_cap(rule.name):
                continue
            for x, y in itertools.combinations(sorted(members, key=lambda r: r.key), 2):
                scores = [similarity(c, x, y) for c in rule.compare]
                if on_threshold is not None and any(
                    c.method != "exact" and abs(s - c.threshold) < ON_THRESHOLD
                    for s, c in zip(scores, rule.compare, strict=True)
                ):
                    on_threshold.append((x.key, y.key, rule.name))
                if all(s >= c.threshold for s, c in zip(scores, rule.compare, strict=True)):
                    score = round(sum(scores) / len(scores), 4)
                    links.append(Link(x.key, y.key, (2, -score), score, False, rule.name))
    return links


# --- 5. clustering -------------------------------------------------------------------------


class Customers:
    """Union-find over record keys that keeps, per customer, what the guards watch."""

    def __init__(
        self,
        records: Mapping[str, Record],
        config: MatchConfig,
        identities: Identities,
        apart: Sequence[tuple[str, str]],
        links: Sequence[Link],
        vouched: Set[tuple[str, str]] = frozenset(),
    ) -> None:
        self.config = config
        self.parent = {key: key for key in records}
        self.members = {key: {key} for key in records}
        # A strong attribute's value counts as its class among the values of the record's
        # component of the candidate links (docs/matching.md), so a typo is no second value.
        component = {key: key for key in records}
        for group in _connected(set(records), links):
            for key in group:
                component[key] = min(group)
        members: dict[str, list[Record]] = {}
        for key, r in records.items():
            members.setdefault(component[key], []).append(r)
        classes: dict[str, dict[str, tuple[str, int]]] = {}
        for name in config.strong_attributes:
            classes[name] = {
                key: (comp, c)
                for comp, group in members.items()
                for key, c in strong_classes(name, group, vouched).items()
            }
        self.strong = {
            key: {
                name: {classes[name][key]} if key in classes[name] else set()
                for name in config.strong_attributes
            }
            for key in records
        }
        self.limited = {
            key: {kind: {identities.of(r, kind)} - {None} for kind in config.limits}
            for key, r in records.items()
        }
        self.apart = list(apart)

    def find(self, key: str) -> str:
        while self.parent[key] != key:
            key = self.parent[key]
        return key

    def refusal(self, x: str, y: str, *, explicit: bool) -> str:
        """Why customers x and y (roots) may not become one ("" when they may)."""
        for a, b in self.apart:
            ra, rb = self.find(a), self.find(b)
            if {ra, rb} == {x, y}:
                return "cannot-link"
        if explicit:
            return ""
        for name in self.config.strong_attributes:
            if len(self.strong[x][name] | self.strong[y][name]) > 1:
                return f"records disagree on {name}"
        for kind, limit in self.config.limits.items():
            joined = len(self.limited[x][kind] | self.limited[y][kind])
            if joined > limit:
                return f"would give one customer {joined} distinct {kind} (limit {limit})"
        return ""

    def union(self, x: str, y: str) -> None:
        keep, gone = min(x, y), max(x, y)
        self.parent[gone] = keep
        self.members[keep] |= self.members.pop(gone)
        for name in self.strong[keep]:
            self.strong[keep][name] |= self.strong[gone][name]
        for kind in self.limited[keep]:
            self.limited[keep][kind] |= self.limited[gone][kind]

    def partition(self) -> Partition:
        return frozenset(frozenset(group) for group in self.members.values())


Order = Literal["keys", "values"] | random.Random


def ordered(links: Sequence[Link], order: Order = "keys") -> list[Link]:
    """Links strongest tier first; inside a tier, by one reading of "sorted":

    - ``"keys"``: by the link's two record keys;
    - ``"values"``: identifier links by the shared value first, then by keys;
    - a `random.Random`: shuffled, any order the tiers allow.
    """
    if isinstance(order, random.Random):
        weights = [order.random() for _ in links]
        ranked = sorted(zip(links, weights, strict=True), key=lambda lw: (lw[0].tier, lw[1]))
        return [link for link, _ in ranked]
    if order == "values":
        return sorted(links, key=lambda link: (link.tier, link.value, link.a, link.b))
    return sorted(links, key=lambda link: (link.tier, link.a, link.b))


def split_oversized(
    keys: set[str], accepted: list[Link], limit: int
) -> tuple[list[set[str]], list[Link]]:
    """Parts of one component over `limit`: links dropped from the weakest score up, one score
    at a time, until every part fits; whole when explicit links alone hold it over."""
    for cut in sorted({link.score for link in accepted if not link.explicit}):
        kept = [link for link in accepted if link.explicit or link.score > cut]
        parts = _connected(keys, kept)
        if max(len(part) for part in parts) <= limit:
            return parts, [link for link in accepted if link not in kept]
    return [keys], []


def _connected(keys: set[str], links: Iterable[Link]) -> list[set[str]]:
    parent = {key: key for key in keys}

    def find(key: str) -> str:
        while parent[key] != key:
            key = parent[key]
        return key

    for link in links:
        ra, rb = find(link.a), find(link.b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, set[str]] = {}
    for key in keys:
        groups.setdefault(find(key), set()).add(key)
    return list(groups.values())


@dataclass
class Problem:
    """Everything the order of links does not change: records, candidate links, guards."""

    records: dict[str, Record]
    links: list[Link]
    identities: Identities
    cannot_link: Sequence[tuple[str, str]]
    config: MatchConfig
    #: Pairs whose similarity on some fuzzy comparison equals its threshold (to 1e-6).
    on_threshold: list[tuple[str, str, str]] = field(default_factory=list)
    #: Pairs a personal identifier vouches for (`personal_pairs`).
    vouched: frozenset[tuple[str, str]] = frozenset()


def prepare(
    raw: Sequence[RawRecord],
    config: MatchConfig,
    options: NormalizeOptions,
    *,
    must_link: Sequence[tuple[str, str]] = (),
    cannot_link: Sequence[tuple[str, str]] = (),
) -> Problem:
    """Normalize the records and find every candidate link."""
    records = {r.key: normalize(r, options) for r in raw}
    assert len(records) == len(raw), "record keys must be unique"
    identities = Identities(records, must_link, config)
    links = [Link(a, b, (0,), 1.0, True, "must_link") for a, b in must_link]
    vouched = personal_pairs(records, config) if config.strong_attributes else frozenset()
    links += identifier_links(records, config, identities, vouched)
    on_threshold: list[tuple[str, str, str]] = []
    links += fuzzy_links(records, config, on_threshold)
    return Problem(records, links, identities, cannot_link, config, on_threshold, vouched)


def resolve(problem: Problem, order: Order = "keys") -> Resolution:
    """The customers the documented rules make, applying links in one admissible order."""
    config = problem.config
    customers = Customers(
        problem.records,
        config,
        problem.identities,
        problem.cannot_link,
        problem.links,
        problem.vouched,
    )
    accepted: list[Link] = []
    refused: list[tuple[Link, str]] = []
    for link in ordered(problem.links, order):
        x, y = customers.find(link.a), customers.find(link.b)
        if x == y:
            accepted.append(link)
            continue
        reason = customers.refusal(x, y, explicit=link.explicit)
        if reason:
            refused.append((link, reason))
            continue
        customers.union(x, y)
        accepted.append(link)
    groups: list[set[str]] = []
    limit = config.flag_component_records
    for group in customers.partition():
        if not config.split_oversized or len(group) <= limit:
            groups.append(set(group))
            continue
        inside = [link for link in accepted if link.a in group]
        parts, dropped = split_oversized(set(group), inside, limit)
        groups.extend(parts)
        refused.extend((link, "oversized") for link in dropped)
    partition = frozenset(frozenset(g) for g in groups)
    return Resolution(partition, accepted, refused)


def documented_partitions(problem: Problem, *, shuffles: int = 4) -> set[Partition]:
    """The partitions `resolve` gives under both readings of "sorted" and `shuffles` random
    orders inside the tiers: one partition when the documented order decides the data."""
    orders: list[Order] = ["keys", "values"]
    orders += [random.Random(n) for n in range(shuffles)]
    return {resolve(problem, order).partition for order in orders}
