"""Lineage: what one re-resolution did to customer ids, compared record by record."""

from __future__ import annotations

from idgraph.cluster.lineage import lineage
from idgraph.models import BlockedLink, MatchEvidence


def _ev(a: str, b: str, rule: str = "same_email") -> MatchEvidence:
    return MatchEvidence(a, b, rule, ("email",), 1.0)


def test_records_pulled_into_a_surviving_customer_are_a_move_not_a_split() -> None:
    before = {"r1": "A", "r2": "A", "r3": "A", "r4": "B"}
    after = [("A", "r2"), ("A", "r3"), ("B", "r1"), ("B", "r4")]
    refused = BlockedLink(_ev("r1", "r2"), "r1 and r2 are kept apart")
    result = lineage(before, after, [_ev("r1", "r4", "must_link"), _ev("r2", "r3")], [refused])
    assert result.absorbed == [] and result.split_off == []
    (moved,) = result.moved
    assert (moved.origin, moved.target, moved.records) == ("A", "B", 1)
    assert "r1 ~ r2" in moved.reason and "kept apart" in moved.reason
    assert moved.evidence == "r1 ~ r4 by must_link (email, 1.00)"


def test_a_new_part_is_a_split_and_an_absorbed_id_a_merge_not_moves() -> None:
    before = {"r1": "A", "r2": "A", "r3": "B", "r4": "C"}
    after = [("A", "r2"), ("N", "r1"), ("A", "r3"), ("C", "r4")]
    result = lineage(before, after, [_ev("r2", "r3")], [], split_reason="by hand")
    assert [(s.new, s.origin, s.records, s.reason) for s in result.split_off] == [
        ("N", "A", 1, "by hand")
    ]
    assert [(a.old, a.survivor) for a in result.absorbed] == [("B", "A")]
    assert result.moved == []


def test_records_of_an_absorbed_id_that_went_to_a_third_customer_are_moved() -> None:
    before = {"r1": "B", "r2": "B", "r3": "A", "r4": "C"}
    after = [("A", "r1"), ("A", "r3"), ("C", "r2"), ("C", "r4")]
    result = lineage(before, after, [_ev("r1", "r3"), _ev("r2", "r4")], [])
    assert [(a.old, a.survivor, a.records) for a in result.absorbed] == [("B", "A", 1)]
    assert [(m.origin, m.target, m.records) for m in result.moved] == [("B", "C", 1)]
    assert result.moved[0].reason == "no evidence joins the parts any more"
    assert "r2 ~ r4" in result.moved[0].evidence
