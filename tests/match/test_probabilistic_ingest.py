"""`probabilistic:` in the match config: the link engine's evidence inside `idgraph ingest`."""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
import pytest
import yaml

from idgraph.link import shipped_link_config, train_model
from idgraph.match.config import MatchConfig, load_match_config
from idgraph.match.probabilistic import PROBABILISTIC_RULE, records_frame, score_stored_pair
from idgraph.normalize.record import NormalizeOptions
from idgraph.pipeline import IngestReport, run_ingest
from idgraph.query import IdentityGraph
from idgraph.settings import open_store
from idgraph.state.rebuild import open_mirror
from idgraph.state.snapshot import take_snapshot
from tests.conftest import FIXTURE_INPUTS, ROOT, load_truth

DEFAULT = yaml.safe_load((ROOT / "idgraph" / "match" / "default.yaml").read_text("utf-8"))


def _config(tmp_path: Path, **changes: object) -> Path:
    data = {**DEFAULT, **changes}
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "match.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _ingest(tmp_path: Path, config: Path) -> Path:
    store = tmp_path / "idgraph.db"
    run_ingest(
        FIXTURE_INPUTS,
        store=store,
        match_config=config,
        options=NormalizeOptions(default_region="IT"),
        rejects_path=tmp_path / "rejects.jsonl",
    )
    return store


def _pairs(groups: dict[str, str]) -> set[tuple[str, str]]:
    by: dict[str, list[str]] = {}
    for record, group in groups.items():
        by.setdefault(group, []).append(record)
    return {p for members in by.values() for p in itertools.combinations(sorted(members), 2)}


def test_probabilistic_evidence_alone_resolves_the_fixtures_exactly(tmp_path: Path) -> None:
    store = _ingest(tmp_path, _config(tmp_path, fuzzy=[], probabilistic={}))
    with IdentityGraph(store) as graph:
        clusters = dict(graph.clusters())
    assert _pairs(clusters) == _pairs(load_truth())
    with open_store(store, read_only=True) as graph:
        rows = graph.query(
            "prob",
            "MATCH ()-[m:MATCHED]->() WHERE m.rule = $r RETURN m.fields AS f, m.score AS p",
            {"r": PROBABILISTIC_RULE},
        )
    assert rows
    for row in rows:  # the stored waterfall adds up to the link's probability
        steps = dict(item.rsplit(":", 1) for item in row["f"].split(","))
        assert "prior" in steps and float(steps["prior"]) < 0
        assert all("=" in name for name in steps if name != "prior")  # name=level
        weight = sum(float(w) for w in steps.values())
        assert 1 / (1 + 2 ** (-weight)) == pytest.approx(row["p"], abs=1e-3)


def _frame(store: Path, config: MatchConfig) -> pd.DataFrame:
    """The stored records as the probabilistic engine scores them (verdicts as stored)."""
    with open_store(store, read_only=True) as graph:
        snapshot = take_snapshot(open_mirror(graph, config))
    return records_frame(snapshot.records, snapshot.verdicts)


def _emails(store: Path, config: MatchConfig) -> list[tuple[str, str]]:
    with open_store(store, read_only=True) as graph:
        records = take_snapshot(open_mirror(graph, config)).records
    return list(records.select("key", "email").iter_rows())


def test_a_saved_model_is_used_instead_of_training(tmp_path: Path) -> None:
    first = _ingest(tmp_path / "a", _config(tmp_path / "a", fuzzy=[], probabilistic={}))
    config = load_match_config(_config(tmp_path / "a", fuzzy=[], probabilistic={}))
    frame = _frame(first, config)
    model = train_model(frame, shipped_link_config("customers"), seed=0)
    model.save(tmp_path / "model.json")
    spec = {"model": str(tmp_path / "model.json"), "min_records": 100000}
    store = _ingest(tmp_path / "b", _config(tmp_path / "b", fuzzy=[], probabilistic=spec))
    with IdentityGraph(store) as graph:
        assert _pairs(dict(graph.clusters())) == _pairs(load_truth())


def test_too_few_records_and_no_model_means_no_probabilistic_links(tmp_path: Path) -> None:
    spec = {"min_records": 100000}
    store = _ingest(tmp_path, _config(tmp_path, fuzzy=[], probabilistic=spec))
    with open_store(store, read_only=True) as graph:
        rules = graph.query("rules", "MATCH ()-[m:MATCHED]->() RETURN DISTINCT m.rule AS rule")
    assert PROBABILISTIC_RULE not in {r["rule"] for r in rules}


def test_guarded_identifiers_are_blanked_before_scoring(tmp_path: Path) -> None:
    store = _ingest(tmp_path, _config(tmp_path))
    config = load_match_config(_config(tmp_path))
    frame = _frame(store, config)
    shop = [
        key for key, email in _emails(store, config) if email == "cassa.milano@ortensia-store.com"
    ]
    assert len(shop) > 2
    blanked = frame.set_index("key").loc[shop, "email_local"]
    assert set(blanked) == {""}
    kept = frame[frame["email_local"] != ""]
    assert len(kept) > 100 and not kept["email_local"].str.contains(r"\.|@").any()


@pytest.mark.parametrize("bad", [{"threshold": 1.5}, {"min_records": 1}, {"confg": "x"}])
def test_bad_probabilistic_settings_are_config_errors(
    tmp_path: Path, bad: dict[str, object]
) -> None:
    from idgraph.errors import ConfigError

    with pytest.raises(ConfigError, match="probabilistic"):
        load_match_config(_config(tmp_path, probabilistic=bad))


def test_scoring_a_stored_pair_says_why_or_why_not(
    fixture_store: tuple[Path, IngestReport],
) -> None:
    store, _ = fixture_store
    truth = load_truth()
    config = load_match_config()
    with open_store(store, read_only=True) as graph:
        spouses = score_stored_pair(graph, "crm:C1026", "crm:C1028", match_config=config)
        same = score_stored_pair(graph, "crm:C1097", "pos:LC415712", match_config=config)
    assert truth["crm:C1026"] != truth["crm:C1028"] and spouses.conflict  # two birth dates
    assert truth["crm:C1097"] == truth["pos:LC415712"]
    assert same.probability > 0.95 and not same.conflict
    for pair in (spouses, same):
        assert pair.weight == pytest.approx(pair.prior_weight + sum(s.weight for s in pair.steps))
    birth = next(s for s in spouses.steps if s.comparison == "birth_date")
    assert birth.level == "else" and birth.weight < 0


def test_cli_explain_score(fixture_store: tuple[Path, IngestReport]) -> None:
    from typer.testing import CliRunner

    from idgraph.cli import app

    store, _ = fixture_store
    result = CliRunner().invoke(
        app, ["explain", "crm:C1026", "crm:C1028", "--store", str(store), "--score"]
    )
    assert result.exit_code == 1  # different customers
    assert "birth_date" in result.stdout and "a guard refuses the pair" in result.output
