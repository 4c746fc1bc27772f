"""The independent judge of the generated fixtures: link rules and a segment evaluator.

`make_fixtures.py` writes the files; this module reads them back with its own small copy of the
link rules (shared non-junk identifiers with the user-id, birth-date and crowd guards; fuzzy
names backed by a second field) and its own segment evaluator. It imports nothing from idgraph,
so the truth it accepts does not lean on the code it is used to test.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
import sys
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

#: The instant the fixture segments are judged at.
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)


def words(text: str, sep: str | None = None) -> list[str]:
    """A list written as one string, so reference data stays compact."""
    return text.split(sep)


COUNTRY_LABELS = {
    "IT": ["Italy", "IT", "Italia"],
    "DE": ["Deutschland", "DE", "Germany"],
    "FR": ["France", "FR"],
    "GB": ["United Kingdom", "GB"],
    "ES": ["ES", "Spain", "España"],
}
COUNTRY_OF_LABEL = {label.casefold(): iso for iso, ls in COUNTRY_LABELS.items() for label in ls}

# ---------------------------------------------------------------------------------------------
# Small helpers shared by the generator and the independent checker
# ---------------------------------------------------------------------------------------------

NICKNAMES = dict(
    pair.split(">")
    for pair in words(
        "bob>robert bobby>robert rob>robert robbie>robert liz>elizabeth lizzie>elizabeth "
        "beth>elizabeth betty>elizabeth beppe>giuseppe peppe>giuseppe pino>giuseppe "
        "bill>william will>william kate>katherine katie>katherine jim>james jimmy>james "
        "tom>thomas tommy>thomas sandro>alessandro ale>alessandro fede>federica "
        "vale>valentina pepe>jose paco>francisco sepp>josef hansi>hans"
    )
)
JUNK_EMAILS = {"test@test.com", "n/a", "na", "none", "unknown", "-", "noemail@noemail.com"}


def fold(text: str) -> str:
    """Lower-case ASCII form: accents dropped, apostrophes gone, other punctuation to spaces."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower().replace("'", "")
    return " ".join(re.sub(r"[^a-z]+", " ", text).split())


def canon_first(first: str) -> str:
    """Folded first name with its nickname replaced by the formal name."""
    parts = fold(first).split()
    return " ".join(NICKNAMES.get(p, p) for p in parts)


