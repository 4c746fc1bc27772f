"""The fixtures' README, written from the generated files so its numbers cannot drift."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fixture_world import World


def counts(out: Path, truth: dict[str, str]) -> dict[str, Any]:
    def lines(name: str) -> list[dict[str, Any]]:
        text = (out / name).read_text(encoding="utf-8")
        return [json.loads(x) for x in text.splitlines()]

    with (out / "crm.csv").open(encoding="utf-8") as fh:
        crm = sum(1 for _ in csv.DictReader(fh))
    with (out / "pos.csv").open(encoding="utf-8") as fh:
        pos = list(csv.DictReader(fh))
    web, esp = lines("web.jsonl"), lines("email.jsonl")
    by_prefix: dict[str, int] = defaultdict(int)
    for key in truth:
        by_prefix[key.rsplit(":", 1)[0]] += 1
    return {
        "crm_rows": crm,
        "pos_rows": len(pos),
        "pos_cards": len({r["card_number"] for r in pos}),
        "web_lines": len(web),
        "email_lines": len(esp),
        "web_types": dict(sorted(_tally(m["type"] for m in web).items())),
        "email_events": dict(sorted(_tally(m.get("event", m["type"]) for m in esp).items())),
        "records": len(truth),
        "people": len(set(truth.values())),
        "records_by_kind": dict(sorted(by_prefix.items())),
        "multi_record_people": sum(1 for n in _tally(truth.values()).values() if n > 1),
    }


def _tally(values: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for v in values:
        out[v] += 1
    return out


def readme(
    w: World,
    notes: dict[str, str],
    members: dict[str, list[str]],
    stats: dict[str, Any],
    diag: dict[str, Any],
    *,
    seed: int,
    site: str,
) -> str:
    """fixtures/README.md, generated so its numbers never drift from the files."""

    def keys_of(pid: str) -> str:
        return ", ".join(f"`{k}`" for k in sorted(k for k, v in w.truth.items() if v == pid))

    cross = diag["fuzzy_cross_person_max"]
    plant_rows = "\n".join(
        f"| {p.name} | {', '.join(f'`{k}`' for k in p.keys)} | {p.expected} |" for p in w.plants
    )
    seg_rows = "\n".join(
        f"| `{name}` | {len(pids)} | {', '.join(f'`{x}`' for x in pids)} |"
        for name, pids in members.items()
    )
    edge_rows = "\n".join(
        f"| `{pid}` | {text} | "
        f"{', '.join(f'`{s}`' for s, pids in members.items() if pid in pids) or '—'} | "
        f"{keys_of(pid)} |"
        for pid, text in notes.items()
    )
    kinds = ", ".join(f"{k}: {n}" for k, n in stats["records_by_kind"].items())
    web_types = ", ".join(f"{k}: {n}" for k, n in stats["web_types"].items())
    email_events = ", ".join(f"{k}: {n}" for k, n in stats["email_events"].items())
    return f"""\
# idgraph fixtures

Sample multi-source customer data with ground truth, for tests, demos and quality measurement.
**Generated** by `bench/make_fixtures.py` (seed {seed}); do not edit by hand. Regenerate with

```sh
.venv/bin/python bench/make_fixtures.py
```

The output is deterministic. The generator does not import idgraph: before it writes anything
here it reads its own files back, resolves them with its own small implementation of the link
rules, and fails if that does not reproduce `truth.csv` exactly (see "Resolvability" below).

About {stats["people"]} people (Italian, German, French, British, Spanish) with
{stats["records"]} records between them; dates from 2025-01 to 2026-10, timestamps ISO 8601 UTC
with `Z`. A fictional fashion and home retailer ("Ortensia", {site}).

## Files

- `crm.csv` + `crm.mapping.yaml`: CRM export, {stats["crm_rows"]} rows, one per customer
  account (`customer_number`). Names with accents, `dob` as DD/MM/YYYY, country spelt many ways
  (`Italy`, `IT`, `Italia`, `Deutschland`, `United Kingdom`, `España`, ...), phones in national
  and international formats (default region IT), traits `lifetime_value` (number),
  `loyalty_tier` (string), `marketing_opt_in` (yes/no, boolean).
