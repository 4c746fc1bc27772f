"""The benches' and tests' store copier: everything a store is made of, nothing an earlier
copy left behind."""

from __future__ import annotations

from pathlib import Path

from bench.store_copy import copy_store


def _store(folder: Path, *, log: bool) -> Path:
    store = folder / "idgraph.db"
    folder.mkdir(parents=True)
    store.write_bytes(b"pages")
    if log:
        Path(f"{store}.wal").write_bytes(b"commits not checkpointed")
    (folder / "idgraph.db.state").mkdir()
    (folder / "idgraph.db.state" / "records.parquet").write_bytes(b"mirror")
    return store


def test_a_copy_carries_the_file_its_log_and_its_mirror(tmp_path: Path) -> None:
    store = _store(tmp_path / "source", log=True)
    target = copy_store(store, tmp_path / "nested" / "copy" / "run.db")
    assert target.read_bytes() == b"pages"
    assert Path(f"{target}.wal").read_bytes() == b"commits not checkpointed"
    assert (Path(f"{target}.state") / "records.parquet").read_bytes() == b"mirror"


def test_a_copy_replaces_what_an_earlier_one_left(tmp_path: Path) -> None:
    target = tmp_path / "work" / "run.db"
    copy_store(_store(tmp_path / "first", log=True), target)
    Path(f"{target}.calls").mkdir()
    (Path(f"{target}.state") / "stale.parquet").write_bytes(b"old")
    copy_store(_store(tmp_path / "second", log=False), target)
    # A log left from the first copy would be replayed into the second store at its open.
    assert not Path(f"{target}.wal").exists()
    assert not Path(f"{target}.calls").exists()
    assert sorted(p.name for p in Path(f"{target}.state").iterdir()) == ["records.parquet"]


def test_a_flushed_copy_is_the_same_copy(tmp_path: Path) -> None:
    store = _store(tmp_path / "source", log=False)
    target = copy_store(store, tmp_path / "copy" / "idgraph.db", flush=True)
    assert target.read_bytes() == b"pages"
    assert not Path(f"{target}.wal").exists()
    assert (Path(f"{target}.state") / "records.parquet").exists()
