"""A hidden observer knows before writing that the trainee will not read the chat (issue 11): a
standing hint beside the message box, which describes the box, shown to that observer only (not
to the mentor nor the trainee). The mentor shows the observers during the call: the hint goes
at once, without the observer touching the message box; hidden again, it is back at once.
Headless Chromium on the real pages (DESIGN.md §7); screenshots of the observer's chat at
1280x800 and 390x844 go to /tmp/shots/observer/ for a person to look at."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, Route, expect

from server.infra.roles import User
from tests.browser.devices import DESKTOP, PHONE
from tests.browser.test_call_routed import enter, signed_in_page, three_people
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


BeforeEntering = Callable[[Page], Awaitable[None]]


@dataclass
class HiddenObserverCall:
    mentor: User
    session_id: str
    desk: Page
    phone: Page
    watcher: Page


@contextlib.asynccontextmanager
async def hidden_observer_call(
    server: RunningServer,
    browser: Browser,
    errors: list[str],
    *,
    before_observer: BeforeEntering | None = None,
) -> AsyncIterator[HiddenObserverCall]:
    """Mentor (desktop) and trainee (phone) in a routed call that hides observers, then the
    supervisor's page (desktop) joins as a hidden observer; ``before_observer(page)`` runs on
    the observer's page before it enters (to route its requests)."""
    mentor, trainee, supervisor, session_id = await three_people(
        server, "routed", observers_hidden=True
    )
    with loopback_ice():
        desk = await signed_in_page(browser, server, mentor, DESKTOP)
        phone = await signed_in_page(browser, server, trainee, PHONE)
        watcher = await signed_in_page(browser, server, supervisor, DESKTOP)
        for name, page in (("mentor", desk), ("trainee", phone), ("observer", watcher)):
            watch(page, name, errors)
        await enter(desk, server, session_id)
        await enter(phone, server, session_id)
        if before_observer is not None:
            await before_observer(watcher)
        await enter(watcher, server, session_id)
        yield HiddenObserverCall(mentor, session_id, desk, phone, watcher)
        for page in (desk, phone, watcher):
            await page.context.close()


# Whether a caption's text (which can overflow its box) lies within the caption's box, and the
# box within its tile (which clips what passes its edge).
TEXT_INSIDE_TILE = """caption => {
    const text = document.createRange();
    text.selectNodeContents(caption);
    const drawn = text.getBoundingClientRect();
    const box = caption.getBoundingClientRect();
    const tile = caption.closest("figure").getBoundingClientRect();
    return drawn.left >= box.left && drawn.right <= box.right
        && box.left >= tile.left && box.right <= tile.right && box.bottom <= tile.bottom;
}"""


async def test_a_hidden_observer_is_told_beside_the_message_box_before_writing(
    server: RunningServer, browser: Browser, shots: Path
) -> None:
    errors: list[str] = []
    async with hidden_observer_call(server, browser, errors) as call:
        mentor, session_id = call.mentor, call.session_id
        desk, phone, watcher = call.desk, call.phone, call.watcher
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
        # Its own small picture says "You · observing" inside its edges, not past them.
        assert await watcher.locator("#self-tile figcaption").evaluate(TEXT_INSIDE_TILE)

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
    assert not errors, errors


async def test_a_session_read_overtaken_by_the_rooms_word_does_not_bring_the_hint_back(
    server: RunningServer, browser: Browser
) -> None:
    # After its welcome the page reads the session (for the timer and the setting). The mentor
    # shows the observers while that read is on its way: the read's answer, older than the
    # room's `observers-hidden`, must not put the hint back (it did: stale for the whole call).
    held = asyncio.Event()
    release = asyncio.Event()
    reads = 0

    async def hold_the_second_read(page: Page) -> None:
        async def handle(route: Route) -> None:
            nonlocal reads
            reads += 1
            if reads == 1 or route.request.method != "GET":
                await route.continue_()
                return
            answer = await route.fetch()  # the setting as it is now: hidden
            held.set()
            await release.wait()
            await route.fulfill(response=answer)

        await page.route(re.compile(r"/api/sessions/[^/]+$"), handle)

    errors: list[str] = []
    async with hidden_observer_call(
        server, browser, errors, before_observer=hold_the_second_read
    ) as call:
        await asyncio.wait_for(held.wait(), timeout=30)
        await set_hidden(server, call.mentor, call.session_id, False)
        timer = call.watcher.get_by_role("timer", name="Time in the call")
        await expect(timer).to_be_hidden()  # started by the answer being held
        await expect(hint(call.watcher)).to_be_hidden()
        release.set()
        # The held answer arrives (hidden: true, read before the change) and is set aside.
        await expect(timer).to_be_visible()
        await expect(hint(call.watcher)).to_be_hidden()
        await expect(call.watcher.get_by_label("Message")).to_have_accessible_description("")
    assert not errors, errors