- `pos.csv` + `pos.mapping.yaml`: point of sale, {stats["pos_rows"]} receipts on
  {stats["pos_cards"]} loyalty cards. `card_number` is the record id, so a card's receipts fold
  into one record; each receipt is an `Order Completed` event (`total`, `store`, `currency`).
  Contacts typed at the till: an email, a phone, both, junk (`test@test.com`, `0000000000`,
  `n/a`) or the store's own email.
- `web.jsonl`: Segment-spec web and app tracking, {stats["web_lines"]} calls ({web_types}).
  `page` before login carries only `anonymousId`; `identify` carries `userId` (`u-1xxx`),
  `anonymousId` and `traits` (email, firstName, lastName, sometimes phone); `track` events
  `Product Viewed`, `Product Added`, `Checkout Started`, `Order Completed` (`order_id`, `total`,
  `currency`); one `alias` (`previousId` -> `userId`). App calls carry `context.device.id`.
  Source name `web`.
- `email.jsonl`: the email platform, {stats["email_lines"]} calls ({email_events}). `identify`
  with the web `userId` for known users, or an `esp-...` subscriber id with `traits.email` for
  newsletter-only subscribers; `track` events carry `properties.campaign`
  (`spring_newsletter_2026`, `summer_sale_2026`, `autumn_reactivation_2026`), and
  `coupon_code` on `Coupon Applied`. Source name `email`.
- `truth.csv`: `record_key,person_id` for every record idgraph creates ({kinds}), sorted by key.
- `segments/*.yaml`: segment definitions (below). Three more are hand-written, not generated,
  and not in `segment_truth.csv`: `big_spenders_365d`, `early_april_spring_openers` and
  `top_tier_big_spenders` (tests/segment/test_fixture_oracle.py checks all of them).
- `personas/*.yaml`: two hand-written personas for `idgraph persona show`.
- `segment_truth.csv`: `segment,person_id`, the expected members of each segment as of
  2026-11-01.

Record keys: CSV rows `crm:<customer_number>`, `pos:<card_number>`; streams
`<source>:user:<userId>` and `<source>:anon:<anonymousId>`. An anonymous record exists for every
anonymousId seen in a call **without** a userId (an anonymousId that only ever comes with a
userId is an identifier of that user's record, not a record). An `alias` makes user records for
both `previousId` and `userId`. `context.device.id` is a `device_id` identifier of the record the
call lands on.

## Link rules the truth follows

- Records sharing a non-junk email, phone (E.164, default region IT), user id, anonymous id,
  device id or customer id are one person; an `alias` joins its two user ids.
- Guards, applied to the identifier as a whole: an identifier held by records with two different
  user ids, or two different dates of birth, links none of them; an email or phone held by more
  than a few distinct people (here: ten) links none of them.
- Fuzzy: Jaro-Winkler on first + last name (accents dropped, nicknames canonicalised: Bob ->
  Robert, Beppe -> Giuseppe) links two records only when a second field agrees exactly: date of
  birth, postcode or email local part. Different dates of birth never merge.

### Resolvability

`truth.csv` is exactly the connected components of those rules under every combination of:
name score on the full name or the mean of first/last; Jaro-Winkler threshold 0.80 or 0.94;
email local parts as written or without
`+tags` and dots; the crowd guard at more than 3 or more than 6 distinct
names. Same-person fuzzy pairs score at least {diag["fuzzy_same_person_min"]:.3f}; the closest
different-person pair that shares a second field scores {cross[0]:.3f} (`{cross[1]}` /
`{cross[2]}`). At most {diag["max_records_per_linking_email_or_phone"]} records share a linking
email or phone; the store email is on 10 records. Every person has at most one date of birth and
one user id, except the alias case ({", ".join(diag["people_with_two_user_ids"])}), whose two
user ids are joined by the `alias` call.

## Planted cases

| case | record keys | expected |
| --- | --- | --- |
{plant_rows}

## Segments (as of 2026-11-01)

Evaluate with `--as-of 2026-11-01`. `age` is completed years at that date; `within_days: N` means
at or after as-of minus N days. Members are robust to how `lifetime_value` survives when a person
has two CRM rows (newest, max or sum give the same members).

| segment | members | person ids |
| --- | --- | --- |
{seg_rows}

Near-misses and edge cases placed on purpose:

| person | situation | member of | records |
| --- | --- | --- | --- |
{edge_rows}
"""
