"""The Spark engine gives the local engine's customers, and fails without leaving anything."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from idgraph.cli import app
from idgraph.pipeline import IngestReport
from idgraph.settings import open_store
from idgraph.spark.errors import SparkJobError
from idgraph.spark.job import SparkReport, resolve_files
from idgraph.spark.load import load_output
from tests.conftest import FIXTURE_INPUTS

_MEMBERS = "MATCH (c:Customer)-[:HAS_RECORD]->(r:Record) RETURN c.id AS customer, r.key AS key"
_CUSTOMERS = (
    "MATCH (c:Customer) RETURN c.id AS id, c.first_name AS first_name, c.last_name AS last_name, "
    "c.email AS email, c.phone AS phone, c.birth_date AS birth_date, "
    "c.record_count AS record_count, c.sources AS sources, c.flagged AS flagged, "
    "c.rfm_score AS rfm_score ORDER BY id"
)


def _read(store: Path, statement: str) -> pl.DataFrame:
    with open_store(store, read_only=True) as graph:
        return pl.DataFrame(graph.query("test", statement))


def _partition(frame: pl.DataFrame) -> set[frozenset[str]]:
    groups = frame.group_by("customer").agg("key")["key"].to_list()
    return {frozenset(keys) for keys in groups}


def test_fixture_customers_are_the_local_engines(
    spark_fixture_run: tuple[Path, SparkReport], fixture_store: tuple[Path, IngestReport]
) -> None:
    folder, report = spark_fixture_run
    store, local = fixture_store
    members = _read(store, _MEMBERS)
    written = pl.read_parquet(folder / "records" / "*.parquet").select("customer", "key")
    assert written.height == members.height == local.records_total
    assert _partition(written) == _partition(members)
    # Not only the same groups: the same customer ids.
    assert set(written.iter_rows()) == set(members.iter_rows())
    assert report.customers == local.customers
    assert report.cluster_sizes == local.cluster_sizes
    assert report.pairs_compared == local.pairs_compared
    assert [(f["read"], f["ingested"], f["rejected"]) for f in report.files] == [
        (f.read, f.ingested, f.rejected) for f in local.files
    ]


def test_rejects_are_the_local_engines(tmp_path: Path) -> None:
    """Each file's task writes its rejects part; the run's file is the parts in input order,
    line for line what `idgraph ingest` writes (the task runs this very function)."""
    from idgraph.ingest.batch import check_inputs
    from idgraph.normalize.record import NormalizeOptions
    from idgraph.pipeline import run_ingest
    from idgraph.spark.job import _gather_rejects
    from idgraph.spark.read import _read_one

    crm = tmp_path / "crm.csv"
    text = FIXTURE_INPUTS[0].read_text("utf-8")
    crm.write_text(text + "x\x00y,1,2\n" + text.splitlines()[1] + ",extra,cells\n", "utf-8")
    (tmp_path / "crm.mapping.yaml").write_text(
        (FIXTURE_INPUTS[0].parent / "crm.mapping.yaml").read_text("utf-8"), "utf-8"
    )
    events = tmp_path / "web.jsonl"
    events.write_text(FIXTURE_INPUTS[2].read_text("utf-8") + "{not json\n", "utf-8")
    options = NormalizeOptions(default_region="IT")
    stage = tmp_path / "stage"
    plans = check_inputs([crm, events])
    counts = [_read_one((i, plan), options, stage) for i, plan in enumerate(plans)]
    assert _gather_rejects(stage, tmp_path / "spark-rejects.jsonl")
    local = run_ingest(
        [crm, events], store=tmp_path / "db", options=options, rejects_path=tmp_path / "r.jsonl"
    )
    written = (tmp_path / "spark-rejects.jsonl").read_text("utf-8").splitlines()
    assert written == (tmp_path / "r.jsonl").read_text("utf-8").splitlines()
    assert len(written) == sum(f.rejected for f in local.files) >= 3
    assert [(c["read"], c["ingested"], c["rejected"]) for c in counts] == [
        (f.read, f.ingested, f.rejected) for f in local.files
    ]


def test_load_makes_the_local_store(
    spark_fixture_run: tuple[Path, SparkReport],
    fixture_store: tuple[Path, IngestReport],
    tmp_path: Path,
) -> None:
    folder, _ = spark_fixture_run
    store, _ = fixture_store
    loaded = tmp_path / "loaded.db"
    result = CliRunner().invoke(app, ["load", str(folder), "--store", str(loaded)])
    assert result.exit_code == 0, result.output
    assert set(_read(loaded, _MEMBERS).iter_rows()) == set(_read(store, _MEMBERS).iter_rows())
    assert _read(loaded, _CUSTOMERS).equals(_read(store, _CUSTOMERS))
    # The same run loaded again changes nothing: every customer keeps its id.
    again = load_output(folder, store=loaded)
    assert (again.merged_ids, again.split_ids, again.moved_records) == (0, 0, 0)
    assert set(_read(loaded, _MEMBERS).iter_rows()) == set(_read(store, _MEMBERS).iter_rows())
    assert _read(loaded, _CUSTOMERS).equals(_read(store, _CUSTOMERS))


def test_manifest_names_every_table(spark_fixture_run: tuple[Path, SparkReport]) -> None:
    folder, _ = spark_fixture_run
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    for table in manifest["tables"]:
        assert list((folder / table).glob("*.parquet")), table


def test_no_java_is_a_clear_error_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    output = tmp_path / "out"
    with pytest.raises(SparkJobError, match=r"Spark needs Java 17 or later: JAVA_HOME=.*no-jdk"):
        resolve_files(FIXTURE_INPUTS, output)
    assert list(tmp_path.iterdir()) == []
    result = CliRunner().invoke(
        app, ["resolve", "--engine", "spark", *map(str, FIXTURE_INPUTS), "--output", str(output)]
    )
    assert result.exit_code == 2
    assert "Spark needs Java 17" in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_failed_job_leaves_no_output(spark: object, tmp_path: Path) -> None:
    """A task that fails (here: an input gone after it was checked) ends the run with the
    step that failed, and neither the output nor the work folder remains."""
    source = tmp_path / "in"
    source.mkdir()
    events = source / "web.jsonl"
    events.write_bytes(FIXTURE_INPUTS[2].read_bytes())
    output = tmp_path / "out"

    from idgraph.spark import read as spark_read

    real = spark_read._read_one

    def vanish(item: object, options: object, stage: Path) -> dict[str, object]:
        events.unlink(missing_ok=True)
        return real(item, options, stage)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(spark_read, "_read_one", vanish)
        with pytest.raises(SparkJobError, match="while reading the inputs"):
            resolve_files([events], output, spark=spark)  # type: ignore[arg-type]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_resolve_local_reresolves_the_store(tmp_path: Path) -> None:
    from tests.conftest import ingest_fixtures

    store = tmp_path / "db"
    report = ingest_fixtures(store, tmp_path, as_of="2026-11-01")
    before = set(_read(store, _MEMBERS).iter_rows())
    result = CliRunner().invoke(app, ["resolve", "--store", str(store), "--as-of", "2026-11-01"])
    assert result.exit_code == 0, result.output
    assert f"into {report.customers} customers" in result.output
    assert set(_read(store, _MEMBERS).iter_rows()) == before
