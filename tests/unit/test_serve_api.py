"""`houtai api` with several uvicorn processes (workers/serve.py `serve_api`): their request
counts go to a directory the processes share; one made for the run is gone after it, one the
settings name is kept."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from core.settings import Settings
from workers import serve

SECRET = "serve-api-test-secret-" + "x" * 32  # a throwaway signing secret


def running(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """uvicorn.run replaced: records the metrics directory the processes were given, which
    exists while they run."""
    seen: list[Path] = []

    def run(app: str, **options: Any) -> None:
        assert options["workers"] == 2 and options["log_config"] is None
        path = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
        assert path.is_dir()
        (path / "counter_1234.db").write_bytes(b"")  # as a process writes its counts
        seen.append(path)

    monkeypatch.setattr(serve.uvicorn, "run", run)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")  # serve_api sets it; put back after
    return seen


def test_a_metrics_directory_made_for_the_run_is_removed_after_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = running(monkeypatch)
    serve.serve_api(Settings(auth={"token_secret": SECRET}, api={"workers": 2}))  # type: ignore[arg-type]
    [made] = seen
    assert made.name.startswith("houtai-metrics-")
    assert not made.exists()


def test_a_metrics_directory_the_settings_name_is_kept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen = running(monkeypatch)
    named = tmp_path / "api-metrics"
    serve.serve_api(
        Settings(
            auth={"token_secret": SECRET}, api={"workers": 2}, metrics={"multiproc_dir": named}
        )  # type: ignore[arg-type]
    )
    assert seen == [named]
    assert named.is_dir() and [p.name for p in named.iterdir()] == ["counter_1234.db"]
