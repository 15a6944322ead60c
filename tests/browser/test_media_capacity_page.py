"""The call page says so when the server is at its media capacity (issue 11): a member whose
streams would take the node past PRECEPTOR_MEDIA_MAX_STREAMS reads why, in a notice that stays,
on a phone and on a desktop."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from server.config import Config
from server.infra.roles import Role
from signaling import Join, SignalRelay
from tests.browser.devices import DESKTOP, PHONE
from tests.browser.test_call_routed import enter, signed_in_page
from tests.media.support import loopback_ice
from tests.rooms.client import signaling
from tests.rooms.test_routed_media import routed_session
from tests.support import RunningServer, running_server

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

SHOTS = Path("/tmp/shots/media-capacity")


@pytest_asyncio.fixture(loop_scope="session")  # the browser tests' loop (conftest.py)
async def small_node(config: Config) -> AsyncIterator[RunningServer]:
    async with running_server(dataclasses.replace(config, media_max_streams=4)) as running:
        yield running


async def test_a_member_past_capacity_reads_why_on_the_call_page(
    small_node: RunningServer, browser: Browser
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before the browser
    server = small_node
    mentor = await server.user(Role.MENTOR)
    ana, ben, cy = [await server.user(Role.TRAINEE) for _ in range(3)]
    session_id = await routed_session(server, mentor, [ana, ben, cy])
    https = [await server.signed_in(user) for user in (mentor, ana)]
    try:
        with loopback_ice():
            async with (
                signaling(server, session_id, https[0]) as first,
                signaling(server, session_id, https[1]) as second,
            ):
                # Two members in: the node's 4 streams are theirs.
                for member in (first, second):
                    await member.send(Join())
                    await member.expect(SignalRelay, timeout=10)
                for user, name, size in ((ben, "phone", PHONE), (cy, "desktop", DESKTOP)):
                    page = await signed_in_page(browser, server, user, size)
                    await enter(page, server, session_id)
                    notice = page.locator("#call-notice")
                    await expect(notice).to_be_visible(timeout=15_000)
                    await expect(page.get_by_role("status")).to_contain_text(
                        "The server is at capacity and cannot carry your audio and video now."
                    )
                    await page.screenshot(path=str(SHOTS / f"call-{name}.png"))
                    await page.context.close()
    finally:
        for http in https:
            await http.aclose()
