"""A supervisor who opens a `direct` session's call page reads why it cannot be observed
(issue 11: its video never reaches the server), on a phone and on a desktop, and is not left in
front of a Join button that cannot work."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.browser.devices import DESKTOP, PHONE
from tests.browser.test_call_routed import signed_in_page, three_people
from tests.support import RunningServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

SHOTS = Path("/tmp/shots/observer-direct")


async def test_an_observer_reads_why_a_direct_session_cannot_be_observed(
    server: RunningServer, browser: Browser
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before the browser
    _, _, supervisor, session_id = await three_people(server, "direct")
    for name, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page = await signed_in_page(browser, server, supervisor, size)
        await page.goto(f"{server.url}/sessions/{session_id}")
        # The page offers to observe; joining is where the server says no, and why.
        await expect(page.get_by_role("heading", name="Observe this session")).to_be_visible()
        await page.get_by_role("button", name="Join").click()
        await expect(
            page.get_by_role("heading", name="This session cannot be observed")
        ).to_be_visible(timeout=15_000)
        await expect(page.get_by_text("never through the server")).to_be_visible()
        await expect(page.get_by_role("button", name="Join")).to_have_count(0)
        await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
        await page.context.close()
