"""The test session's temporary files go to a tmpfs with room, unless TMPDIR says otherwise
(tests/conftest.py use_fast_temp)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import use_fast_temp


def test_a_root_with_room_becomes_tmpdir(tmp_path: Path) -> None:
    environ: dict[str, str] = {}
    assert use_fast_temp(environ, tmp_path, room=1)
    assert environ["TMPDIR"] == str(tmp_path)


def test_tmpdir_set_by_the_caller_wins(tmp_path: Path) -> None:
    environ = {"TMPDIR": "/somewhere/else"}
    assert not use_fast_temp(environ, tmp_path, room=1)
    assert environ["TMPDIR"] == "/somewhere/else"


def test_a_missing_or_full_root_is_not_used(tmp_path: Path) -> None:
    environ: dict[str, str] = {}
    assert not use_fast_temp(environ, tmp_path / "missing", room=1)
    free = os.statvfs(tmp_path).f_bavail * os.statvfs(tmp_path).f_frsize
    assert not use_fast_temp(environ, tmp_path, room=free * 2)
    assert "TMPDIR" not in environ
