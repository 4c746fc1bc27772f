"""The mirror kept in memory (`idgraph.state.cache`) reads what a cold read of its files reads.

Writes go through real Parquet files and manifests; a cold read is `DeltaTable.scan` of the
files a manifest names, which the cache must agree with after every write: its own, another
`Mirror`'s, another process's, a compaction's, a fold's.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from idgraph.match.config import load_match_config
from idgraph.query import IdentityGraph
from idgraph.settings import open_store
from idgraph.state import tables
from idgraph.state.cache import (
    keep_mirror_in_memory,
    live_rows,
    mirror_in_memory,
)
from idgraph.state.check import mirror_problems
from idgraph.state.index import KeyIndex
from idgraph.state.mirror import MIRROR_TABLES, Mirror, MirrorChanges, max_deltas, new_version
from idgraph.state.tables import DeltaTable, TableFiles
from tests.conftest import AS_OF, FIXTURE_INPUTS, ROOT
from tests.state.conftest import ingest_file, warmed_before_email

#: Tables the random writes below change; the others stay empty.
_TABLES = ("identifiers", "customers", "links")


def _cold(mirror: Mirror, name: str) -> pl.DataFrame:
    return MIRROR_TABLES[name].scan(mirror.root, mirror.files[name]).collect()


def _assert_same(kept: pl.DataFrame, cold: pl.DataFrame, name: str) -> None:
    assert kept.schema == cold.schema, name
    assert kept.height == cold.height, name
    order = kept.columns
    assert kept.sort(order, nulls_last=True).equals(cold.sort(order, nulls_last=True)), name


#: Columns looked up by key (`Mirror.where`) in the tables the random writes change.
_LOOKUPS = (
    ("identifiers", "record"),
    ("identifiers", "value"),
    ("customers", "id"),
    ("links", "b"),
)


def _assert_current(root: Path, rng: random.Random | None = None) -> Mirror:
    mirror = Mirror.open(root)
    assert mirror is not None
    for name in MIRROR_TABLES:
        cold = _cold(mirror, name)
        # Lazily (a filter over the kept rows), then whole.
        _assert_same(mirror.scan(name).collect(), cold, name)
        _assert_same(mirror.load(name), cold, name)
    for name, column in _LOOKUPS if rng is not None else ():
        cold = _cold(mirror, name)
        held = cold[column].unique().sort().to_list()
        # Keys held, keys never held, and keys whose rows a delta just replaced or deleted.
        keys = [*rng.sample(held, min(len(held), 12)), "nobody", "r299", "c7", "email-3"]
        wanted = pl.Series(keys, dtype=pl.Utf8)
        found = mirror.where(name, column, wanted)
        _assert_same(found, cold.filter(pl.col(column).is_in(wanted.implode())), name)
        # In the order of the whole table, as a filter of it would be.
        assert found.equals(mirror.load(name).filter(pl.col(column).is_in(wanted.implode())))
    return mirror


def _identifiers(rng: random.Random, records: list[str]) -> pl.DataFrame:
    rows = [
        (record, kind, f"{kind}-{rng.randrange(50)}")
        for record in records
        for kind in rng.sample(["email", "phone", "device"], rng.randint(1, 3))
    ]
    return pl.DataFrame(rows, schema=dict(MIRROR_TABLES["identifiers"].schema), orient="row")


def _customers(rng: random.Random, ids: list[str], extra: list[str]) -> pl.DataFrame:
    columns: dict[str, list[object]] = {"id": list(ids)}
    for name in extra:
        columns[name] = [rng.choice([None, rng.random()]) for _ in ids]
    return pl.DataFrame(columns, schema={"id": pl.Utf8, **{c: pl.Float64 for c in extra}})


def _links(rng: random.Random, n: int) -> pl.DataFrame:
    rows = [
        (f"r{rng.randrange(300)}", f"r{rng.randrange(300)}", rng.choice(["alias", "must_link"]))
        for _ in range(n)
    ]
    schema = dict(MIRROR_TABLES["links"].schema)
    return pl.DataFrame(
        {
            "a": [r[0] for r in rows],
            "b": [r[1] for r in rows],
            "rule": [r[2] for r in rows],
            **{c: [None] * n for c in schema if c not in ("a", "b", "rule")},
        },
        schema=schema,
    ).unique(subset=["a", "b", "rule"])


def _step(rng: random.Random, number: int, extra: list[str], big: bool = False) -> MirrorChanges:
    """Random upserts and deletes; a new customer column now and then."""
    if number % 7 == 3:
        extra.append(f"trait_{number}")
    # A big step passes the compaction's row rule (a quarter of the base, 25,000 rows at least).
    records = (
        [f"big{i}" for i in range(15_000)]
        if big
        else sorted({f"r{rng.randrange(300)}" for _ in range(rng.randint(1, 20))})
    )
    gone = [f"r{rng.randrange(300)}" for _ in range(rng.randint(0, 5))]
    ids = [f"c{rng.randrange(200)}" for _ in range(rng.randint(1, 15))]
    return MirrorChanges(
        upserts={
            "identifiers": _identifiers(rng, records),
            "customers": _customers(rng, sorted(set(ids)), extra),
            "links": _links(rng, rng.randint(0, 4)),
        },
        deletes={
            "identifiers": pl.DataFrame({"record": gone}, schema={"record": pl.Utf8}),
            "customers": pl.DataFrame(
                {"id": [f"c{rng.randrange(200)}" for _ in range(rng.randint(0, 3))]},
                schema={"id": pl.Utf8},
            ),
            "links": _links(rng, rng.randint(0, 2)).select("a", "b", "rule"),
        },
    )


def _start_changes(rng: random.Random) -> MirrorChanges:
    return MirrorChanges(
        full=True,
        upserts={
            "identifiers": _identifiers(rng, [f"r{i}" for i in range(300)]),
            "customers": _customers(rng, [f"c{i}" for i in range(200)], ["score"]),
            "links": _links(rng, 40),
        },
    )


def _start(root: Path, rng: random.Random) -> Mirror:
    mirror = Mirror(root).write(_start_changes(rng), new_version())
    mirror.publish()
    return mirror


def _expected(live: dict[str, pl.DataFrame], changes: MirrorChanges) -> None:
    """What the tables hold after `changes`, worked out without the mirror."""
    for name in _TABLES:
        group = list(MIRROR_TABLES[name].group)
        upserts = changes.upserts[name]
        if changes.full:
            live[name] = upserts
            continue
        touched = pl.concat([upserts.select(group), changes.deletes[name].select(group)])
        kept = live[name].join(touched.unique(), on=group, how="anti")
        live[name] = pl.concat([kept, upserts], how="diagonal_relaxed")


def _assert_holds(mirror: Mirror, live: dict[str, pl.DataFrame]) -> None:
    for name in _TABLES:
        read = mirror.load(name)
        assert set(read.columns) == set(live[name].columns), name
        _assert_same(read, live[name].select(read.columns), name)


def test_kept_tables_match_cold_reads_through_deltas_folds_and_compaction(
    tmp_path: Path, in_memory: None
) -> None:
    rng = random.Random(7)
    root = tmp_path / "state"
    live: dict[str, pl.DataFrame] = {}
    _expected(live, _start_changes(random.Random(7)))
    _start(root, rng)
    extra = ["score"]
    folded = compacted = False
    for number in range(45):
        mirror = _assert_current(root, random.Random(number))
        _assert_holds(mirror, live)
        base = mirror.files["identifiers"].base
        changes = _step(rng, number, extra, big=number == 40)
        _expected(live, changes)
        nxt = mirror.write(changes, new_version())
        nxt.publish()
        folded |= any("-fold" in d for d in nxt.files["identifiers"].deltas)
        compacted |= nxt.files["identifiers"].base != base
    mirror = _assert_current(root)
    _assert_holds(mirror, live)
    # Both ways of compacting ran, and neither rewrote what was read from memory.
    assert folded and compacted
    identifiers = MIRROR_TABLES["identifiers"]
    assert len(mirror.files["identifiers"].deltas) <= max_deltas(identifiers) + 1
    # Tables written together from the start are compacted in different runs.
    assert len({max_deltas(table) for table in MIRROR_TABLES.values()}) == len(MIRROR_TABLES)
    assert {"trait_3", "trait_10", "trait_38"} <= set(mirror.load("customers").columns)


def test_a_second_read_of_the_same_files_comes_from_memory(tmp_path: Path, in_memory: None) -> None:
    rng = random.Random(1)
    root = tmp_path / "state"
    mirror = _start(root, rng)
    table = MIRROR_TABLES["identifiers"]
    first = live_rows(root, table, mirror.files["identifiers"])
    assert live_rows(root, table, mirror.files["identifiers"]) is first
    nxt = mirror.write(_step(rng, 0, ["score"]), new_version())
    nxt.publish()
    moved = live_rows(root, table, nxt.files["identifiers"])
    assert moved is not first
    _assert_same(moved, _cold(nxt, "identifiers"), "identifiers")


_OTHER_WRITER = """
import random, sys
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from tests.state.test_cache import _step
from idgraph.state.mirror import Mirror, new_version
root, seed = Path(sys.argv[1]), int(sys.argv[2])
rng = random.Random(seed)
for number in range(3 if seed < 100 else 40):
    mirror = Mirror.open(root)
    big = seed >= 100 and number == 0
    mirror.write(_step(rng, number, ["score"], big=big), new_version()).publish()
