"""Browser journeys: Playwright driving Debian's chromium (/usr/bin/chromium, never a browser
Playwright downloads) against the whole back office served by uvicorn on a free port.

A missing browser fails the run — it never skips (`apt-get install chromium`; .ci/run does).
A failed test leaves a screenshot in .houtai/screenshots/ (ignored by git)."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Generator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    async_playwright,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from tests.support.order_api import http, order_stack
from tests.support.stack import Stack

CHROMIUM = Path(os.environ.get("HOUTAI_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).parents[2] / ".houtai" / "screenshots"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        ci = os.environ.get("CI") == "true"
        pytest.fail(
            f"no browser at {CHROMIUM}: install Debian's chromium (apt-get install chromium)"
            + (" — CI must install it before `make test`" if ci else ""),
            pytrace=False,
        )
    return CHROMIUM


class _Chromium:
    """One Playwright driver and one chromium per test process (starting both took about a
    second of every browser test); each test still works in browser contexts of its own."""

    def __init__(self, playwright: Playwright, path: Path) -> None:
        self._playwright = playwright
        self._path = path
        self._browser: Browser | None = None

    async def browser(self) -> Browser:
        """The running chromium, launched again if an earlier test left it crashed."""
        if self._browser is None or not self._browser.is_connected():
            self._browser = await self._playwright.chromium.launch(
                executable_path=str(self._path), headless=True, args=CHROMIUM_ARGS
            )
        return self._browser

    async def close(self) -> None:
        if self._browser is not None and self._browser.is_connected():
            await self._browser.close()


@pytest_asyncio.fixture(scope="session")
async def chromium_process(chromium: Path) -> AsyncIterator[_Chromium]:
    async with async_playwright() as playwright:
        running = _Chromium(playwright, chromium)
        try:
            yield running
        finally:
            await running.close()


@pytest_asyncio.fixture
async def chrome(chromium_process: _Chromium) -> AsyncIterator[Browser]:
    """The browser for one test: every context the test opens is closed after it, so no page
    of an earlier test (and its stack's server) lives on into the next."""
    launched = await chromium_process.browser()
    before = set(launched.contexts)
    try:
        yield launched
    finally:
        for context in launched.contexts:
            if context not in before:
                await context.close()


@pytest_asyncio.fixture
async def stack(
    request: pytest.FixtureRequest, seeded_engine: AsyncEngine, dev_client: Client, task_queue: str
) -> AsyncIterator[Stack]:
    async with order_stack(request, seeded_engine, dev_client, task_queue) as running:
        yield running


@pytest_asyncio.fixture
async def api(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with http(stack.api) as client:
        yield client


@pytest_asyncio.fixture
async def page(
    request: pytest.FixtureRequest, chrome: Browser, stack: Stack
) -> AsyncIterator[Page]:
    """A fresh browser context on the stack's server; CSP violations fail the test."""
    context = await chrome.new_context(base_url=stack.api, accept_downloads=True)
    opened = await context.new_page()
    violations: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        # htmx logs the request it drops when a newer one replaces it (hx-sync="this:replace",
        # e.g. Enter fires both change and submit): intended, not a failure.
        if message.text.startswith(("htmx:sendAbort", "htmx:afterRequest")):
            return
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    opened.on("console", watch)
    try:
        yield opened
        assert violations == [], violations
    finally:
        if request.node.stash.get(_FAILED, True):
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
            await opened.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
        await context.close()


# A handheld (the /pda pages): its screen and touch; CSP violations are collected.
HANDHELD = {"width": 360, "height": 640}


@pytest_asyncio.fixture
async def handheld(
    chrome: Browser, stack: Stack
) -> AsyncIterator[tuple[BrowserContext, list[str]]]:
    context = await chrome.new_context(base_url=stack.api, viewport=HANDHELD, has_touch=True)
    problems: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            problems.append(message.text)

    context.on("console", watch)
    try:
        yield context, problems
    finally:
        await context.close()


async def photograph(page: Page, name: str) -> None:
    """The screen as it is, for the README (.houtai/screenshots/<name>.png, copied to
    docs/images by hand when a screen changes)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
