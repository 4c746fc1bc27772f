"""The `idgraph` command's allocator settings reach Polars, and freeing memory is safe."""

from __future__ import annotations

import os
import subprocess
import sys

from idgraph.memory import ALLOCATOR_SETTINGS, WORTH_TRIMMING, give_back

NAME, DEFAULT = ALLOCATOR_SETTINGS


def _setting_seen_by_the_command(env: dict[str, str]) -> str:
    code = (
        "import os, sys\n"
        "import idgraph.cli\n"
        # jemalloc reads its settings once, when Polars loads: it must not have loaded yet.
        "loaded = 'polars' in sys.modules\n"
        f"print(loaded, os.environ.get({NAME!r}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_the_command_sets_the_allocator_before_polars_loads() -> None:
    env = {k: v for k, v in os.environ.items() if k != NAME}
    assert _setting_seen_by_the_command(env) == f"False {DEFAULT}"


def test_a_setting_the_user_exported_wins() -> None:
    env = {**os.environ, NAME: "dirty_decay_ms:0"}
    assert _setting_seen_by_the_command(env) == "False dirty_decay_ms:0"


def test_give_back_leaves_live_data_alone() -> None:
    data = [bytes(1000) for _ in range(1000)]
    give_back(WORTH_TRIMMING)
    give_back(0)
    assert sum(len(d) for d in data) == 1_000_000
