"""Oversized components are split by dropping their weakest links, with the reason kept."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from idgraph.cluster.components import Constraints, cluster
from idgraph.cluster.split import split_oversized
from idgraph.match.config import load_match_config
from idgraph.match.edges import EDGE_COLUMNS, FUZZY, LINK
from idgraph.pipeline import run_ingest
from idgraph.query import IdentityGraph

CONFIG = load_match_config().model_copy(update={"limits": {}, "strong_attributes": []})
KEYS = [f"r{i:03d}" for i in range(20)]


def _edges(rows: list[tuple[int, int, float, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "a": [a for a, *_ in rows],
            "b": [b for _, b, *_ in rows],
            "rule": ["alias" if k == LINK else "fuzzy" for *_, k in rows],
            "fields": ["x"] * len(rows),
            "score": [s for _, _, s, _ in rows],
            "class": [k for *_, k in rows],
        },
        schema=EDGE_COLUMNS,
    )


def test_two_groups_joined_by_one_weak_link_split_there() -> None:
    strong = [(i, i + 1, 0.99, FUZZY) for i in range(5)]
    strong += [(i, i + 1, 0.97, FUZZY) for i in range(6, 11)]
    weak = (5, 6, 0.80, FUZZY)
    edges = _edges([*strong, weak])
    result = cluster(12, edges, Constraints(), CONFIG)
    assert len(set(result.labels.tolist())) == 1
    (split,) = split_oversized(KEYS, edges, result, limit=6)
    assert split.parts == [6, 6] and split.dropped_at_or_below == 0.80
    assert len(set(result.labels.tolist())) == 2
    assert not result.accepted[len(strong)]
    assert [i for i, _ in result.blocked] == [len(strong)]
    assert "over flag_component_records 6" in result.blocked[0][1]


def test_explicit_links_are_never_dropped() -> None:
    edges = _edges([(i, i + 1, 1.0, LINK) for i in range(7)])
    result = cluster(8, edges, Constraints(), CONFIG)
    assert split_oversized(KEYS, edges, result, limit=4) == []
    assert len(set(result.labels.tolist())) == 1


def test_components_within_the_limit_are_untouched() -> None:
    edges = _edges([(0, 1, 0.9, FUZZY)])
    result = cluster(4, edges, Constraints(), CONFIG)
    before = result.labels.tolist()
    assert split_oversized(KEYS, edges, result, limit=2) == []
    assert result.labels.tolist() == before


def test_ingest_splits_a_chain_of_shared_contacts_and_flags_the_parts(tmp_path: Path) -> None:
    """Neighbours share an email or a phone in turn: one chain of 30 strangers, all called
    Maria (strangers with different first names would be kept apart as households)."""
    rows = ["id,first_name,last_name,email,phone"]
    for i in range(30):
        email = f"shared{i // 2}@posta.it"
        phone = f"+39 347 {1234567 + ((i + 1) // 2) * 7919}"
        rows.append(f"{i},Maria,Surname{i},{email},{phone}")
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
