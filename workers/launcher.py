"""`houtai up`: the whole back office in one process tree, on the embedded default.

PostgreSQL and Temporal's dev server (unless HOUTAI_DATABASE_URL / HOUTAI_TEMPORAL_ADDRESS point
elsewhere), migrations, demo data, the sandboxes, the worker and the API. A worker, API or sandbox
that dies is started again after a backoff (workers/supervisor.py) while the rest keeps running;
one that keeps crashing, or PostgreSQL or Temporal dying, stops the stack. Ctrl-C (or SIGTERM)
stops it all in order within STOP_BUDGET_S; the data stays under the data directory for the next
start.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import httpx

from core.security import new_secret
from core.settings import WORKER_CONNECTIONS, Settings
from workers.embedded import (
    EmbeddedPostgres,
    EmbeddedTemporal,
    die_with_parent,
    port_open,
    wait_for_port,
)
from workers.supervisor import GaveUp, Supervisor

# Ctrl-C to the last process gone, requests in flight included: each step of the stop gets
# until its mark (seconds after the Ctrl-C), then its stragglers are killed.
STOP_BUDGET_S = 30.0
_STOP_MARKS = (
    (("api",), 8.0),
    (("worker",), 16.0),  # every worker process: worker, worker-2, … (worker_names)
    (("sandbox-payments", "sandbox-carrier", "sandbox-supplier", "sandbox-robots"), 19.0),
)
_TEMPORAL_MARK_S = 23.0
_POSTGRES_MARK_S = STOP_BUDGET_S - 2


@dataclass
class Stack:
    settings: Settings
    data_dir: Path
    postgres: EmbeddedPostgres | None = None
    temporal: EmbeddedTemporal | None = None
    supervisor: Supervisor = field(init=False)
    stopping: bool = False
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.supervisor = Supervisor(self.step)

    def step(self, message: str) -> None:
        print(f"  [{time.monotonic() - self.started:5.1f}s] {message}", flush=True)

    @property
    def logs(self) -> Path:
        return self.data_dir / "logs"


def _secret(data_dir: Path, name: str) -> str:
    """A secret generated on the first start and kept with the data (mode 600)."""
    path = data_dir / name
    if not path.exists():
        path.write_text(new_secret())
        path.chmod(0o600)
    return path.read_text().strip()


def _start_servers(stack: Stack) -> dict[str, str]:
    s = stack.settings
    env = {"HOUTAI_DATA_DIR": str(stack.data_dir)}
    if s.database_url:
        stack.step("PostgreSQL: using HOUTAI_DATABASE_URL")
        env["HOUTAI_DATABASE_URL"] = s.database_url
    else:
        stack.step(f"PostgreSQL: starting embedded server on 127.0.0.1:{s.embedded.postgres_port}")
        stack.postgres = EmbeddedPostgres(
            stack.data_dir / "postgres",
            s.embedded.postgres_port,
            stack.logs / "postgres.log",
            max_connections=postgres_connections(s),
        )
        stack.postgres.start(s.embedded.startup_timeout_s)
        stack.step(f"PostgreSQL: running, pid {_pid(stack.postgres.proc)}")
        env["HOUTAI_DATABASE_URL"] = stack.postgres.url
    if s.temporal_address:
        stack.step(f"Temporal: using {s.temporal_address}")
        env["HOUTAI_TEMPORAL_ADDRESS"] = s.temporal_address
    else:
        stack.step(f"Temporal: starting dev server on 127.0.0.1:{s.embedded.temporal_port}")
        stack.temporal = EmbeddedTemporal(
            stack.data_dir / "temporal.sqlite",
            s.embedded.temporal_port,
            s.embedded.temporal_ui_port,
            stack.logs / "temporal.log",
        )
        stack.temporal.start(s.embedded.startup_timeout_s)
        stack.step(f"Temporal: running, pid {_pid(stack.temporal.proc)}")
        env["HOUTAI_TEMPORAL_ADDRESS"] = stack.temporal.address
        # The console links each document's workflow in this server's Web UI.
        ui = f"http://127.0.0.1:{s.embedded.temporal_ui_port}"
        env["HOUTAI_CONSOLE__TEMPORAL_UI_URL"] = ui
    if s.auth.token_secret is None:
        env["HOUTAI_AUTH__TOKEN_SECRET"] = _secret(stack.data_dir, "token-secret")
    env["HOUTAI_PUBLIC_URL"] = f"http://{s.api.host}:{s.api.port}"
    return env


def _pid(proc: subprocess.Popen[bytes] | None) -> int:
    assert proc is not None
    return proc.pid


def _start_sandboxes(stack: Stack, env: dict[str, str]) -> None:
    """The sandbox payment provider, carrier and supplier portal stand in for the outside world
    (DESIGN §8)."""
    s = stack.settings
    for name, port, prefix in (
        ("payments", s.embedded.sandbox_payments_port, "PAYMENTS"),
        ("carrier", s.embedded.sandbox_carrier_port, "CARRIER"),
        ("supplier", s.embedded.sandbox_supplier_port, "SUPPLIER"),
    ):
        if port_open(port):
            raise RuntimeError(
                f"port {port} for the sandbox {name} is taken; "
                f"set HOUTAI_EMBEDDED__SANDBOX_{name.upper()}_PORT"
            )
        secret = _secret(stack.data_dir, f"sandbox-{name}-secret")
        stack.step(f"sandbox {name}: starting on 127.0.0.1:{port}")
        _spawn(
            stack,
            f"sandbox-{name}",
            ["-m", "sandbox", name, "--port", str(port)],
            {**env, "HOUTAI_SANDBOX_SECRET": secret},
        )
        env[f"HOUTAI_{prefix}__URL"] = f"http://127.0.0.1:{port}"
        env[f"HOUTAI_{prefix}__WEBHOOK_SECRET"] = secret
    _start_robots(stack, env)
    for name, port in (
        ("payments", s.embedded.sandbox_payments_port),
        ("carrier", s.embedded.sandbox_carrier_port),
        ("supplier", s.embedded.sandbox_supplier_port),
        ("robots", s.embedded.sandbox_robots_port),
    ):
        proc = stack.supervisor.proc(f"sandbox-{name}")
        wait_for_port(port, proc, s.embedded.startup_timeout_s, f"sandbox {name}")


def _start_robots(stack: Stack, env: dict[str, str]) -> None:
    """The 企业微信 / 钉钉 group robots and the mail server notifications go to (DESIGN §6.10):
    one process, an HTTP port and an SMTP port; the worker's outbox sender mails to the latter."""
    s = stack.settings
    http, smtp = s.embedded.sandbox_robots_port, s.embedded.sandbox_smtp_port
    for port in (http, smtp):
        if port_open(port):
            raise RuntimeError(
                f"port {port} for the sandbox robots is taken; set "
                "HOUTAI_EMBEDDED__SANDBOX_ROBOTS_PORT / HOUTAI_EMBEDDED__SANDBOX_SMTP_PORT"
            )
    secret = _secret(stack.data_dir, "sandbox-robots-secret")
    stack.step(f"sandbox robots: starting on 127.0.0.1:{http} (SMTP on {smtp})")
    _spawn(
        stack,
        "sandbox-robots",
        ["-m", "sandbox", "robots", "--port", str(http), "--smtp-port", str(smtp)],
        {**env, "HOUTAI_SANDBOX_SECRET": secret},
    )
    env["HOUTAI_NOTIFICATIONS__SMTP_HOST"] = "127.0.0.1"
    env["HOUTAI_NOTIFICATIONS__SMTP_PORT"] = str(smtp)


