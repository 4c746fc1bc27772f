"""Ground truth for the analyst queries, read from fixtures/ in plain Python (no idgraph code).

Record keys follow fixtures/README.md: `crm:<customer_number>`, `pos:<card_number>`, and for
the streams `<source>:user:<userId>` when a call has a userId, else `<source>:anon:<anonymousId>`.
"""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from itertools import combinations
from typing import Any

from tests.conftest import FIXTURES, load_truth

STREAMS = ("web", "email")


def source_of(record_key: str) -> str:
    return record_key.split(":", 1)[0]


def people() -> dict[str, set[str]]:
    """Person id -> their record keys."""
    found: dict[str, set[str]] = defaultdict(set)
    for key, person in load_truth().items():
        found[person].add(key)
    return dict(found)


def csv_rows(name: str) -> list[dict[str, str]]:
    with (FIXTURES / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def stream_calls() -> Iterator[tuple[str, dict[str, Any]]]:
    for source in STREAMS:
        with (FIXTURES / f"{source}.jsonl").open(encoding="utf-8") as handle:
            for line in handle:
                yield source, json.loads(line)


def call_record(source: str, call: dict[str, Any]) -> str:
    if call.get("userId"):
        return f"{source}:user:{call['userId']}"
    return f"{source}:anon:{call['anonymousId']}"


def events_per_record() -> Counter[str]:
    """Page and track calls land on their record; every receipt is an event of its card."""
    counts: Counter[str] = Counter()
    for source, call in stream_calls():
        if call["type"] in ("page", "track"):
            counts[call_record(source, call)] += 1
    for row in csv_rows("pos"):
        counts[f"pos:{row['card_number']}"] += 1
    return counts


def stream_records_holding(
    value_of: Callable[[dict[str, Any]], str | None], value: str
) -> set[str]:
    """Records of stream calls whose `value_of(call)` equals `value`."""
    return {call_record(source, call) for source, call in stream_calls() if value_of(call) == value}


def device_id(call: dict[str, Any]) -> str | None:
    device = call.get("context", {}).get("device", {})
    return device.get("id") if isinstance(device, dict) else None


def anonymous_id(call: dict[str, Any]) -> str | None:
    return call.get("anonymousId")


def stream_identifier_holders(
    value_of: Callable[[dict[str, Any]], str | None],
) -> dict[str, set[str]]:
    """Every value of one stream identifier -> the records holding it."""
    holders: dict[str, set[str]] = defaultdict(set)
    for source, call in stream_calls():
        value = value_of(call)
        if value:
            holders[value].add(call_record(source, call))
    return dict(holders)


def records_with_email(email: str) -> set[str]:
    """Records whose raw email (any source, compared lower case) is `email`."""
    found = {f"crm:{r['customer_number']}" for r in csv_rows("crm") if r["email"].lower() == email}
    found |= {f"pos:{r['card_number']}" for r in csv_rows("pos") if r["email"].lower() == email}
    for source, call in stream_calls():
        traits = call.get("traits") or {}
        if str(traits.get("email", "")).lower() == email:
            found.add(call_record(source, call))
    return found


def source_pairs() -> dict[tuple[str, str], int]:
    """(source a, source b) with a < b -> people with records in both."""
    pairs: Counter[tuple[str, str]] = Counter()
    for keys in people().values():
        for pair in combinations(sorted({source_of(k) for k in keys}), 2):
            pairs[pair] += 1
    return dict(pairs)
