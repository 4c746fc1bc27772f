"""The committed fixtures are what `bench/make_fixtures.py` writes from its seed, byte for byte:
a hand edit, or a generator change whose files were not regenerated, shows here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The generator runs as a script beside its own modules (it imports nothing from idgraph).
    sys.path.insert(0, str(BENCH))
    try:
        import make_fixtures
    finally:
        sys.path.remove(str(BENCH))
    out = tmp_path_factory.mktemp("fixtures")
    world, _ = make_fixtures.build()
    make_fixtures.write_outputs(world, out)
    return out


def test_every_generated_file_is_the_committed_one(generated: Path) -> None:
    written = sorted(p.relative_to(generated) for p in generated.rglob("*") if p.is_file())
    assert Path("crm.csv") in written and Path("truth.csv") in written
    committed = BENCH.parent / "fixtures"
    differ = [
        str(name)
        for name in written
        if (committed / name).read_bytes() != (generated / name).read_bytes()
    ]
    assert differ == []
