"""Expected trait values for the fixtures, from the raw files in plain Python (no idgraph code).

Events follow fixtures/README.md: a POS receipt is an `Order Completed` event of record
`pos:<card_number>`; a `track`/`page` call is an event of `<source>:user:<userId>` when it has a
userId, else of `<source>:anon:<anonymousId>`; `page` calls are named `Page Viewed`.
Definitions follow docs/traits.md.
"""

from __future__ import annotations

import calendar
import csv
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

DAY_MS = 86_400_000
BANDS = [(18, "18-24"), (25, "25-34"), (35, "35-44"), (45, "45-54"), (55, "55-64"), (65, "65+")]


@dataclass(frozen=True)
class RawEvent:
    record: str
    name: str
    ts: int
    properties: dict[str, Any]


def epoch_ms(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return calendar.timegm(moment.utctimetuple()) * 1000 + moment.microsecond // 1000


def read_events(fixtures: Path) -> list[RawEvent]:
    seen: set[str] = set()
    events: list[RawEvent] = []
    with (fixtures / "pos.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["receipt_id"] in seen:
                continue
            seen.add(row["receipt_id"])
            props: dict[str, Any] = {"store": row["store_id"], "currency": row["currency"]}
            if row["amount"].strip():
                props["total"] = float(row["amount"])
            events.append(
                RawEvent(
                    f"pos:{row['card_number']}",
                    "Order Completed",
                    epoch_ms(row["purchased_at"]),
                    props,
                )
            )
    for source in ("web", "email"):
        for line in (fixtures / f"{source}.jsonl").read_text(encoding="utf-8").splitlines():
            call = json.loads(line)
            if call["type"] not in ("track", "page"):
                continue
            event_id = f"{source}:{call['messageId']}"
            if event_id in seen:
                continue
            seen.add(event_id)
            if call.get("userId"):
                record = f"{source}:user:{call['userId']}"
            else:
                record = f"{source}:anon:{call['anonymousId']}"
            props = dict(call.get("properties") or {})
            if call["type"] == "page":
                name = "Page Viewed"
                for extra in ("name", "category"):
                    if isinstance(call.get(extra), str):
                        props.setdefault(extra, call[extra])
            else:
                name = call["event"]
            events.append(RawEvent(record, name, epoch_ms(call["timestamp"]), props))
    return events


def birth_dates(fixtures: Path, truth: dict[str, str]) -> dict[str, date]:
    """Person -> date of birth, from the CRM's `dob` (DD/MM/YYYY)."""
    found: dict[str, set[date]] = defaultdict(set)
    with (fixtures / "crm.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["dob"].strip():
                d, m, y = (int(p) for p in row["dob"].split("/"))
                found[truth[f"crm:{row['customer_number']}"]].add(date(y, m, d))
    assert all(len(v) == 1 for v in found.values()), "one dob per person"
    return {person: next(iter(dobs)) for person, dobs in found.items()}


def _names(value: Any) -> set[str] | None:
    if value is None:
        return None
    return {value} if isinstance(value, str) else set(value)


def _in_scope(e: RawEvent, names: set[str] | None, within: int | None, as_of: int) -> bool:
    if e.ts > as_of or (names is not None and e.name not in names):
        return False
    return within is None or e.ts >= as_of - within * DAY_MS


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _key(value: Any) -> tuple[int, float, str] | None:
    if isinstance(value, bool):
        return (0, float(value), "")
    if isinstance(value, int | float):
        return (1, float(value), "")
    if isinstance(value, str) and value:
        return (2, 0.0, value)
    return None


def trait_value(spec: dict[str, Any], events: list[RawEvent], as_of: int) -> Any:
    picked = [
        e for e in events if _in_scope(e, _names(spec.get("event")), spec.get("within_days"), as_of)
    ]
    kind = spec["kind"]
    if kind == "count":
        return len(picked)
    if kind in ("first_seen", "last_seen", "days_since_last"):
        if not picked:
            return None
        if kind == "first_seen":
            return min(e.ts for e in picked)
        last = max(e.ts for e in picked)
        return last if kind == "last_seen" else (as_of - last) // DAY_MS
    values = [e.properties.get(spec["property"]) for e in picked]
    if kind in ("distinct_count", "most_frequent"):
        keys = [k for k in map(_key, values) if k is not None]
        if kind == "distinct_count":
            return len(set(keys))
        if not keys:
            return None
        best = min(Counter(keys).items(), key=lambda item: (-item[1], item[0]))[0]
        return bool(best[1]) if best[0] == 0 else best[1] if best[0] == 1 else best[2]
    numbers = [n for n in map(_number, values) if n is not None]
    if kind == "sum":
        return sum(numbers, 0.0)
    if not numbers:
        return None
    if kind == "avg":
        return sum(numbers) / len(numbers)
    return min(numbers) if kind == "min" else max(numbers)


def age(born: date | None, as_of: int) -> tuple[int | None, str | None]:
    if born is None:
        return None, None
    today = datetime.fromtimestamp(as_of / 1000, tz=UTC).date()
    years = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if years < 0:
        return None, None
    band = "under_18"
    for floor, label in BANDS:
        if years >= floor:
            band = label
    return years, band


def quintile(value: float, values: list[float]) -> int:
    below = sum(1 for v in values if v < value)
    return 1 + (5 * below) // len(values)


def rfm(
    config: dict[str, Any], by_person: dict[str, list[RawEvent]], as_of: int
) -> dict[str, dict[str, Any]]:
    names = _names(config["event"])
    metrics: dict[str, tuple[float, float, float]] = {}
    for person, events in by_person.items():
        orders = [e for e in events if _in_scope(e, names, config.get("within_days"), as_of)]
        if orders:
            spent = sum(
                n
                for e in orders
                if (n := _number(e.properties.get(config["monetary"]))) is not None
            )
            metrics[person] = (max(e.ts for e in orders), len(orders), round(spent, 6))
    result: dict[str, dict[str, Any]] = {}
    columns = [[m[i] for m in metrics.values()] for i in range(3)]
    for person in by_person:
        if person not in metrics:
            result[person] = dict.fromkeys(
                (
                    "rfm_recency",
                    "rfm_frequency",
                    "rfm_monetary",
                    "rfm_score",
                    "rfm_last_order_ts",
                    "rfm_orders",
                    "rfm_spent",
                )
            )
            continue
        r, f, m = (quintile(metrics[person][i], columns[i]) for i in range(3))
        last, count, spent = metrics[person]
        result[person] = {
            "rfm_recency": r,
            "rfm_frequency": f,
            "rfm_monetary": m,
            "rfm_score": f"{r}{f}{m}",
            "rfm_last_order_ts": last,
            "rfm_orders": count,
            "rfm_spent": spent,
        }
    return result


def lifecycle(config: dict[str, Any], events: list[RawEvent], as_of: int) -> str:
    names = _names(config["event"])
    orders = [e.ts for e in events if _in_scope(e, names, None, as_of)]
    if not orders:
        return "prospect"
    if min(orders) >= as_of - config.get("new_days", 30) * DAY_MS:
        return "new"
    if max(orders) >= as_of - config.get("active_days", 90) * DAY_MS:
        return "active"
    if max(orders) >= as_of - config.get("lapsing_days", 180) * DAY_MS:
        return "lapsing"
    return "lapsed"


def expected_traits(
    config: dict[str, Any], fixtures: Path, truth: dict[str, str], as_of: int
) -> dict[str, dict[str, Any]]:
    """Person -> trait name -> expected value, for a traits config given as plain YAML data."""
    by_person: dict[str, list[RawEvent]] = {person: [] for person in truth.values()}
    for event in read_events(fixtures):
        by_person[truth[event.record]].append(event)
    dobs = birth_dates(fixtures, truth)
    builtins = config.get("builtins") or {}
    rfm_values = rfm(builtins["rfm"], by_person, as_of) if builtins.get("rfm") else {}
    expected: dict[str, dict[str, Any]] = {}
    for person, events in by_person.items():
        row = {spec["name"]: trait_value(spec, events, as_of) for spec in config.get("traits", [])}
        if builtins.get("age"):
            row["age"], row["age_band"] = age(dobs.get(person), as_of)
        row.update(rfm_values.get(person, {}))
        if builtins.get("lifecycle"):
            row["lifecycle_stage"] = lifecycle(builtins["lifecycle"], events, as_of)
        expected[person] = row
    return expected
