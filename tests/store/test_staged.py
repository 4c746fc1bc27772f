"""Rows reach the embedded engine as Parquet files in the store's folder: the files go away,
a folder with a quote in its name works, and a process that ingests never imports pandas
(the engine's scan of a Python table does, 0.3 s). That every type is stored as written is
tests/store/test_ladybug_writes.py's, over both the bulk and the row-by-row path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from idgraph.store.ladybug import LadybugStore
from idgraph.store.staged import parquet_source, string_literal
from tests.conftest import FIXTURE_INPUTS, ROOT, ingest_fixtures


def test_the_file_is_removed_when_the_statement_fails(tmp_path: Path) -> None:
    frame = pl.DataFrame({"key": ["a"]})
    with pytest.raises(RuntimeError), parquet_source(frame, tmp_path, ".s.db.load-") as source:
        (staged,) = tmp_path.iterdir()
        assert source == string_literal(str(staged)) and staged.name.startswith(".s.db.load-")
        raise RuntimeError("the engine refused it")
    assert list(tmp_path.iterdir()) == []


def test_a_store_in_a_folder_named_with_a_quote_and_a_backslash(tmp_path: Path) -> None:
    folder = tmp_path / "it's a \\ folder"
    folder.mkdir()
    report = ingest_fixtures(folder / "idgraph.db", tmp_path)
    with LadybugStore(folder / "idgraph.db", read_only=True) as graph:
        (row,) = graph.query("n", "MATCH (r:Record) RETURN count(r) AS n")
    assert row["n"] == report.records_total > 0
    assert [p.name for p in folder.iterdir() if p.suffix == ".parquet"] == []


def test_an_ingest_process_never_imports_pandas(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from idgraph.cli import app\n"
        "try:\n"
        "    app(sys.argv[1:])\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        "print('pandas' in sys.modules)\n"
    )
    inputs = [str(p) for p in FIXTURE_INPUTS]
    store = str(tmp_path / "s.db")
    done = subprocess.run(
        [sys.executable, "-c", script, "ingest", *inputs, "--store", store,
         "--rejects", str(tmp_path / "r.jsonl"), "--default-region", "IT"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False", done.stdout[-500:]


def test_a_write_killed_midway_leaves_no_file_past_the_next_open(tmp_path: Path) -> None:
    """kill -9 skips the removal; the next process to open the store for writing removes
    what its store left, and only that (another store shares the folder)."""
    ingest_fixtures(tmp_path / "a.db", tmp_path)
    ingest_fixtures(tmp_path / "b.db", tmp_path)
    for name in (".a.db.load-x1.parquet", ".a.db.load-x2.parquet", ".b.db.load-y.parquet"):
        pl.DataFrame({"key": ["k"]}).write_parquet(tmp_path / name)
    with LadybugStore(tmp_path / "a.db", read_only=True):
        assert len(list(tmp_path.glob("*.parquet"))) == 3  # a reader never removes them
    with LadybugStore(tmp_path / "a.db"):
        pass
    assert [p.name for p in tmp_path.glob("*.parquet")] == [".b.db.load-y.parquet"]
