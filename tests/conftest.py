"""Session fixtures: a real PostgreSQL (embedded, or HOUTAI_TEST_DATABASE_URL), Temporal's
time-skipping test server and dev server (binaries from our pinned packages), and a fresh
migrated database per test cloned from a template."""

from __future__ import annotations

import asyncio
import itertools
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator, MutableMapping
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from core.db import SessionFactory, make_engine, make_session_factory
from migrations import upgrade_to_head
from tests.support.api import light_password_hash
from tests.support.temporal import dev_server, time_skipping_server
from workers.demo_data import STAFF_USERS
from workers.embedded import (
    EmbeddedPostgres,
    free_port,
)
from workers.seed import DEMO_PASSWORD, seed_demo

_counter = itertools.count()

THROWAWAY_SERVER = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
"""The embedded test server's data dies with the session, so it never waits for the disk: with
fsync on, each per-test CREATE DATABASE ... TEMPLATE (STRATEGY FILE_COPY checkpoints and
fsyncs every copied file) and DROP DATABASE cost 1-2 s; without, about 0.3 s. Commits see the
same answers either way (durability only matters if the machine crashes mid-test)."""


FIRST = ("tests/e2e/", "tests/browser/", "tests/api/test_schemathesis_")
"""Under `-n 2 --dist loadfile` these files start first: each is one or two long tests (a whole
`houtai up`, a browser journey, a schemathesis run of minutes), and pytest-xdist by itself hands
out the files with the most tests first, which left exactly these for the end of the run, where
one worker finishing its last long test while the other had nothing left to take cost up to a
few minutes of the wall time. Long files first, many short ones last, and both workers finish
together."""


FAST_TEMP = Path("/dev/shm")  # noqa: S108 -- TMPDIR: tempfile makes private directories in it
FAST_TEMP_ROOM = 4 * 1024**3
"""The tests' temporary files (their PostgreSQL servers' data, `houtai up`'s data directories,
tmp_path) go to memory when the machine has a tmpfs there with room to spare. On a disk, and
most on one mounted with `discard` as CI's is, every test's CREATE DATABASE ... TEMPLATE and
DROP DATABASE wrote and unlinked a few hundred files: 0.45 s a test, 0.08 s on tmpfs. The data
dies with the session either way. TMPDIR set by whoever runs the tests wins."""


def use_fast_temp(
    environ: MutableMapping[str, str], root: Path = FAST_TEMP, room: int = FAST_TEMP_ROOM
) -> bool:
    """Point TMPDIR (and tempfile's cached choice) at `root` if it is a writable directory with
    `room` bytes free and TMPDIR is not set; whether it did."""
    if environ.get("TMPDIR") or not (root.is_dir() and os.access(root, os.W_OK | os.X_OK)):
        return False
    stats = os.statvfs(root)
    if stats.f_bavail * stats.f_frsize < room:
        return False
    environ["TMPDIR"] = str(root)
    tempfile.tempdir = None  # gettempdir() looks again
    return True


def pytest_configure(config: pytest.Config) -> None:
    use_fast_temp(os.environ)  # before pytest's own temporary directory is made
    if config.getoption("dist", "no") == "loadfile":
        config.option.loadscopereorder = False  # the order below instead of xdist's own


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The files in the order pytest-xdist hands them out (see FIRST): FIRST's directories, then
    the rest as xdist would order them (most tests first); each file's own order unchanged.
    Only in xdist's workers (their collection is the order the controller hands out)."""
    if not hasattr(config, "workerinput"):
        return
    counts: dict[str, int] = {}
    for item in items:
        counts[item.nodeid.split("::")[0]] = counts.get(item.nodeid.split("::")[0], 0) + 1

    def rank(item: pytest.Item) -> tuple[int, int]:
        path = item.nodeid.split("::")[0]
        first = next((i for i, prefix in enumerate(FIRST) if path.startswith(prefix)), len(FIRST))
        return first, -counts[path]

    items.sort(key=rank)  # stable: each file's tests stay together and in order


