"""Splink's own virtual environment, so idgraph's never carries Splink or its pins.

bench/splink_run.py runs only under this environment's python; the benches call it as a
subprocess and read back a CSV of cluster ids.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SPLINK_VENV = BENCH / ".venv-splink"
SPLINK_SCRIPT = BENCH / "splink_run.py"
SPLINK_REQUIREMENTS = ["splink==4.0.17", "duckdb==2.0.1", "pandas==3.1.1"]

__all__ = [
    "SPLINK_REQUIREMENTS",
    "SPLINK_SCRIPT",
    "SPLINK_VENV",
    "ensure_splink_venv",
    "venv_python",
]


def venv_python(venv: Path) -> Path:
    """The interpreter inside a virtual environment."""
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def ensure_splink_venv(venv: Path = SPLINK_VENV) -> Path:
    """Create the Splink environment once (venv + pinned pip install) and return its python.

    An environment whose python already imports the pinned Splink is reused as it is.

    Raises:
        subprocess.CalledProcessError: If venv creation or the install fails.
    """
    python = venv_python(venv)
    if python.is_file():
        check = [str(python), "-c", "import splink, duckdb; print(splink.__version__)"]
        found = subprocess.run(check, capture_output=True, text=True, check=False)
        if found.returncode == 0 and f"splink=={found.stdout.strip()}" in SPLINK_REQUIREMENTS:
            return python
    else:
        print(f"creating {venv} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = [str(python), "-m", "pip", "install", "--quiet", *SPLINK_REQUIREMENTS]
    subprocess.run(install, check=True)
    return python
