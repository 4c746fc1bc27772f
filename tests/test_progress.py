"""The progress callback on real ingests of the fixtures into the embedded store."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from idgraph.normalize.record import NormalizeOptions
from idgraph.pipeline import IngestReport, run_ingest
from idgraph.stages import STAGE_UNITS, split_key
from tests.conftest import FIXTURE_INPUTS

Calls = dict[str, list[tuple[int, int]]]


def _ingest(store: Path, tmp_path: Path, paths: list[Path]) -> tuple[IngestReport, Calls]:
    calls: Calls = defaultdict(list)

    def progress(key: str, done: int, total: int) -> None:
        calls[key].append((done, total))

    report = run_ingest(
        paths,
        store=store,
        options=NormalizeOptions(default_region="IT"),
        rejects_path=tmp_path / "rejects.jsonl",
        progress=progress,
    )
    return report, calls


def _check_shape(calls: Calls) -> None:
    for key, seen in calls.items():
        done = [d for d, _ in seen]
        assert done == sorted(done), f"{key}: counts go back: {seen}"
        assert all(0 <= d <= t or (d, t) == (0, 0) for d, t in seen), f"{key}: {seen}"
        assert seen[-1][0] == seen[-1][1], f"{key} ends at {seen[-1]}"
        assert split_key(key)[0] in STAGE_UNITS, key


def test_first_load_counts(tmp_path: Path) -> None:
    report, calls = _ingest(tmp_path / "db", tmp_path, FIXTURE_INPUTS)
    _check_shape(calls)
    final = {key: seen[-1][1] for key, seen in calls.items()}
    stages = [key for key in calls if split_key(key)[1] is None]
    assert stages == ["read", "fold", "state", "scope", "resolve", "mirror", "write", "segments"]

    sizes = {str(p): p.stat().st_size for p in FIXTURE_INPUTS}
    assert final["read"] == sum(sizes.values())
    for path, size in sizes.items():
        assert final[f"read: {path}"] == size
    # Reported a chunk at a time, so one call per file plus the start and the end.
    assert len(calls["read"]) <= 3 * len(sizes) + 1
    assert final["read: rows normalized"] >= report.ingested
    assert final["fold: lines ingested"] == report.ingested
    assert final["fold"] == report.records_total
    assert final["resolve: records"] == report.records_resolved
    assert final["resolve: candidate pairs"] == report.pairs_compared
    assert final["resolve: customers"] == report.customers
    assert final["resolve"] == report.customers_touched
    assert final["resolve: traits"] == report.customers_touched

    tables = {key: total for key, total in final.items() if key.startswith("write: ")}
    rows = tables.pop("write: rows")
    assert final["write"] == rows == sum(tables.values())
    assert tables["write: Record"] == report.records_new
    assert tables["write: Customer"] == report.customers
    assert tables["write: Event"] == report.events_new == tables["write: PERFORMED"]

    timings = {t.stage: t for t in report.timings}
    assert timings["read"].count == report.read
    assert timings["read"].unit == "lines"
    assert timings["fold"].count == report.records_total
    assert (timings["resolve"].count, timings["resolve"].unit) == (report.customers, "customers")
    assert (timings["write"].count, timings["write"].unit) == (rows, "rows")


def test_incremental_run_counts(tmp_path: Path) -> None:
    store = tmp_path / "db"
    _ingest(store, tmp_path, FIXTURE_INPUTS[:2])
    report, calls = _ingest(store, tmp_path, FIXTURE_INPUTS[2:])
    assert report.mode == "incremental"
    _check_shape(calls)
    final = {key: seen[-1][1] for key, seen in calls.items()}
    assert final["state"] > 0, "the records already stored"
    assert final["scope"] < report.records_total
    assert final["resolve: candidate pairs"] == report.pairs_compared
    assert final["write: rows"] == final["write"]


def test_no_callback_changes_nothing(tmp_path: Path) -> None:
    quiet = run_ingest(
        FIXTURE_INPUTS[:1],
        store=tmp_path / "db",
        options=NormalizeOptions(default_region="IT"),
        rejects_path=tmp_path / "rejects.jsonl",
    )
    assert quiet.records_total > 0
    assert all(t.count is not None for t in quiet.timings if t.stage != "mirror")
