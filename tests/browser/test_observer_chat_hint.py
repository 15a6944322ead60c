"""A hidden observer knows before writing that the trainee will not read the chat (issue 11): a
standing hint beside the message box, which describes the box, shown to that observer only (not
to the mentor nor the trainee). The mentor shows the observers during the call: the hint goes
at once, without the observer touching the message box; hidden again, it is back at once.
Headless Chromium on the real pages (DESIGN.md §7); screenshots of the observer's chat at
1280x800 and 390x844 go to /tmp/shots/observer/ for a person to look at."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from server.infra.roles import User
from tests.browser.test_call_routed import DESKTOP, PHONE, enter, signed_in_page, three_people
from tests.browser.test_notes import watch
from tests.media.support import loopback_ice
from tests.support import RunningServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

SHOTS = Path("/tmp/shots/observer")
HINT = "You are hidden from the trainee: only the mentor (and supervisors) see your messages."


@pytest.fixture
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


def hint(page: Page) -> Locator:
    return page.get_by_text("You are hidden from the trainee")


async def set_hidden(server: RunningServer, mentor: User, session_id: str, hidden: bool) -> None:
    """What the mentor's "Hide observers from trainees" box on the home page sends."""
    http = await server.signed_in(mentor)
    changed = await http.put(f"/api/sessions/{session_id}/observers", json={"hidden": hidden})
    await http.aclose()
    assert changed.status_code == 200, changed.text
    assert changed.json()["observers_hidden"] is hidden


async def test_a_hidden_observer_is_told_beside_the_message_box_before_writing(
    server: RunningServer, browser: Browser, shots: Path
) -> None:
    mentor, trainee, supervisor, session_id = await three_people(
        server, "routed", observers_hidden=True
    )
    errors: list[str] = []
    with loopback_ice():
        desk = await signed_in_page(browser, server, mentor, DESKTOP)
        phone = await signed_in_page(browser, server, trainee, PHONE)
        watcher = await signed_in_page(browser, server, supervisor, DESKTOP)
        for name, page in (("mentor", desk), ("trainee", phone), ("observer", watcher)):
            watch(page, name, errors)
        await enter(desk, server, session_id)
        await enter(phone, server, session_id)
        await enter(watcher, server, session_id)

        # Nothing said yet: the observer is told beside the box, and the box says it too.
        box = watcher.get_by_label("Message")
        await expect(hint(watcher)).to_have_text(HINT)
        await expect(hint(watcher)).to_be_visible()
        await expect(box).to_have_accessible_description(HINT)
        await expect(watcher.locator("#chat-log li")).to_have_count(0)
        await watcher.screenshot(path=shots / "observer-chat-hint-1280x800.png")
        await watcher.set_viewport_size(PHONE["viewport"])
        await watcher.get_by_role("button", name="Chat & notes").click()
        await expect(hint(watcher)).to_be_in_viewport()
        await expect(box).to_be_in_viewport()
        await watcher.screenshot(path=shots / "observer-chat-hint-390x844.png")

        # Nobody else has it: the mentor beside the chat, the trainee in the open sheet.
        await phone.get_by_role("button", name="Chat & notes").click()
        for page in (desk, phone):
            await expect(page.get_by_label("Message")).to_be_visible()
            await expect(hint(page)).to_be_hidden()
            await expect(page.get_by_label("Message")).to_have_accessible_description("")

        # The mentor shows the observers during the call: the observer's hint goes at once,
        # while they neither turn to the message box nor type (the room tells them).
        await expect(box).not_to_be_focused()
        await set_hidden(server, mentor, session_id, False)
        await expect(phone.locator(".tile.observer .tile-name")).to_have_text("Test Supervisor")
        await expect(hint(watcher)).to_be_hidden()
        await expect(box).to_have_accessible_description("")

        # Hidden again: the hint is back, the box still untouched.
        await set_hidden(server, mentor, session_id, True)
        await expect(phone.locator(".tile.observer")).to_have_count(0)
        await expect(hint(watcher)).to_be_visible()
        await expect(box).to_have_accessible_description(re.compile("only the mentor"))
        await expect(box).not_to_be_focused()
        await expect(box).to_have_value("")
        for page in (desk, phone, watcher):
            await page.context.close()
    assert not errors, errors
