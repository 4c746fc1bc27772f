"""idgraph-ingestible multi-source files derived from the same records (`--sources`).

- `crm.csv` / `support.csv` + mappings: one row per record of that source.
- `pos.csv` + mapping: each pos record is a loyalty card with 1-3 receipts (`Order Completed`).
- `web.jsonl` (+ a stream mapping): each web record is a login: anonymous page calls, then an
  `identify` with the person's one userId, the session's anonymousId and traits, then pages as
  the user. App calls (the web records that carry a phone) have `context.device.id`, shared by
  the members of a household. Each newsletter record is a signup on the site: the same calls
  without a userId, the identify carrying only the traits it has (an email, sometimes a first
  name).
- `sources_truth.csv`: every idgraph record key (`crm:<id>`, `pos:<card>`, `web:user:<userId>`,
  `web:anon:<anonymousId>`, `support:<id>`) with its person and people.csv record.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from . import Dataset
from .names import COUNTRIES
from .vec import Strings, concat, digits, duplicated, hex_ids, stream, strings
from .writers import write_csv

START = np.datetime64("2025-01-01T00:00:00", "s")
SPAN_SECONDS = 640 * 86_400
STORES = {"IT": ("MI01", "RM01", "NA01"), "DE": ("BER1", "MUC1"), "FR": ("PAR1", "LYO1"),
          "GB": ("LDN1", "MAN1"), "ES": ("MAD1", "BCN1")}  # fmt: skip
PAGES = (("Home", "/"), ("Women", "/women"), ("Men", "/men"), ("Home & Living", "/home"),
         ("Sale", "/sale"), ("Store Locator", "/stores"))  # fmt: skip
SITE = "https://www.ortensia-store.com"

CRM_MAPPING = """\
# CRM export (synthetic, bench/generate.py): one row per customer account.
source: crm
id: customer_number
columns:
  email: email
  phone: phone
  first_name: first_name
  last_name: last_name
  birth_date: dob
  street: street
  city: city
  postcode: postcode
  country: country
  customer_id: customer_number
  updated_at: last_modified
traits:
  region: {column: region, type: string}
  national_id: {column: national_id, type: string}
default_region: IT
"""
SUPPORT_MAPPING = """\
# Support desk contacts (synthetic, bench/generate.py): one row per contact.
source: support
id: contact_id
columns:
  email: email
  phone: phone
  first_name: first_name
  last_name: last_name
  birth_date: dob
  postcode: postcode
  updated_at: opened_at
traits:
  national_id: {column: national_id, type: string}
default_region: IT
"""
POS_MAPPING = """\
# Point of sale (synthetic, bench/generate.py): one row per receipt; the loyalty card is the
# record id, so a card's receipts fold into one record; each receipt is an Order Completed event.
source: pos
id: card_number
columns:
  email: email
  phone: phone
  first_name: first_name
  last_name: last_name
  updated_at: purchased_at
event:
  name: Order Completed
  timestamp: purchased_at
  id: receipt_id
  properties:
    total: {column: amount, type: number}
    store: {column: store_id}
    currency: {column: currency}
