"""Evidence: identifier guards, blocking that is never quadratic, and fuzzy rules."""

from __future__ import annotations

from idgraph.block.keys import candidate_pairs
from idgraph.match.config import load_match_config
from idgraph.match.decide import collect_evidence, identifier_verdicts
from idgraph.match.view import match_fields
from idgraph.models import Link, Record

CONFIG = load_match_config()


def _record(key: str, **fields: str) -> Record:
    return Record(key, "t", key, "row", 0, fields=dict(fields))


def test_identifier_shared_by_too_many_records_does_not_link() -> None:
    records = [_record(f"r{i}") for i in range(12)]
    for r in records:
        r.identifiers.add(("email", "shop@store.it"))
    verdict = identifier_verdicts(records, [], CONFIG)["email:shop@store.it"]
    assert not verdict.linking
    assert "shared by 12 records" in verdict.reason


def test_identifier_joining_two_logins_does_not_link_unless_aliased() -> None:
    records = [_record("a"), _record("b"), _record("tab")]
    records[0].identifiers |= {("user_id", "u1"), ("anonymous_id", "t")}
    records[1].identifiers |= {("user_id", "u2"), ("anonymous_id", "t")}
    records[2].identifiers |= {("anonymous_id", "t")}
    verdict = identifier_verdicts(records, [], CONFIG)["anonymous_id:t"]
    assert not verdict.linking and "2 distinct user_id" in verdict.reason
    aliased = identifier_verdicts(records, [Link("a", "b", "alias")], CONFIG)["anonymous_id:t"]
    assert aliased.linking


def test_identifier_joining_different_birth_dates_does_not_link() -> None:
    records = [_record("a", birth_date="1980-01-01"), _record("b", birth_date="1981-01-01")]
    for r in records:
        r.identifiers.add(("email", "family@home.it"))
    verdict = identifier_verdicts(records, [], CONFIG)["email:family@home.it"]
    assert not verdict.linking and "birth_date" in verdict.reason


def test_name_alone_never_links() -> None:
    records = [
        _record("a", first_name="Maria", last_name="Rossi"),
        _record("b", first_name="Maria", last_name="Rossi"),
    ]
    evidence = collect_evidence(records, [match_fields(r) for r in records], [], CONFIG)
    assert evidence.edges == []


def test_name_plus_birth_date_links_through_nickname() -> None:
    records = [
        _record("a", first_name="Robert", last_name="Smith", birth_date="1970-07-07"),
        _record("b", first_name="Bob", last_name="Smith", birth_date="1970-07-07"),
        _record("c", first_name="Bob", last_name="Smith", birth_date="1971-07-07"),
    ]
    evidence = collect_evidence(records, [match_fields(r) for r in records], [], CONFIG)
    assert [(e.a, e.b, e.rule) for e in evidence.edges] == [("a", "b", "name_and_birth_date")]


def test_blocking_skips_oversized_blocks_and_counts_them() -> None:
    rule = CONFIG.fuzzy[0]
    views = [{"last_name": "rossi", "birth_date": "1980-01-01"}] * 5 + [
        {"last_name": "verdi", "birth_date": "1980-01-01"}
    ] * 2
    pairs, stats = candidate_pairs(views, rule, max_block_size=4)
    assert pairs == [(5, 6)]
    assert stats.oversized_blocks == 1 and stats.oversized_records == 5