def jaro(a: str, b: str) -> float:
    """Jaro similarity, written out plainly."""
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    window = max(max(len(a), len(b)) // 2 - 1, 0)
    used_a, used_b = [False] * len(a), [False] * len(b)
    matches = 0
    for i, ch in enumerate(a):
        for j in range(max(0, i - window), min(i + window + 1, len(b))):
            if not used_b[j] and b[j] == ch:
                used_a[i] = used_b[j] = True
                matches += 1
                break
    if not matches:
        return 0.0
    b_matched = [b[j] for j in range(len(b)) if used_b[j]]
    a_matched = [a[i] for i in range(len(a)) if used_a[i]]
    transpositions = sum(x != y for x, y in zip(a_matched, b_matched, strict=True)) / 2
    return (matches / len(a) + matches / len(b) + (matches - transpositions) / matches) / 3


def jaro_winkler(a: str, b: str) -> float:
    """Jaro-Winkler with the usual prefix scale 0.1 over at most four characters."""
    sim = jaro(a, b)
    prefix = 0
    for x, y in zip(a[:4], b[:4], strict=False):
        if x != y:
            break
        prefix += 1
    return sim + prefix * 0.1 * (1 - sim)


def name_scores(a: tuple[str, str], b: tuple[str, str], *, canon: bool = True) -> dict[str, float]:
    """Both name metrics an implementation may use: the full name, or the mean of the parts."""
    fa = canon_first(a[0]) if canon else fold(a[0])
    fb = canon_first(b[0]) if canon else fold(b[0])
    la, lb = fold(a[1]), fold(b[1])
    return {
        "full": jaro_winkler(f"{fa} {la}", f"{fb} {lb}"),
        "parts": (jaro_winkler(fa, fb) + jaro_winkler(la, lb)) / 2,
    }


def norm_email(raw: str) -> str:
    """Trimmed, lower-cased email; empty when missing or junk."""
    value = raw.strip().lower()
    if not value or value in JUNK_EMAILS or "@" not in value:
        return ""
    return value


def norm_phone(raw: str) -> str:
    """E.164 for the formats this script writes (default region IT); empty when junk."""
    raw = raw.strip()
    digits = re.sub(r"\D", "", raw)
    if len(digits) < 6 or len(set(digits)) == 1:
        return ""
    if "+" in raw:
        return "+" + digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    return "+39" + digits


def norm_postcode(raw: str) -> str:
    """Upper-case postcode without spaces."""
    return re.sub(r"\s+", "", raw.strip().upper())


def iso(ts: datetime, *, ms: bool = False) -> str:
    """ISO 8601 UTC with a Z, as the sources write it."""
    if ms:
        return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ts(text: str) -> datetime:
    """Parse an ISO 8601 timestamp with a Z."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# ---------------------------------------------------------------------------------------------
# Independent check: read the files back and resolve them with the link rules
# ---------------------------------------------------------------------------------------------


@dataclass
class Rec:
    """What the checker knows about one record after reading the files back."""

    key: str
    first: str = ""
    last: str = ""
    seen: str = ""
    dob: str = ""
    postcodes: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    ids: set[tuple[str, str]] = field(default_factory=set)
    user_ids: set[str] = field(default_factory=set)

    def set_name(self, first: str, last: str, ts: str) -> None:
        if first and last and ts >= self.seen:
            self.first, self.last, self.seen = first, last, ts

    def add_contact(self, email: str, phone: str) -> None:
        if e := norm_email(email):
            self.emails.add(e)
            self.ids.add(("email", e))
        if ph := norm_phone(phone):
            self.ids.add(("phone", ph))


def read_records(out: Path) -> tuple[dict[str, Rec], list[tuple[str, str]]]:
    """Records as the link rules see them, plus the explicit alias links."""
    recs: dict[str, Rec] = {}
    for table in ("crm", "pos"):
        mapping = yaml.safe_load((out / f"{table}.mapping.yaml").read_text(encoding="utf-8"))
        cols: dict[str, str] = mapping["columns"]
        with (out / f"{table}.csv").open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                key = f"{mapping['source']}:{row[mapping['id']]}"
                r = recs.setdefault(key, Rec(key))
                ts = row[cols["updated_at"]]
                r.add_contact(row.get(cols["email"], ""), row.get(cols["phone"], ""))
                r.set_name(row[cols["first_name"]], row[cols["last_name"]], ts)
                if "birth_date" in cols and row[cols["birth_date"]]:
                    dd, mm, yyyy = row[cols["birth_date"]].split("/")
                    r.dob = f"{yyyy}-{mm}-{dd}"
                if "postcode" in cols and row[cols["postcode"]]:
                    r.postcodes.add(norm_postcode(row[cols["postcode"]]))
                if "customer_id" in cols:
                    r.ids.add(("customer_id", row[cols["customer_id"]]))
    links: list[tuple[str, str]] = []
    for source in ("web", "email"):
        for line in (out / f"{source}.jsonl").read_text(encoding="utf-8").splitlines():
            msg = json.loads(line)
            if msg["type"] == "alias":
                pair = []
                for uid in (msg["previousId"], msg["userId"]):
                    r = recs.setdefault(f"{source}:user:{uid}", Rec(f"{source}:user:{uid}"))
                    r.ids.add(("user_id", uid))
                    r.user_ids.add(uid)
                    pair.append(r.key)
                links.append((pair[0], pair[1]))
                continue
            user, anon = msg.get("userId", ""), msg.get("anonymousId", "")
            key = f"{source}:user:{user}" if user else f"{source}:anon:{anon}"
            r = recs.setdefault(key, Rec(key))
            if user:
                r.ids.add(("user_id", user))
                r.user_ids.add(user)
            if anon:
                r.ids.add(("anonymous_id", anon))
            if device := msg.get("context", {}).get("device", {}).get("id"):
                r.ids.add(("device_id", device))
            if msg["type"] == "identify":
                t = msg.get("traits", {})
                r.add_contact(t.get("email", ""), t.get("phone", ""))
                r.set_name(t.get("firstName", ""), t.get("lastName", ""), msg["timestamp"])
    return recs, links


class UnionFind:
    """Plain union-find over record keys."""

    def __init__(self, keys: Iterable[str]) -> None:
        self.parent = {k: k for k in keys}

    def find(self, k: str) -> str:
        while self.parent[k] != k:
            self.parent[k] = self.parent[self.parent[k]]
            k = self.parent[k]
        return k

    def union(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)

    def groups(self) -> list[list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for k in self.parent:
            out[self.find(k)].append(k)
        return list(out.values())


def canon_full(r: Rec) -> str:
    return f"{canon_first(r.first)} {fold(r.last)}"


def locals_of(r: Rec, strip_tag: bool) -> set[str]:
    """Email local parts, as written or with +tags and dots removed (gmail-style)."""
    parts = {e.split("@")[0] for e in r.emails}
    return {p.split("+")[0].replace(".", "") for p in parts} if strip_tag else parts


def identifier_groups(recs: dict[str, Rec]) -> dict[tuple[str, str], list[str]]:
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for key in sorted(recs):
        for ident in sorted(recs[key].ids):
            groups[ident].append(key)
    return groups


def identifier_block(recs: dict[str, Rec], keys: list[str], kind: str, crowd: int) -> str:
    """Why an identifier shared by `keys` must not link them, or "" when it may."""
    if len({u for k in keys for u in recs[k].user_ids}) > 1:
        return "different user ids"
    if len({recs[k].dob for k in keys if recs[k].dob}) > 1:
        return "different dates of birth"
    names = {canon_full(recs[k]) for k in keys if recs[k].first}
    if kind in ("email", "phone") and len(names) > crowd:
        return f"{len(names)} distinct people"
    return ""


def fuzzy_candidates(recs: dict[str, Rec]) -> list[tuple[str, str, dict[str, float], set[str]]]:
    """Named pairs that agree exactly on a second field (dob, postcode, email local part)."""
    named = [recs[k] for k in sorted(recs) if recs[k].first and recs[k].last]
    out = []
    for a, b in itertools.combinations(named, 2):
        if a.dob and b.dob and a.dob != b.dob:
            continue
        if a.user_ids and b.user_ids and a.user_ids != b.user_ids:
            continue
        second = set()
        if a.dob and a.dob == b.dob:
            second.add("dob")
        if a.postcodes & b.postcodes:
            second.add("postcode")
        if locals_of(a, False) & locals_of(b, False):
            second.add("email_local")
        if locals_of(a, True) & locals_of(b, True):
            second.add("email_local_untagged")
        if second:
            scores = name_scores((a.first, a.last), (b.first, b.last))
            out.append((a.key, b.key, scores, second))
    return out


def resolve(
    recs: dict[str, Rec],
    links: list[tuple[str, str]],
    fuzzy: list[tuple[str, str, dict[str, float], set[str]]],
    *,
    metric: str,
    threshold: float,
    strip_tag: bool,
    crowd: int,
) -> list[list[str]]:
    """Connected components under one variant of the link rules."""
    uf = UnionFind(recs)
    for a, b in links:
        uf.union(a, b)
    for (kind, _value), keys in identifier_groups(recs).items():
        if len(keys) > 1 and not identifier_block(recs, keys, kind, crowd):
            for k in keys[1:]:
                uf.union(keys[0], k)
    for a, b, scores, second in fuzzy:
        fields = second - ({"email_local"} if strip_tag else {"email_local_untagged"})
        if fields and scores[metric] >= threshold:
            uf.union(a, b)
    return uf.groups()


def check(out: Path, truth: dict[str, str]) -> list[str]:
    """Every problem found; empty when the truth is exactly what the rules resolve."""
    recs, links = read_records(out)
    problems = []
    if set(recs) != set(truth):
        problems.append(
            f"records without truth: {sorted(set(recs) - set(truth))[:10]}; "
            f"truth without records: {sorted(set(truth) - set(recs))[:10]}"
        )
        return problems
    fuzzy = fuzzy_candidates(recs)
    for metric, threshold, strip_tag, crowd in itertools.product(
        ("full", "parts"), (0.80, 0.94), (False, True), (3, 6)
    ):
        variant = f"[{metric} JW>={threshold}, strip +tag/dots={strip_tag}, crowd>{crowd}]"
        seen: dict[str, list[str]] = {}
        for comp in resolve(
            recs, links, fuzzy, metric=metric, threshold=threshold, strip_tag=strip_tag, crowd=crowd
        ):
            people = sorted({truth[k] for k in comp})
            if len(people) > 1:
                problems.append(f"{variant} merges {people}: {sorted(comp)}")
            for pid in people:
                seen.setdefault(pid, []).append(",".join(sorted(comp)))
        for pid, comps in sorted(seen.items()):
            if len(comps) > 1:
                problems.append(f"{variant} splits {pid}: {comps}")
    by_person: dict[str, list[Rec]] = defaultdict(list)
    for k, pid in truth.items():
        by_person[pid].append(recs[k])
    for pid, rs in sorted(by_person.items()):
        if len({r.dob for r in rs if r.dob}) > 1:
            problems.append(f"{pid} has two dates of birth")
    return problems


def diagnostics(out: Path, truth: dict[str, str]) -> dict[str, Any]:
    """Numbers for the report and README: margins of the fuzzy rule, identifier crowding."""
    recs, _links = read_records(out)
    fuzzy = fuzzy_candidates(recs)
    same = [max(s.values()) for a, b, s, _ in fuzzy if truth[a] == truth[b]]
    cross = [(max(s.values()), a, b) for a, b, s, _ in fuzzy if truth[a] != truth[b]]
    legit = [
        len(keys)
        for (kind, _v), keys in identifier_groups(recs).items()
        if kind in ("email", "phone") and len({truth[k] for k in keys}) == 1
    ]
    user_ids: dict[str, set[str]] = defaultdict(set)
    for k, pid in truth.items():
        user_ids[pid] |= recs[k].user_ids
    return {
        "records": len(recs),
        "fuzzy_same_person_min": min(same) if same else None,
        "fuzzy_cross_person_max": max(cross) if cross else None,
        "max_records_per_linking_email_or_phone": max(legit),
        "people_with_two_user_ids": sorted(p for p, u in user_ids.items() if len(u) > 1),
    }


# ---------------------------------------------------------------------------------------------
# Independent segment evaluation
# ---------------------------------------------------------------------------------------------


@dataclass
class Profile:
    """A person's golden fields, CRM traits and events, as a segment sees them."""

    fields: dict[str, Any] = field(default_factory=dict)
    crm_rows: list[dict[str, str]] = field(default_factory=list)
    events: list[tuple[str, datetime, dict[str, Any]]] = field(default_factory=list)

    def value(self, name: str, ltv_rule: str) -> Any:
        if name in self.fields:
            return self.fields[name]
        if not self.crm_rows:
            return None
        newest = max(self.crm_rows, key=lambda r: r["last_modified"])
        if name == "lifetime_value":
            values = [float(r["lifetime_value"]) for r in self.crm_rows]
            return {
                "newest": float(newest["lifetime_value"]),
                "max": max(values),
                "sum": sum(values),
            }[ltv_rule]
        if name == "marketing_opt_in":
            return newest["marketing_opt_in"] == "yes"
        return newest.get(name) or None


def profiles(out: Path, truth: dict[str, str]) -> dict[str, Profile]:
    """Person profiles built from the files and the truth, not from the generator's state."""
    prof: dict[str, Profile] = defaultdict(Profile)
    with (out / "crm.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            p = prof[truth[f"crm:{row['customer_number']}"]]
            p.crm_rows.append(row)
            p.fields["country"] = COUNTRY_OF_LABEL[row["country"].casefold()]
            if row["dob"]:
                born = datetime.strptime(row["dob"], "%d/%m/%Y").date()
                p.fields["birth_date"] = born
                had_birthday = (AS_OF.month, AS_OF.day) >= (born.month, born.day)
                p.fields["age"] = AS_OF.year - born.year - (0 if had_birthday else 1)
            if norm_email(row["email"]):
                p.fields["email"] = norm_email(row["email"])
    with (out / "pos.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            p = prof[truth[f"pos:{row['card_number']}"]]
            if norm_email(row["email"]):
                p.fields.setdefault("email", norm_email(row["email"]))
            p.events.append(
                (
                    "Order Completed",
                    parse_ts(row["purchased_at"]),
                    {
                        "total": float(row["amount"]),
                        "store": row["store_id"],
                        "currency": row["currency"],
                    },
                )
            )
    for source in ("web", "email"):
        for line in (out / f"{source}.jsonl").read_text(encoding="utf-8").splitlines():
            msg = json.loads(line)
            if msg["type"] == "alias":
                continue
            user, anon = msg.get("userId"), msg.get("anonymousId")
            p = prof[truth[f"{source}:user:{user}" if user else f"{source}:anon:{anon}"]]
            email = norm_email(msg.get("traits", {}).get("email", ""))
            if email:
                p.fields.setdefault("email", email)
            if msg["type"] == "track":
                p.events.append((msg["event"], parse_ts(msg["timestamp"]), msg["properties"]))
    for pid in set(truth.values()):
        prof.setdefault(pid, Profile())  # every person gets one, even an empty one
    return prof


def holds(cond: dict[str, Any], p: Profile, ltv_rule: str) -> bool:
    """Evaluate one segment condition as of AS_OF."""
    if "all" in cond:
        return all(holds(c, p, ltv_rule) for c in cond["all"])
    if "any" in cond:
        return any(holds(c, p, ltv_rule) for c in cond["any"])
    if "not" in cond:
        return not holds(cond["not"], p, ltv_rule)
    if "event" in cond:
        since = AS_OF - timedelta(days=cond["within_days"]) if "within_days" in cond else None
        wanted = cond.get("where", {})
        n = sum(
            1
            for name, ts, props in p.events
            if name == cond["event"]
            and ts <= AS_OF
            and (since is None or ts >= since)
            and all(props.get(k) == v for k, v in wanted.items())
        )
        return n >= int(cond.get("min_count", 1))
    value, op, want = p.value(cond["trait"], ltv_rule), cond["op"], cond.get("value")
    if op == "exists":
        return value is not None
    if op == "missing":
        return value is None
    if value is None:
        return False
    ops: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
        "in": lambda a, b: a in b,
        "not_in": lambda a, b: a not in b,
        "between": lambda a, b: b[0] <= a <= b[1],
    }
    return ops[op](value, want)


def segment_members(out: Path, truth: dict[str, str]) -> tuple[dict[str, list[str]], list[str]]:
    """Members of every segment YAML, and problems (size out of 3..15, ambiguous survivorship)."""
    prof = profiles(out, truth)
    members: dict[str, list[str]] = {}
    problems = []
    for path in sorted((out / "segments").glob("*.yaml")):
        seg = yaml.safe_load(path.read_text(encoding="utf-8"))
        by_rule = {
            rule: sorted(pid for pid, p in prof.items() if holds(seg["where"], p, rule))
            for rule in ("newest", "max", "sum")
        }
        if len({tuple(v) for v in by_rule.values()}) > 1:
            problems.append(f"{seg['name']}: members depend on how lifetime_value survives")
        members[seg["name"]] = by_rule["newest"]
        if not 3 <= len(by_rule["newest"]) <= 15:
            problems.append(f"{seg['name']}: {len(by_rule['newest'])} members, want 3..15")
    return members, problems


# ---------------------------------------------------------------------------------------------
# Phones against the phonenumbers library, README, main
# ---------------------------------------------------------------------------------------------


def phone_problems(out: Path) -> list[str]:
    """Every non-junk phone must be valid for phonenumbers and read as this script reads it."""
    try:
        import phonenumbers
    except ImportError:  # pragma: no cover - the project installs it
        print("note: phonenumbers not installed, phone validity not checked", file=sys.stderr)
        return []
    texts = []
    for table in ("crm", "pos"):
        with (out / f"{table}.csv").open(encoding="utf-8", newline="") as fh:
            texts += [row["phone"] for row in csv.DictReader(fh)]
    for source in ("web", "email"):
        for line in (out / f"{source}.jsonl").read_text(encoding="utf-8").splitlines():
            texts.append(json.loads(line).get("traits", {}).get("phone", ""))
    problems = []
    for text in sorted({t for t in texts if norm_phone(t)}):
        number = phonenumbers.parse(text, "IT")
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if not phonenumbers.is_valid_number(number) or e164 != norm_phone(text):
            problems.append(
                f"phone {text!r}: phonenumbers reads {e164}, valid="
                f"{phonenumbers.is_valid_number(number)}, expected {norm_phone(text)}"
            )
    return problems