def _spawn(stack: Stack, name: str, args: list[str], env: dict[str, str]) -> None:
    """Start a Python child under supervision: its own session and process group (so a
    terminal's Ctrl-C reaches only the launcher, and a straggler's whole group can be killed),
    killed with the launcher if the launcher itself dies, restarted by the supervisor."""
    log_path = stack.logs / f"{name}.log"

    def spawn() -> subprocess.Popen[bytes]:
        with log_path.open("ab") as log:
            return subprocess.Popen(
                [sys.executable, *args],
                env={**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent(signal.SIGKILL),  # noqa: PLW1509 - prctl + setsid only
            )

    stack.supervisor.start(name, spawn)


def worker_names(count: int) -> tuple[str, ...]:
    """The supervised names of `count` worker processes: "worker" (as with one), "worker-2", …"""
    return ("worker", *(f"worker-{i}" for i in range(2, count + 1)))


def api_processes(settings: Settings) -> int:
    """uvicorn processes of the API under `houtai up`: HOUTAI_API__WORKERS, else as many as
    worker processes."""
    return settings.api.workers or settings.workers


# Connections beyond the long-running processes' pools: `houtai migrate` and `houtai seed` while
# the stack starts, an operator's psql, PostgreSQL's superuser_reserved_connections (3).
SPARE_CONNECTIONS = 20


def postgres_connections(settings: Settings) -> int:
    """max_connections of the embedded PostgreSQL under `houtai up`: every API process's pool
    (HOUTAI_API__DB_CONNECTIONS) and its change feed's LISTEN connection, every worker's pool,
    and the spare; never below the server's own default (300), which the tools and benches
    that connect beside the stack (their own pools) have always had. A fixed 300 was overrun
    from `--workers 5` (5 x 51 + 5 x 20 = 355): the processes past it failed their requests
    with "too many clients already"."""
    api = api_processes(settings) * (settings.api.db_connections + 1)
    needed = api + settings.workers * WORKER_CONNECTIONS + SPARE_CONNECTIONS
    return max(EmbeddedPostgres.DEFAULT_MAX_CONNECTIONS, needed)


def _start_workers_and_api(stack: Stack, env: dict[str, str]) -> None:
    """N worker processes on the same task queue (Temporal spreads the tasks over their
    pollers), each with its own metrics port (worker_port + i), and the API with as many
    uvicorn processes, whose metrics are added up from files under the data directory."""
    s = stack.settings
    names = worker_names(s.workers)
    apis = api_processes(s)
    stack.step(f"starting {len(names)} worker process(es) and the API ({apis} process(es))")
    for i, name in enumerate(names):
        own = dict(env)
        if s.metrics.enabled and s.metrics.worker_port:
            own["HOUTAI_METRICS__WORKER_PORT"] = str(s.metrics.worker_port + i)
        _spawn(stack, name, ["-m", "workers.cli", "worker"], own)
    api_env = {**env, "HOUTAI_API__WORKERS": str(apis)}
    if apis > 1:
        api_env["HOUTAI_METRICS__MULTIPROC_DIR"] = str(stack.data_dir / "api-metrics")
    _spawn(stack, "api", ["-m", "workers.cli", "api"], api_env)


def _wait_ready(stack: Stack, base: str) -> None:
    """Ask the API's deep readiness until it answers 200, with one client for every try (a
    client made per try loads the CA bundle again, CPU taken from the worker and the API
    starting beside it)."""
    deadline = time.monotonic() + stack.settings.embedded.startup_timeout_s
    last = "no answer"
    with httpx.Client(timeout=15) as client:
        while time.monotonic() < deadline and not stack.stopping:
            _watch(stack)
            try:
                answer = client.get(f"{base}/readyz?deep=true")
                if answer.status_code == 200:
                    return
                last = answer.text
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            time.sleep(0.3)
    raise TimeoutError(f"API not ready: {last}")


def _watch(stack: Stack) -> None:
    """Restart what crashed (the supervisor); PostgreSQL or Temporal gone ends the stack."""
    for what, server in (("PostgreSQL", stack.postgres), ("Temporal", stack.temporal)):
        if server is not None and server.proc is not None and server.proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {server.proc.returncode}")
    try:
        stack.supervisor.poll()
    except GaveUp as exc:
        tail = (stack.logs / f"{exc.name}.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{exc}; stopping the stack. Its log ends:\n{tail}") from exc


def _banner(stack: Stack, base: str) -> None:
    from workers.seed import demo_credentials

    s = stack.settings
    print("\nhoutai is ready", flush=True)
    print(f"  Console        {base}/console  (staff sign in; 简体中文 / English)")
    print(f"  API            {base}/v1")
    print(f"  OpenAPI docs   {base}/docs")
    if stack.temporal is not None:
        print(f"  Temporal UI    http://127.0.0.1:{s.embedded.temporal_ui_port}")
    if s.embedded.sandboxes:
        print(f"  Sandbox pay    http://127.0.0.1:{s.embedded.sandbox_payments_port}/docs")
        print(f"  Sandbox carrier http://127.0.0.1:{s.embedded.sandbox_carrier_port}/docs")
        print(f"  Sandbox supplier http://127.0.0.1:{s.embedded.sandbox_supplier_port}/docs")
        print(
            f"  Sandbox robots http://127.0.0.1:{s.embedded.sandbox_robots_port}/_sandbox/messages"
        )
    if s.metrics.enabled:
        print(f"  API metrics    {base}/metrics  (from {', '.join(s.metrics.allowlist)} only)")
        if s.metrics.worker_port:
            for i in range(s.workers):
                port = s.metrics.worker_port + i
                print(f"  Worker metrics http://{s.metrics.worker_host}:{port}/metrics")
    print(f"  Data           {stack.data_dir} (kept between runs)")
    print("\nDemo credentials:")
    for what, credential, role in demo_credentials():
        print(f"  {what:<26} {credential:<48} {role}")
    print("\nPress Ctrl-C to stop.", flush=True)


def _stop(stack: Stack) -> None:
    """API first (no new requests), then the worker, the sandboxes, Temporal, PostgreSQL; each
    step within its mark of STOP_BUDGET_S, stragglers killed with their process groups."""
    began = time.monotonic()
    for names, mark in _STOP_MARKS:
        stopping = worker_names(stack.settings.workers) if names == ("worker",) else names
        stack.supervisor.stop(list(stopping), began + mark)
    if stack.temporal is not None:
        stack.step("stopping Temporal")
        stack.temporal.stop(max(1.0, began + _TEMPORAL_MARK_S - time.monotonic()))
    if stack.postgres is not None:
        stack.step("stopping PostgreSQL")
        stack.postgres.stop(max(1.0, began + _POSTGRES_MARK_S - time.monotonic()))


def _prepare(stack: Stack, env: dict[str, str]) -> None:
    from workers.serve import migrate, seed, seed_channels

    # The children's view: the same settings plus the servers resolved above.
    child = stack.settings.model_copy(
        update={
            "database_url": env["HOUTAI_DATABASE_URL"],
            "temporal_address": env["HOUTAI_TEMPORAL_ADDRESS"],
        }
    )
    stack.step("database: migrating to head, registering search attributes")
    asyncio.run(migrate(child))
    if stack.settings.demo_data:
        loaded = asyncio.run(seed(child))
        stack.step("demo data loaded" if loaded else "demo data: database not empty, kept as is")
        if loaded and stack.settings.embedded.sandboxes:
            asyncio.run(seed_channels(child, stack.settings.embedded.sandbox_robots_port))
            stack.step("demo notification channels: the sandbox robots and mail server")


def run_up(settings: Settings) -> int:
    data_dir = settings.data_dir.resolve()
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    stack = Stack(settings=settings, data_dir=data_dir)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stack.stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    base = f"http://{settings.api.host}:{settings.api.port}"
    print(f"houtai: starting (data in {data_dir})", flush=True)
    code = 0
    try:
        if port_open(settings.api.port, settings.api.host):
            raise RuntimeError(f"port {settings.api.port} is taken; set HOUTAI_API__PORT")
        env = _start_servers(stack)
        _prepare(stack, env)
        if settings.embedded.sandboxes:
            _start_sandboxes(stack, env)
        _start_workers_and_api(stack, env)
        _wait_ready(stack, base)
        if not stack.stopping:
            _banner(stack, base)
        while not stack.stopping:
            _watch(stack)
            time.sleep(0.5)
        print("\nhoutai: stopping", flush=True)
    except Exception as exc:  # show the cause, then stop whatever did start
        print(f"\nhoutai: failed: {exc}\n  logs: {stack.logs}", file=sys.stderr, flush=True)
        code = 1
    finally:
        _stop(stack)
    print("houtai: stopped; data kept for the next start", flush=True)
    return code
