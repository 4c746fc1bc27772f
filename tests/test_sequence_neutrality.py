"""The grouping of records does not depend on how the data arrives (issue 6, point 3).

The fixtures are cut into chunks (CSV chunks keep their header and mapping; JSONL chunks are
runs of lines), the chunks are ingested one by one in a random order, and the final partition
of records into customers must equal the one-batch ingest's.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idgraph.normalize.record import NormalizeOptions
from idgraph.pipeline import run_ingest
from idgraph.query import IdentityGraph
from tests.conftest import FIXTURE_INPUTS, ingest_fixtures


def _partition(store: Path) -> set[frozenset[str]]:
    with IdentityGraph(store) as graph:
        groups: dict[str, set[str]] = {}
        for record, customer in graph.clusters():
            groups.setdefault(customer, set()).add(record)
    return {frozenset(g) for g in groups.values()}


def _chunks(folder: Path, parts: int) -> list[Path]:
    chunks: list[Path] = []
    for source in FIXTURE_INPUTS:
        lines = source.read_text(encoding="utf-8").splitlines()
        header, body = (lines[0], lines[1:]) if source.suffix == ".csv" else ("", lines)
        size = max(1, -(-len(body) // parts))
        for n, start in enumerate(range(0, len(body), size)):
            # A stream's source name is its file name, so every chunk keeps the original name.
            where = folder / f"{source.stem}_{n}"
            where.mkdir()
            target = where / source.name
            text = "\n".join(([header] if header else []) + body[start : start + size]) + "\n"
            target.write_text(text, encoding="utf-8")
            mapping = source.with_name(f"{source.stem}.mapping.yaml")
            if mapping.exists():
                shutil.copy(mapping, where / mapping.name)
            chunks.append(target)
    return chunks


_ONE_BATCH: dict[str, set[frozenset[str]]] = {}


def _expected(tmp_path_factory: object) -> set[frozenset[str]]:
    if "p" not in _ONE_BATCH:
        import tempfile

        folder = Path(tempfile.mkdtemp())
        ingest_fixtures(folder / "idgraph.db", folder, as_of="2026-11-01")
        _ONE_BATCH["p"] = _partition(folder / "idgraph.db")
    return _ONE_BATCH["p"]


@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(parts=st.integers(min_value=2, max_value=3), seed=st.randoms(use_true_random=False))
def test_any_split_and_order_gives_the_one_batch_partition(
    tmp_path_factory: object, parts: int, seed: object
) -> None:
    import tempfile

    folder = Path(tempfile.mkdtemp())
    chunks = _chunks(folder, parts)
    seed.shuffle(chunks)  # type: ignore[attr-defined]
    store = folder / "idgraph.db"
    for chunk in chunks:
        run_ingest(
            [chunk],
            store=store,
            options=NormalizeOptions(default_region="IT"),
            rejects_path=folder / "rejects.jsonl",
            as_of_ms=1_793_491_200_000,
        )
    assert _partition(store) == _expected(tmp_path_factory)
