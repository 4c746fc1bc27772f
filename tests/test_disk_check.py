"""The suite refuses a nearly full disk in one line instead of failing test by test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import SUITE_DISK_BYTES, check_disk


def test_a_nearly_full_disk_stops_the_suite_with_one_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage._replace(free=SUITE_DISK_BYTES - 1))
    with pytest.raises(pytest.exit.Exception) as stopped:
        check_disk(tmp_path)
    assert stopped.value.returncode == 3
    assert f"GiB free in {tmp_path}" in str(stopped.value)
    assert "free some space first" in str(stopped.value)
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage._replace(free=SUITE_DISK_BYTES))
    check_disk(tmp_path)  # exactly the room needed: the suite runs
