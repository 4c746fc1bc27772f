"""Every fixture segment's members, computed from the raw fixture files by plain Python.

Nothing here uses idgraph to decide membership: people come from `fixtures/truth.csv`, their
traits from the CRM rows (survivorship as the unified customer applies it: the most recently
modified row with a value wins), their events from `pos.csv`, `web.jsonl` and `email.jsonl`.
idgraph's members (run on the ingested fixtures) are mapped to people through the clusters
and truth, and must be the same people.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from idgraph.pipeline import IngestReport
from idgraph.query import IdentityGraph
from idgraph.segment.definition import load_segment
from idgraph.segment.run import folder_resolver, run_segment
from tests.conftest import AS_OF, FIXTURES, load_truth

SEGMENTS = FIXTURES / "segments"
AS_OF_DAY = dt.date.fromisoformat(AS_OF)
AS_OF_MS = int(dt.datetime.fromisoformat(AS_OF).replace(tzinfo=dt.UTC).timestamp() * 1000)
DAY_MS = 86_400_000
#: Every spelling of a country in crm.csv, as the ISO code a unified customer holds.
COUNTRIES = {
    "IT": "IT", "Italy": "IT", "Italia": "IT",
    "GB": "GB", "United Kingdom": "GB",
    "DE": "DE", "Germany": "DE", "Deutschland": "DE",
    "FR": "FR", "France": "FR",
    "ES": "ES", "Spain": "ES", "España": "ES",
}  # fmt: skip
#: Contacts typed at the till that are not an address (fixtures/README.md).
JUNK_EMAILS = {"", "test@test.com", "n/a"}


def ms(timestamp: str) -> int:
    return int(dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp() * 1000)


@dataclass
class Person:
    crm_rows: list[dict[str, str]] = field(default_factory=list)
    emails: set[str] = field(default_factory=set)
    #: (name, ts, properties)
    events: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)

    def trait(self, column: str) -> str | None:
        """The value of the most recently modified CRM row that has one."""
        rows = [r for r in self.crm_rows if r[column]]
        if not rows:
            return None
        return max(rows, key=lambda r: r["last_modified"])[column]

    def age(self) -> int | None:
        dob = self.trait("dob")
        if dob is None:
            return None
        born = dt.datetime.strptime(dob, "%d/%m/%Y").date()
        return (
            AS_OF_DAY.year - born.year - ((AS_OF_DAY.month, AS_OF_DAY.day) < (born.month, born.day))
        )

    def matching(
        self,
        names: set[str],
        *,
        since_ms: int | None = None,
        until_ms: int = AS_OF_MS,
        **props: Any,
    ) -> list[dict[str, Any]]:
        return [
            p
            for name, ts, p in self.events
            if name in names
            and (since_ms is None or ts >= since_ms)
            and ts <= min(until_ms, AS_OF_MS)
            and all(p.get(k) == v for k, v in props.items())
        ]


def load_people() -> dict[str, Person]:
    truth = load_truth()
    people: dict[str, Person] = defaultdict(Person)
    with (FIXTURES / "crm.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            person = people[truth[f"crm:{row['customer_number']}"]]
            person.crm_rows.append(row)
            person.emails.add(row["email"].strip().lower())
    with (FIXTURES / "pos.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            person = people[truth[f"pos:{row['card_number']}"]]
            person.emails.add(row["email"].strip().lower())
            props = {"total": float(row["amount"]), "store": row["store_id"]}
            person.events.append(("Order Completed", ms(row["purchased_at"]), props))
    for source in ("web", "email"):
        for line in (FIXTURES / f"{source}.jsonl").read_text(encoding="utf-8").splitlines():
            call = json.loads(line)
            user = call.get("userId")
            key = f"{source}:user:{user}" if user else f"{source}:anon:{call.get('anonymousId')}"
            if call["type"] == "identify" and key in truth:
                people[truth[key]].emails.add(str(call.get("traits", {}).get("email", "")).lower())
            if call["type"] == "track":
                event = (call["event"], ms(call["timestamp"]), call.get("properties", {}))
                people[truth[key]].events.append(event)
    for person in people.values():
        person.emails -= JUNK_EMAILS
    return dict(people)


def days_ago(n: int) -> int:
    return AS_OF_MS - n * DAY_MS


def cart_abandoners_30d(p: Person) -> bool:
    return (
        bool(p.emails)
        and bool(p.matching({"Product Added"}, since_ms=days_ago(30)))
        and not p.matching({"Order Completed"}, since_ms=days_ago(30))
    )


def engaged_loyalty_members(p: Person) -> bool:
    return (
        p.trait("loyalty_tier") in ("gold", "platinum")
        and p.trait("marketing_opt_in") == "yes"
        and len(p.matching({"Email Opened"}, since_ms=days_ago(365))) >= 2
    )


def italian_shoppers_45_55(p: Person) -> bool:
    country, age = p.trait("country"), p.age()
    return (
        country is not None
        and COUNTRIES[country] == "IT"
        and age is not None
        and 45 <= age <= 55
        and bool(p.matching({"Order Completed"}))
    )


def lapsed_high_spenders(p: Person) -> bool:
    ltv = p.trait("lifetime_value")
    return (
        ltv is not None
        and float(ltv) >= 500
        and not p.matching({"Order Completed"}, since_ms=days_ago(180))
    )


def spring_openers_with_coupon(p: Person) -> bool:
    return bool(p.matching({"Email Opened"}, campaign="spring_newsletter_2026")) and bool(
        p.matching({"Coupon Applied"})
    )


def big_spenders_365d(p: Person) -> bool:
    totals = [
        e["total"]
        for e in p.matching({"Order Completed"}, since_ms=days_ago(365))
        if e.get("total") is not None
    ]
    return bool(totals) and sum(totals) >= 450


def early_april_spring_openers(p: Person) -> bool:
    april = p.matching(
        {"Email Opened"},
        since_ms=ms("2026-04-03T00:00:00Z"),
        until_ms=ms("2026-04-05T00:00:00Z") - 1,
        campaign="spring_newsletter_2026",
    )
    summer = p.matching({"Email Opened", "Email Link Clicked"}, campaign="summer_sale_2026")
    return bool(april) and not summer


def top_tier_big_spenders(p: Person) -> bool:
    tier = p.trait("loyalty_tier") or ""
    return big_spenders_365d(p) and (tier.startswith("p") or "old" in tier)


ORACLES: dict[str, Callable[[Person], bool]] = {
    f.__name__: f
    for f in (
        cart_abandoners_30d,
        engaged_loyalty_members,
        italian_shoppers_45_55,
        lapsed_high_spenders,
        spring_openers_with_coupon,
        big_spenders_365d,
        early_april_spring_openers,
        top_tier_big_spenders,
    )
}


@pytest.fixture(scope="module")
def people() -> dict[str, Person]:
    return load_people()


@pytest.fixture(scope="module")
def members_by_segment(
    fixture_store: tuple[Path, IngestReport],
) -> dict[str, set[str]]:
    store, _ = fixture_store
    truth = load_truth()
    found: dict[str, set[str]] = {}
    with IdentityGraph(store) as graph:
        person_of = {customer: truth[record] for record, customer in graph.clusters()}
        for path in sorted(SEGMENTS.glob("*.yaml")):
            result = run_segment(
                graph.store,
                load_segment(path),
                as_of_ms=AS_OF_MS,
                resolve=folder_resolver(SEGMENTS),
            )
            found[path.stem] = {person_of[m.id] for m in result.members}
            assert len(found[path.stem]) == result.count
    return found


def test_every_fixture_segment_has_an_oracle() -> None:
    assert sorted(ORACLES) == sorted(p.stem for p in SEGMENTS.glob("*.yaml"))


@pytest.mark.parametrize("name", list(ORACLES))
def test_members_are_the_people_the_raw_files_say(
    name: str, people: dict[str, Person], members_by_segment: dict[str, set[str]]
) -> None:
    expected = {pid for pid, person in people.items() if ORACLES[name](person)}
    assert expected, f"{name} selects nobody in the fixtures; it tests nothing"
    assert members_by_segment[name] == expected
