"""The engine from the command line: train, show, blocking report and link on a CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from idgraph.cli import app
from tests.link.synth import people


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("link_cli") / "people.csv"
    people(600, seed=3).to_csv(path, index=False)
    return path


def test_train_show_and_link(table: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    model = tmp_path / "model.json"
    trained = runner.invoke(app, ["model", "train", str(table), "-o", str(model)])
    assert trained.exit_code == 0, trained.output
    shown = runner.invoke(app, ["model", "show", str(model), "-f", "json"])
    rows = orjson.loads(shown.stdout)
    assert rows[0]["comparison"] == "(prior)"
    exact = next(r for r in rows if r["comparison"] == "dob" and r["level"] == "exact")
    assert exact["m"] > exact["u"] and exact["weight"] > 0
    out = tmp_path / "clusters.csv"
    linked = runner.invoke(
        app, ["model", "link", str(table), "--model", str(model), "-o", str(out)]
    )
    assert linked.exit_code == 0, linked.output
    with out.open(newline="") as handle:
        clusters = {r["record_id"]: r["cluster_id"] for r in csv.DictReader(handle)}
    with table.open(newline="") as handle:
        truth = {r["record_id"]: r["person_id"] for r in csv.DictReader(handle)}
    assert clusters.keys() == truth.keys()
    same_person = [(a, b) for a in truth for b in truth if a < b and truth[a] == truth[b]]
    together = sum(clusters[a] == clusters[b] for a, b in same_person)
    assert together / len(same_person) > 0.9


def test_blocking_report_with_truth(table: Path) -> None:
    result = CliRunner().invoke(
        app, ["blocking", "report", str(table), "--truth", "person_id", "-f", "csv"]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows[-1]["rule"] == "(union)"
    assert rows[0]["rule"].startswith("[") and int(rows[-1]["pairs"]) > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["model", "show", "missing.json"], "cannot read link model"),
        (["blocking", "report", "missing.csv"], "missing.csv"),
        (["model", "train", "missing.csv", "-o", "m.json", "--config", "nope"], ""),
    ],
)
def test_bad_arguments_give_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output and message in result.output


def test_blocking_report_reads_truth_from_a_file(table: Path, tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.read_csv(table, dtype=str, keep_default_na=False)
    truth = tmp_path / "truth.csv"
    frame[["record_id", "person_id"]].to_csv(truth, index=False)
    stripped = tmp_path / "records.csv"
    frame.drop(columns=["person_id"]).to_csv(stripped, index=False)
    runner = CliRunner()
    by_file = runner.invoke(app, ["blocking", "report", str(stripped), "--truth", str(truth)])
    by_column = runner.invoke(app, ["blocking", "report", str(table), "--truth", "person_id"])
    assert by_file.exit_code == 0, by_file.output
    assert "pair recall" in by_file.stdout
    assert by_file.stdout.splitlines()[0] == by_column.stdout.splitlines()[0]
