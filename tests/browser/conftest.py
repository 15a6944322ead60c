"""Headless Chromium from Debian's package, driven by Playwright (never a downloaded browser).

One Chromium per test process, shared by its browser tests: starting Playwright's driver and the
browser cost ~2 s a test. Each test still gets a browser with no window open and closes every
window it opened when it ends (contexts share no cookies, storage or cache). Playwright's objects
belong to the event loop that made them, so the browser tests, the shared browser and the servers
they drive all run on the session's event loop (below); a test's own tasks are cancelled when it
ends, as its own event loop did before.
"""

from __future__ import annotations

import asyncio
import inspect
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Playwright, async_playwright

from server.config import Config
from tests.support import RunningServer, running_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--allow-loopback-in-peer-connection",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
HERE = Path(__file__).resolve().parent
# Every async fixture a browser test uses must run on this loop too (`loop_scope="session"`).
ON_THE_SESSION_LOOP = pytest.mark.asyncio(loop_scope="session")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(ON_THE_SESSION_LOOP, append=False)
            _check_fixtures_share_the_loop(item)


def _check_fixtures_share_the_loop(item: pytest.Item) -> None:
    """An async fixture on a loop of its own would hang the test: say so at once instead."""
    info = getattr(item, "_fixtureinfo", None)
    for definitions in info.name2fixturedefs.values() if info else ():
        function = definitions[-1].func
        async_ = inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)
        if async_ and getattr(function, "_loop_scope", None) != "session":
            raise pytest.UsageError(
                f"{item.nodeid}: async fixture {function.__name__} needs "
                '@pytest_asyncio.fixture(loop_scope="session") (tests/browser/conftest.py)'
            )


class _Chromium:
    """The process's one browser, started at the first browser test and again should it die."""

    def __init__(self) -> None:
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None

    async def browser(self) -> Browser:
        if self._browser is not None and self._browser.is_connected():
            return self._browser
        await self.close()
        if shutil.which(CHROMIUM) is None:
            pytest.fail("Debian's chromium is not installed: run `make test`, which installs it")
        self._playwright = await async_playwright().start()
        # Playwright gives every launch a fresh, throwaway profile directory of its own.
        self._browser = await self._playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        return self._browser

    async def close(self) -> None:
        if self._browser is not None and self._browser.is_connected():
            await self._browser.close()
        if self._playwright is not None:
            await self._playwright.stop()
        self._browser = self._playwright = None


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def _chromium() -> AsyncIterator[_Chromium]:
    chromium = _Chromium()
    yield chromium
    await chromium.close()


@pytest_asyncio.fixture(loop_scope="session", autouse=True)
async def _own_tasks(_chromium: _Chromium) -> AsyncIterator[None]:
    """Cancel what a test left running on the shared loop (autouse: torn down last). The
    browser starts first: its driver's tasks outlive the test."""
    await _chromium.browser()
    before = asyncio.all_tasks()
    yield
    left = [task for task in asyncio.all_tasks() - before if task is not asyncio.current_task()]
    for task in left:
        task.cancel()
    await asyncio.gather(*left, return_exceptions=True)


@pytest_asyncio.fixture(loop_scope="session")
async def browser(_chromium: _Chromium) -> AsyncIterator[Browser]:
    instance = await _chromium.browser()
    yield instance
    for context in instance.contexts:
        await context.close()


@pytest_asyncio.fixture(loop_scope="session")
async def server(config: Config) -> AsyncIterator[RunningServer]:
    """tests/conftest.py's server, on the browser tests' event loop."""
    async with running_server(config) as running:
        yield running


@pytest.fixture
def call_shots() -> Path:
    """Where the call page's screenshots go, for a person to look at (issue 9's proof)."""
    shots = Path("/tmp/shots/call")
    shots.mkdir(parents=True, exist_ok=True)
    return shots
