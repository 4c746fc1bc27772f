"""A store for the report's data functions: the fixtures, a file with bad lines, two saved
segments run twice (so they have a history and an overlap)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from idgraph.normalize.record import NormalizeOptions
from idgraph.pipeline import run_ingest
from idgraph.segment.definition import load_segment
from idgraph.segment.saved import run_saved_segment, save_segment
from idgraph.settings import open_store
from tests.conftest import FIXTURE_INPUTS, FIXTURES, as_of_ms

SEGMENTS = ("engaged_loyalty_members", "lapsed_high_spenders", "big_spenders_365d")
#: Lines of the bad file: three good identify calls and two lines that are not JSON (2, 4).
BAD_LINES = [
    '{"type": "identify", "messageId": "m-1", "userId": "u-900", '
    '"traits": {"email": "rita.neri@example.org"}, "timestamp": "2026-05-01T10:00:00Z"}',
    "this is not json",
    '{"type": "identify", "messageId": "m-2", "userId": "u-901", '
    '"traits": {"email": "piero.galli@example.org"}, "timestamp": "2026-05-01T10:00:00Z"}',
    '{"type": "identify", "messageId": ',
    '{"type": "identify", "messageId": "m-3", "userId": "u-902", '
    '"traits": {"email": "lia.conti@example.org"}, "timestamp": "2026-05-01T10:00:00Z"}',
]


def data_lines(path: Path) -> int:
    """Data lines of an input file, counted without idgraph: CSV rows, JSONL lines."""
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            return sum(1 for _ in csv.DictReader(handle))
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


@pytest.fixture(scope="package")
def report_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[Path]]:
    """(store, rejects file, inputs) after one full ingest and two runs of each segment."""
    folder = tmp_path_factory.mktemp("report_store")
    bad = folder / "bad.jsonl"
    bad.write_text("\n".join(BAD_LINES) + "\n", encoding="utf-8")
    store, rejects = folder / "idgraph.db", folder / "rejects.jsonl"
    inputs = [*FIXTURE_INPUTS, bad]
    run_ingest(
        inputs,
        store=store,
        options=NormalizeOptions(default_region="IT"),
        rejects_path=rejects,
        as_of_ms=as_of_ms(),
    )
    with open_store(store) as graph:
        for name in SEGMENTS:
            save_segment(graph, load_segment(FIXTURES / "segments" / f"{name}.yaml"))
        for day, now in (("2026-10-01", 1), ("2026-11-01", 2)):
            for name in SEGMENTS:
                run_saved_segment(graph, name, as_of_ms=as_of_ms(day), now_ms=as_of_ms(day) + now)
    return store, rejects, inputs
