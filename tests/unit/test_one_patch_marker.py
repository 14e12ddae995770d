"""workflows/common.py `patched`: the one marker of a run stands only for the patches that existed
when it came in; a patch added since asks for (and records) its own marker."""

from __future__ import annotations

import pytest

from workflows import common


def _run_with(markers: set[str], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A run whose history holds `markers` (replaying: a patch without its marker is False)."""
    asked: list[str] = []

    def patched(patch_id: str) -> bool:
        asked.append(patch_id)
        return patch_id in markers

    monkeypatch.setattr(common.workflow, "patched", patched)
    return asked


def test_a_run_with_the_one_marker_takes_the_patches_it_stands_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _run_with({common.PATCHES_TAKEN}, monkeypatch)
    assert all(common.patched(patch) for patch in common.TAKEN_BY_ONE_MARKER)


def test_a_patch_added_after_the_one_marker_is_not_taken_by_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run recorded with the one marker but before a later patch replays the old path."""
    asked = _run_with({common.PATCHES_TAKEN}, monkeypatch)
    assert common.patched("a-patch-added-later") is False
    assert asked == ["a-patch-added-later"]  # its own marker, not the run's one marker


def test_a_run_from_before_the_one_marker_asks_each_patch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _run_with({"wave-picking"}, monkeypatch)
    assert common.patched("wave-picking") is True
    assert common.patched("cancel-voids-waybill") is False
