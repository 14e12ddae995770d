"""`houtai up` sizes its embedded PostgreSQL's max_connections from the processes it runs: a
fixed 300 was overrun from `--workers 5` (N worker and N API processes, ~71 connections each
pair), and the processes past it failed with "too many clients already"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.settings import WORKER_CONNECTIONS, ApiSettings, Settings
from workers import embedded, launcher
from workers.embedded import EmbeddedPostgres


def settings(processes: int, **api: Any) -> Settings:
    """`houtai up --workers processes`, the API's settings `api` (HOUTAI_API__...)."""
    return Settings(workers=processes, api=ApiSettings(**api), temporal_address="127.0.0.1:1")


@pytest.mark.parametrize("workers", [1, 4, 5, 8, 32])
def test_the_budget_covers_every_api_and_worker_process(workers: int) -> None:
    pools = workers * (50 + 1) + workers * WORKER_CONNECTIONS  # API pool + LISTEN, worker pool
    assert launcher.postgres_connections(settings(workers)) >= pools + 3  # + superuser-reserved


def test_one_worker_keeps_the_servers_default_for_the_tools_beside_it() -> None:
    """1 worker and 1 API process need 91; the tools and benches that connect beside the stack
    keep the 300 they always had."""
    assert launcher.postgres_connections(settings(1)) == EmbeddedPostgres.DEFAULT_MAX_CONNECTIONS
    assert EmbeddedPostgres.DEFAULT_MAX_CONNECTIONS == 300


def test_the_budget_follows_the_api_processes_and_their_pools() -> None:
    two_big = settings(6, workers=2, db_connections=80)  # HOUTAI_API__WORKERS=2, 80 each
    assert launcher.postgres_connections(two_big) >= 2 * 81 + 6 * WORKER_CONNECTIONS + 3
    assert launcher.postgres_connections(two_big) < launcher.postgres_connections(settings(6))


def test_up_starts_the_embedded_server_with_the_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[int] = []

    class Proc:
        pid = 4242

    def start(self: EmbeddedPostgres, timeout: float = 60.0) -> None:
        started.append(self.max_connections)
        self.proc = Proc()  # type: ignore[assignment]

    monkeypatch.setattr(EmbeddedPostgres, "start", start)
    s = settings(5).model_copy(update={"database_url": None})
    stack = launcher.Stack(s, tmp_path)
    launcher._start_servers(stack)
    assert started == [launcher.postgres_connections(s)]
    assert started[0] > 300  # what the fixed setting allowed


def test_the_server_is_started_with_its_max_connections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands: list[list[str]] = []

    class Popen:
        def __init__(self, args: list[str], **kwargs: Any) -> None:
            commands.append(args)

    server = EmbeddedPostgres(tmp_path / "pg", 5999, tmp_path / "pg.log", max_connections=777)
    (tmp_path / "pg").mkdir()
    (tmp_path / "pg" / "PG_VERSION").write_text("16")  # initialized: no initdb
    monkeypatch.setattr(server, "_prepare_user", lambda: None)
    monkeypatch.setattr(server, "_bin", lambda name: name)
    monkeypatch.setattr(server, "_ensure_database", lambda name: None)
    monkeypatch.setattr(embedded.subprocess, "Popen", Popen)
    monkeypatch.setattr(embedded, "wait_for_port", lambda *args: None)
    server.start()
    (command,) = commands
    assert "max_connections=777" in command
    assert command[command.index("max_connections=777") - 1] == "-c"