class PgServer:
    """A server on which tests create and drop their own databases."""

    def __init__(self, base_url: str) -> None:
        self.base = make_url(base_url)

    def url(self, database: str) -> str:
        return self.base.set(drivername="postgresql+asyncpg", database=database).render_as_string(
            hide_password=False
        )

    def dsn(self, database: str = "postgres") -> str:
        return self.base.set(drivername="postgresql", database=database).render_as_string(
            hide_password=False
        )

    async def execute(self, sql: str) -> None:
        conn = await asyncpg.connect(self.dsn(), timeout=30)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    external = os.environ.get("HOUTAI_TEST_DATABASE_URL")
    if external:
        yield PgServer(external)
        return
    with tempfile.TemporaryDirectory(prefix="houtai-test-pg-") as tmp:
        os.chmod(tmp, 0o755)
        server = EmbeddedPostgres(
            Path(tmp) / "data", free_port(), Path(tmp) / "pg.log", settings=THROWAWAY_SERVER
        )
        server.start()
        try:
            yield PgServer(server.admin_url())
        finally:
            server.stop()


@pytest.fixture(scope="session")
def template_database(pg_server: PgServer) -> Iterator[str]:
    """A database migrated to head once per session; each test gets a copy of it."""
    name = f"houtai_tpl_{os.getpid()}"
    asyncio.run(pg_server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(pg_server.execute(f'CREATE DATABASE "{name}"'))
    upgrade_to_head(pg_server.url(name))
    yield name
    asyncio.run(pg_server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest_asyncio.fixture
async def database_url(pg_server: PgServer, template_database: str) -> AsyncIterator[str]:
    name = f"houtai_t_{os.getpid()}_{next(_counter)}"
    await pg_server.execute(
        f'CREATE DATABASE "{name}" TEMPLATE "{template_database}" STRATEGY FILE_COPY'
    )
    try:
        yield pg_server.url(name)
    finally:
        await pg_server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def seeded_template_database(pg_server: PgServer, template_database: str) -> Iterator[str]:
    """The migrated template plus the demo data, loaded once per session. The demo users keep
    their password (DEMO_PASSWORD) in a light argon2 hash: each sign-in of a whole-stack test
    verified a production-strength one, 0.1-0.7 s of work on the CI machine (the seed's own
    hashes are checked in tests/activities/test_seed.py, on a database seeded there)."""
    name = f"houtai_tpl_seeded_{os.getpid()}"

    async def build() -> None:
        await pg_server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await pg_server.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
        engine = make_engine(pg_server.url(name), pool_size=1)
        try:
            assert await seed_demo(make_session_factory(engine))
            async with engine.begin() as conn:
                for username, _ in STAFF_USERS:
                    await conn.execute(
                        text("UPDATE users SET password_hash = :hash WHERE username = :username"),
                        {"hash": light_password_hash(DEMO_PASSWORD), "username": username},
                    )
        finally:
            await engine.dispose()

    asyncio.run(build())
    yield name
    asyncio.run(pg_server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest_asyncio.fixture
async def seeded_engine(
    pg_server: PgServer, seeded_template_database: str
) -> AsyncIterator[AsyncEngine]:
    """A fresh database of its own holding the demo data (for whole-stack tests)."""
    name = f"houtai_s_{os.getpid()}_{next(_counter)}"
    await pg_server.execute(
        f'CREATE DATABASE "{name}" TEMPLATE "{seeded_template_database}" STRATEGY FILE_COPY'
    )
    engine = make_engine(pg_server.url(name), pool_size=5)
    try:
        yield engine
    finally:
        await engine.dispose()
        await pg_server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest_asyncio.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url, pool_size=5)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def session_factory(engine: AsyncEngine) -> SessionFactory:
    return make_session_factory(engine)


@pytest_asyncio.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await time_skipping_server()
    try:
        yield env
    finally:
        await env.shutdown()


@pytest_asyncio.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await dev_server(
        dev_server_extra_args=["--ui-disable-news-fetch"],
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def dev_client(dev_env: WorkflowEnvironment) -> Client:
    return dev_env.client
