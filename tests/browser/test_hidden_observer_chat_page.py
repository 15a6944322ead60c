"""The call page says who reads a hidden observer's chat (issue 11): the observer's own line is
marked as for the mentor (and supervisors) only, the mentor's copy as not shown to trainees, and
the text stays text. Headless Chromium on the real pages (DESIGN.md §7)."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.devices import DESKTOP
from tests.browser.test_call_routed import enter, signed_in_page, three_people
from tests.media.support import loopback_ice
from tests.support import RunningServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

SECRET = "Ask about <b>radiation</b> & the left arm"


async def say(page: Page, text: str) -> None:
    await page.get_by_label("Message").fill(text)
    await page.get_by_role("button", name="Send").click()


async def test_a_hidden_observers_line_is_marked_for_the_mentors_side(
    server: RunningServer, browser: Browser
) -> None:
    mentor, _, supervisor, session_id = await three_people(server, "routed", observers_hidden=True)
    errors: list[str] = []
    with loopback_ice():
        desk = await signed_in_page(browser, server, mentor, DESKTOP)
        watcher = await signed_in_page(browser, server, supervisor, DESKTOP)
        for name, page in (("mentor", desk), ("observer", watcher)):
            page.on("pageerror", lambda exc, who=name: errors.append(f"{who}: {exc}"))
        await enter(desk, server, session_id)
        await enter(watcher, server, session_id)

        await say(watcher, SECRET)
        mine = watcher.locator("#chat-log li").filter(has_text="radiation")
        await expect(mine).to_contain_text("You")
        await expect(mine).to_contain_text(
            "Only the mentor (and supervisors) see your messages while you are hidden"
        )
        heard = desk.locator("#chat-log li").filter(has_text="radiation")
        await expect(heard).to_contain_text("Not shown to trainees")
        # The text is shown as written, never as markup.
        for line in (mine, heard):
            await expect(line.locator("p").first).to_have_text(SECRET)
            await expect(line.locator("b")).to_have_count(0)

        # What the mentor says to the room carries no such note.
        await say(desk, "Where does it hurt?")
        said = watcher.locator("#chat-log li").filter(has_text="Where does it hurt?")
        await expect(said).to_have_count(1)
        await expect(said).not_to_contain_text("Not shown to trainees")
        # A reload brings the line back from the history, still marked.
        await watcher.reload()
        await watcher.get_by_role("button", name="Join").click()
        await expect(mine).to_contain_text("Only the mentor (and supervisors) see")
        for page in (desk, watcher):
            await page.context.close()
    assert not errors, errors
