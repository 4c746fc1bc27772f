"""`make setup` says what it does and installs with uv, falling back to pip.

The install itself runs for real: a fresh venv in tmp_path, with the uv that set up this
checkout, from the package registry as `make setup` installs (uv keeps no cache: see
scripts/setup-venv.sh), so it takes half a minute or so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from idgraph import __version__
from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "setup-venv.sh"
TOOLS = ("idgraph", "pytest", "ruff", "mypy")


def test_quickstart_targets_set_up_through_the_script(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    for target in ("demo", "check"):
        plan = subprocess.run(
            ["make", "-n", target, f"VENV={venv}"], cwd=ROOT, capture_output=True, text=True
        )
        assert plan.returncode == 0, plan.stderr
        assert f"VENV='{venv}' INSTALLER='uv' sh scripts/setup-venv.sh" in plan.stdout
        assert "--quiet -e" not in plan.stdout  # the long install is never silent


def test_setup_says_each_step_and_installs_with_uv(tmp_path: Path) -> None:
    here = Path(sys.executable).parent
    uv = shutil.which("uv", path=f"{here}{os.pathsep}{os.environ.get('PATH', '')}")
    if uv is None:
        pytest.skip("no uv here (this checkout was set up by the pip fallback)")
    venv = tmp_path / "venv"
    env = {
        **os.environ,
        "PATH": f"{Path(uv).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHON": sys.executable,
        "VENV": str(venv),
    }
    try:
        done = subprocess.run(
            ["sh", str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
        )
        installed = {tool: (venv / "bin" / tool).is_file() for tool in TOOLS}
        pip = subprocess.run(
            [venv / "bin" / "python", "-m", "pip", "--version"], capture_output=True
        )
    finally:
        shutil.rmtree(venv, ignore_errors=True)  # 1.7 GB that pytest would keep three runs
    assert done.returncode == 0, done.stdout + done.stderr
    assert "falling back" not in done.stdout, done.stdout
    steps = [line for line in done.stdout.splitlines() if line.startswith("setup: ")]
    assert steps[0].startswith(f"setup: creating {venv} with ")
    assert steps[1].startswith("setup: using uv ") and steps[1].endswith(" from PATH")
    assert steps[2] == "setup: installing idgraph and its dev tools (.[dev]), and pip, with uv"
    assert steps[-1].startswith("setup: done in ")
    assert steps[-1].endswith(f": idgraph {__version__}")
    assert installed == dict.fromkeys(TOOLS, True)
    assert pip.returncode == 0  # a venv as people expect one, pip included