default_region: IT
"""
WEB_MAPPING = """\
# Web and app tracking (synthetic, bench/generate.py), Segment spec.
source: web
default_region: IT
"""


def _timestamps(rng: np.random.Generator, n: int) -> Strings:
    seconds = rng.integers(0, SPAN_SECONDS, n)
    return _iso(START + seconds.astype("timedelta64[s]"))


def _iso(moments: np.ndarray) -> Strings:
    text = np.datetime_as_string(moments.astype("datetime64[s]"), unit="s")
    return concat(text.astype(object), "Z")


def write_sources(data: Dataset, out: Path) -> list[Path]:
    """Write every source file and sources_truth.csv into `out`; return the paths written."""
    cols, rec = data.records.columns, data.records
    country = strings(COUNTRIES)[data.people.country[rec.person]]
    truth_keys: list[Strings] = []
    truth_rows: list[np.ndarray] = []
    written: list[Path] = []
    rng = stream(data.seed, "sources")

    for source, id_col, prefix, stamp_col in (
        ("crm", "customer_number", "C", "last_modified"),
        ("support", "contact_id", "S", "opened_at"),
    ):
        rows = np.flatnonzero(cols["source"] == source)
        ids = concat(prefix, digits(np.arange(1, rows.size + 1), 7))
        table: dict[str, Any] = {
            id_col: ids,
            "first_name": cols["given_name"][rows],
            "last_name": cols["surname"][rows],
            "email": cols["email"][rows],
            "phone": cols["phone"][rows],
            "dob": cols["dob"][rows],
        }
        if source == "crm":
            table |= {
                "street": cols["street"][rows],
                "city": cols["suburb"][rows],
                "postcode": cols["postcode"][rows],
                "region": cols["state"][rows],
                "country": country[rows],
            }
        else:
            table["postcode"] = cols["postcode"][rows]
        table["national_id"] = cols["national_id"][rows]
        table[stamp_col] = _timestamps(rng, rows.size)
        path = out / f"{source}.csv"
        write_csv(path, table)
        mapping = out / f"{source}.mapping.yaml"
        mapping.write_text(CRM_MAPPING if source == "crm" else SUPPORT_MAPPING, encoding="utf-8")
        written += [path, mapping]
        truth_keys.append(concat(f"{source}:", ids))
        truth_rows.append(rows)

    written += _write_pos(data, out, rng, country, truth_keys, truth_rows)
    written += _write_web(data, out, rng, truth_keys, truth_rows)

    keys = np.concatenate(truth_keys)
    rows = np.concatenate(truth_rows)
    order = np.argsort(keys.astype(str), kind="stable")
    path = out / "sources_truth.csv"
    write_csv(
        path,
        {
            "record_key": keys[order],
            "person_id": cols["person_id"][rows[order]],
            "record_id": cols["record_id"][rows[order]],
        },
    )
    return [*written, path]


def _write_pos(
    data: Dataset,
    out: Path,
    rng: np.random.Generator,
    country: Strings,
    truth_keys: list[Strings],
    truth_rows: list[np.ndarray],
) -> list[Path]:
    cols = data.records.columns
    rows = np.flatnonzero(cols["source"] == "pos")
    card_number = 10_000_000 + rng.choice(90_000_000, size=rows.size, replace=False)
    cards = concat("LC", digits(card_number, 8))
    receipts = np.minimum(rng.geometric(0.55, rows.size), 3)
    card = np.repeat(np.arange(rows.size), receipts)
    row = rows[card]
    n = card.size
    store = np.empty(n, dtype=object)
    for code, names in STORES.items():
        sub = np.flatnonzero(country[row] == code)
        store[sub] = strings(names)[rng.integers(0, len(names), sub.size)]
    stamps = _timestamps(rng, n)
    order = np.lexsort((np.arange(n), stamps.astype(str)))
    amount = np.round(rng.lognormal(4.0, 0.8, n), 2)
    table = {
        "receipt_id": concat("RC", digits(np.arange(1, n + 1), 8))[order],
        "card_number": cards[card][order],
        "email": cols["email"][row][order],
        "phone": cols["phone"][row][order],
        "first_name": cols["given_name"][row][order],
        "last_name": cols["surname"][row][order],
        "store_id": store[order],
        "amount": np.char.mod("%.2f", amount)[order].astype(object),
        "currency": np.where(country[row] == "GB", "GBP", "EUR").astype(object)[order],
        "purchased_at": stamps[order],
    }
    path, mapping = out / "pos.csv", out / "pos.mapping.yaml"
    write_csv(path, table)
    mapping.write_text(POS_MAPPING, encoding="utf-8")
    truth_keys.append(concat("pos:", cards))
    truth_rows.append(rows)
    return [path, mapping]


def _write_web(
    data: Dataset,
    out: Path,
    rng: np.random.Generator,
    truth_keys: list[Strings],
    truth_rows: list[np.ndarray],
) -> list[Path]:
    cols, people = data.records.columns, data.people
    source = cols["source"]
    rows = np.flatnonzero((source == "web") | (source == "newsletter"))
    n = rows.size
    # One account per person: every login of a person is the same userId. A newsletter signup
    # has no account: its identify call carries only the anonymousId and the traits.
    login = source[rows] == "web"
    person = data.records.person[rows]
    user = concat("u-", digits(person + 1, max(7, len(str(people.size)))))
    anon = concat("a-", hex_ids(rng, n, 12))
    while (dup := np.flatnonzero(duplicated(anon))).size:
        anon[dup] = concat("a-", hex_ids(rng, dup.size, 12))
    device = people.device[data.records.person[rows]]
    covered = data.records.covered.get("phone")
    app = source[rows] == "web"
    if covered is not None:
        app &= covered[rows]
    before = rng.integers(1, 4, n)
    after = rng.integers(0, 3, n)
    start = rng.integers(0, SPAN_SECONDS - 86_400, n)
    steps = before + after + 1
    first_call = np.cumsum(steps) - steps
    call_step = np.arange(int(steps.sum())) - np.repeat(first_call, steps)
    moments = START + (np.repeat(start, steps) + 40 * call_step).astype("timedelta64[s]")
    stamps = np.datetime_as_string(moments, unit="s").astype(object)
    message = hex_ids(rng, int(steps.sum()), 32)
    page_pick = rng.integers(0, len(PAGES), int(steps.sum()))
    web_js = {"library": {"name": "analytics.js", "version": "5.2.0"}}
    calls: list[tuple[str, str]] = []
    for i in range(n):
        r = rows[i]
        context: dict[str, Any] = web_js
        if app[i]:
            context = {
                "library": {"name": "analytics-ios", "version": "4.1.0"},
                "device": {"id": device[i]},
            }
        for k in range(int(steps[i])):
            j = int(first_call[i]) + k
            kind = "identify" if k == before[i] else "page"
            ts = stamps[j] + ".000Z"
            mid = message[j]
            call: dict[str, Any] = {
                "type": kind,
                "messageId": f"{mid[:8]}-{mid[8:12]}-{mid[12:16]}-{mid[16:20]}-{mid[20:]}",
            }
            if k >= before[i] and login[i]:
                call["userId"] = user[i]
            call["anonymousId"] = anon[i]
            if kind == "identify":
                call["traits"] = {
                    key: value
                    for key, value in (
                        ("email", cols["email"][r]),
                        ("firstName", cols["given_name"][r]),
                        ("lastName", cols["surname"][r]),
                        ("phone", cols["phone"][r]),
                        ("birthday", cols["dob"][r]),
                    )
                    if value
                }
            else:
                name, page = PAGES[int(page_pick[j])]
                call["name"] = name
                call["properties"] = {"path": page, "url": SITE + page, "name": name}
            call["timestamp"] = ts
            call["context"] = context
            calls.append((ts, json.dumps(call, ensure_ascii=False)))
    calls.sort()
    path, mapping = out / "web.jsonl", out / "web.mapping.yaml"
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for _, line in calls:
            handle.write(line + "\n")
    mapping.write_text(WEB_MAPPING, encoding="utf-8")
    # A user key stands for the person's first login (people.csv order) in the truth file.
    first = login & ~duplicated(np.where(login, user, ""))
    truth_keys += [concat("web:user:", user[first]), concat("web:anon:", anon)]
    truth_rows += [rows[first], rows]
    return [path, mapping]
