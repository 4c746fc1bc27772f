"""Oversized components are split by dropping their weakest links, with the reason kept."""

from __future__ import annotations

from pathlib import Path

from idgraph.cluster.components import cluster
from idgraph.cluster.split import split_oversized
from idgraph.match.config import load_match_config
from idgraph.models import Link, MatchEvidence, Record
from idgraph.pipeline import run_ingest
from idgraph.query import IdentityGraph

CONFIG = load_match_config().model_copy(update={"limits": {}, "strong_attributes": []})


def _records(n: int) -> list[Record]:
    return [Record(f"r{i:03d}", "t", str(i), "row", 0) for i in range(n)]


def test_two_groups_joined_by_one_weak_link_split_there() -> None:
    records = _records(12)
    strong = [MatchEvidence(f"r{i:03d}", f"r{i + 1:03d}", "fuzzy", ("x",), 0.99) for i in range(5)]
    strong += [
        MatchEvidence(f"r{i:03d}", f"r{i + 1:03d}", "fuzzy", ("x",), 0.97) for i in range(6, 11)
    ]
    weak = MatchEvidence("r005", "r006", "fuzzy", ("x",), 0.80)
    result = cluster(records, [*strong, weak], [], CONFIG)
    assert len(set(result.labels)) == 1
    (split,) = split_oversized(records, result, limit=6)
    assert split.parts == [6, 6] and split.dropped_at_or_below == 0.80
    assert len(set(result.labels)) == 2
    assert weak not in result.accepted
    assert [b.evidence for b in result.blocked] == [weak]
    assert "over flag_component_records 6" in result.blocked[0].reason


def test_explicit_links_are_never_dropped() -> None:
    records = _records(8)
    links = [Link(f"r{i:03d}", f"r{i + 1:03d}", "alias") for i in range(7)]
    edges = [MatchEvidence(lk.a, lk.b, "alias", ("id",), 1.0) for lk in links]
    result = cluster(records, edges, links, CONFIG)
    assert split_oversized(records, result, limit=4) == []
    assert len(set(result.labels)) == 1


def test_components_within_the_limit_are_untouched() -> None:
    records = _records(4)
    edges = [MatchEvidence("r000", "r001", "fuzzy", ("x",), 0.9)]
    result = cluster(records, edges, [], CONFIG)
    before = list(result.labels)
    assert split_oversized(records, result, limit=2) == []
    assert result.labels == before


def test_ingest_splits_a_chain_of_shared_contacts_and_flags_the_parts(tmp_path: Path) -> None:
    """Neighbours share an email or a phone in turn: one chain of 30 strangers."""
    rows = ["id,first_name,last_name,email,phone"]
    for i in range(30):
        email = f"shared{i // 2}@posta.it"
        phone = f"+39 347 {1234567 + ((i + 1) // 2) * 7919}"
        rows.append(f"{i},Name{i},Surname{i},{email},{phone}")
    table = tmp_path / "crm.csv"
    table.write_text("\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "crm.mapping.yaml").write_text(
        "source: crm\nid: id\ncolumns: {first_name: first_name, last_name: last_name, "
        "email: email, phone: phone}\ndefault_region: IT\n",
        encoding="utf-8",
    )
    config = tmp_path / "match.yaml"
    config.write_text(
        (Path(__file__).resolve().parents[2] / "idgraph/match/default.yaml")
        .read_text(encoding="utf-8")
        .replace("flag_component_records: 50", "flag_component_records: 10"),
        encoding="utf-8",
    )
    store = tmp_path / "idgraph.db"
    report = run_ingest([table], store=store, match_config=config, rejects_path=tmp_path / "r")
    assert report.rejected == 0
    assert report.components_split == [
        {
            "records": 30,
            "parts": [1] * 30,
            "reason": "component of 30 records over flag_component_records 10: links scoring "
            "1.000 or less were dropped",
        }
    ]
    assert report.customers == 30 and report.flagged_customers == 30
    with IdentityGraph(store) as graph:
        (item, *_) = graph.review(limit=1)
    assert item.reasons[0].startswith("flagged: split: component of 30 records")


def test_splitting_can_be_switched_off(tmp_path: Path) -> None:
    config = load_match_config().model_copy(update={"split_oversized": False})
    assert config.split_oversized is False
