"""Shared fixtures: a real embedded store in tmp_path, and the sample data in fixtures/."""

from __future__ import annotations

import csv
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from idgraph.normalize.record import NormalizeOptions
from idgraph.pipeline import IngestReport, run_ingest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
FIXTURE_INPUTS = [
    FIXTURES / "crm.csv",
    FIXTURES / "pos.csv",
    FIXTURES / "web.jsonl",
    FIXTURES / "email.jsonl",
]
#: The moment segment time windows are evaluated at in tests (see fixtures/README.md).
AS_OF = "2026-11-01"


#: Room the suite needs in the temporary folder: one run's stores, copies and generated files,
#: with the setup test's fresh venv and its pyspark build, took up to 3.1 GiB (2026-12-07).
SUITE_DISK_BYTES = 4 * 1024**3


def pytest_sessionstart(session: pytest.Session) -> None:
    """Refuse to start on a nearly full disk, in one line.

    Otherwise every test that writes a store errors on its own (hundreds of them) and the
    cause is lost in the noise: a CI run once failed that way.
    """
    check_disk(Path(tempfile.gettempdir()))


def check_disk(where: Path) -> None:
    free = shutil.disk_usage(where).free
    if free < SUITE_DISK_BYTES:
        pytest.exit(
            f"only {free / 1024**3:.1f} GiB free in {where}; the tests need "
            f"{SUITE_DISK_BYTES / 1024**3:.0f} GiB there: free some space first",
            returncode=3,
        )


@pytest.fixture(autouse=True, scope="session")
def _state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Mirrors of Neo4j stores go to a temporary folder, never the user's cache."""
    folder = tmp_path_factory.mktemp("neo4j_state")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IDGRAPH_STATE_DIR", str(folder))
        yield


def load_truth() -> dict[str, str]:
    with (FIXTURES / "truth.csv").open(newline="", encoding="utf-8") as handle:
        return {row["record_key"]: row["person_id"] for row in csv.DictReader(handle)}


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "idgraph.db"


def as_of_ms(day: str = AS_OF) -> int:
    """Midnight UTC at the start of `day` (YYYY-MM-DD), in epoch milliseconds."""
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000)


def ingest_fixtures(store: Path, tmp_path: Path, *, as_of: str | None = None) -> IngestReport:
    return run_ingest(
        FIXTURE_INPUTS,
        store=store,
        options=NormalizeOptions(default_region="IT"),
        rejects_path=tmp_path / "rejects.jsonl",
        as_of_ms=as_of_ms(as_of) if as_of is not None else None,
    )


@pytest.fixture(scope="session")
def fixture_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, IngestReport]]:
    """The fixtures ingested once into a store that tests only read."""
    folder = tmp_path_factory.mktemp("fixture_store")
    store = folder / "idgraph.db"
    report = ingest_fixtures(store, folder, as_of=AS_OF)
    yield store, report


@pytest.fixture
def fixture_store_copy(fixture_store: tuple[Path, IngestReport], tmp_path: Path) -> Path:
    """A store of one's own holding what `ingest_fixtures(..., as_of=AS_OF)` leaves, for
    tests that write: a copy of `fixture_store` (its file, any log and its mirror), made in
    milliseconds where an ingest takes seconds."""
    from bench.store_copy import copy_store

    source, _ = fixture_store
    return copy_store(source, tmp_path / "fixtures" / source.name)
