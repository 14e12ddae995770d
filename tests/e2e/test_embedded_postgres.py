"""The embedded PostgreSQL starts wherever its data directory is: a deep one (whose Unix socket
path would pass the 107-byte limit) included."""

from __future__ import annotations

import subprocess
from pathlib import Path

from workers.embedded import EmbeddedPostgres, free_port


def test_postgres_starts_in_a_data_directory_too_deep_for_a_unix_socket(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 40) / "postgres"
    assert len(str(deep / ".s.PGSQL.65535")) > 107
    server = EmbeddedPostgres(deep, free_port(), tmp_path / "postgres.log")
    server.start()
    try:
        answer = subprocess.run(
            [server._bin("psql"), "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres",
             "-tAc", "SELECT current_setting('unix_socket_directories') = ''"],
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
        assert answer.stdout.strip() == "t"
    finally:
        server.stop()
    assert server.proc is not None and server.proc.poll() is not None
