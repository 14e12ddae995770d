"""Console tests: the whole back office behind it (a worker, the dev server, the demo data)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from api.deps import AppDeps
from tests.support.console import browser, stack_deps
from tests.support.order_api import http, order_stack
from tests.support.stack import Stack


@pytest_asyncio.fixture
async def stack(
    request: pytest.FixtureRequest, seeded_engine: AsyncEngine, dev_client: Client, task_queue: str
) -> AsyncIterator[Stack]:
    async with order_stack(request, seeded_engine, dev_client, task_queue) as running:
        yield running


@pytest.fixture
def deps(stack: Stack) -> AppDeps:
    return stack_deps(stack)


@pytest_asyncio.fixture
async def web(deps: AppDeps) -> AsyncIterator[httpx.AsyncClient]:
    """A browser on the console (cookies kept), calling from BROWSER_IP."""
    async with browser(deps) as client:
        yield client


@pytest_asyncio.fixture
async def api(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """The API over real HTTP (the storefront's and the tests' own calls)."""
    async with http(stack.api) as client:
        yield client