"""


def _other_process(root: Path, seed: int) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _OTHER_WRITER, str(root), str(seed), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_writes_by_another_mirror_and_another_process_are_seen(
    tmp_path: Path, in_memory: None
) -> None:
    rng = random.Random(3)
    root = tmp_path / "state"
    _start(root, rng)
    _assert_current(root)
    # Another Mirror in this process, opened before the first one wrote.
    one, two = Mirror.open(root), Mirror.open(root)
    assert one is not None and two is not None
    one.write(_step(rng, 1, ["score"]), new_version()).publish()
    _assert_current(root)
    # Another process appends deltas (the kept frames take them), then compacts the base and
    # adds deltas after it (the kept frames are read again).
    _other_process(root, 5)
    _assert_current(root)
    _other_process(root, 105)
    mirror = _assert_current(root)
    assert mirror.files["identifiers"].base != two.files["identifiers"].base
    # A run here after all that.
    mirror.write(_step(rng, 2, ["score"]), new_version()).publish()
    _assert_current(root)


def test_a_file_replaced_under_the_same_name_is_read_again(tmp_path: Path, in_memory: None) -> None:
    rng = random.Random(4)
    root = tmp_path / "state"
    _start(root, rng)
    mirror = Mirror.open(root)
    assert mirror is not None
    mirror.write(_step(rng, 1, ["score"]), new_version()).publish()
    before = _assert_current(root)
    # A copy of the folder put back in place: same names, other files (a restored backup).
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    shutil.rmtree(root)
    copy.rename(root)
    (name,) = before.files["customers"].deltas
    rows = pl.read_parquet(root / name)
    rows.filter(pl.col("id") != rows["id"][0]).write_parquet(root / name)
    after = Mirror.open(root)
    assert after is not None
    assert after.load("customers").height == _cold(after, "customers").height
    _assert_current(root)


def _cli_ingest(store: Path, path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "idgraph",
            "ingest",
            str(path),
            "--store",
            str(store),
            "--default-region",
            "IT",
            "--as-of",
            AS_OF,
            "--rejects",
            str(store.parent / "cli-rejects.jsonl"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def _sequence(store: Path) -> dict[str, str]:
    store.parent.mkdir(parents=True)
    crm, pos, web, email = FIXTURE_INPUTS
    ingest_file(store, crm)
    ingest_file(store, pos)
    _cli_ingest(store, web)  # another process writes the store and its mirror
    ingest_file(store, email)
    with open_store(store) as graph:
        assert mirror_problems(graph, load_match_config(None)) == []
    _assert_current(Path(f"{store}.state"))
    with IdentityGraph(store) as graph:
        return dict(graph.clusters())


def test_ingests_with_the_mirror_in_memory_resolve_as_without(tmp_path: Path) -> None:
    was = mirror_in_memory()
    try:
        keep_mirror_in_memory(True)
        kept = _sequence(tmp_path / "kept" / "idgraph.db")
        keep_mirror_in_memory(False)
        cold = _sequence(tmp_path / "cold" / "idgraph.db")
    finally:
        keep_mirror_in_memory(was)
    assert kept == cold


def test_a_warmed_mirror_serves_the_next_run_without_reading_or_indexing(
    tmp_path: Path, in_memory: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "idgraph.db"
    email = warmed_before_email(store)  # as a service starting on this store
    built: list[str] = []
    scanned: list[str] = []

    class CountedIndex(KeyIndex):
        def __init__(self, column: pl.Series) -> None:
            built.append(column.name)
            super().__init__(column)

    def counted_scan(self: DeltaTable, root: Path, files: TableFiles) -> pl.LazyFrame:
        scanned.append(self.name)
        return scan(self, root, files)

    scan = DeltaTable.scan
    monkeypatch.setattr(tables, "KeyIndex", CountedIndex)
    monkeypatch.setattr(DeltaTable, "scan", counted_scan)
    ingest_file(store, email)  # an incremental run
    assert (built, scanned) == ([], [])
