"""The call on a 390x844 phone keeps the video in view (issue 9): the remote picture is
letterboxed, not cropped, and chat, notes and feedback open as a bottom sheet that stops at half
height below the video, goes to full height, or closes — by dragging its handle or with buttons
a keyboard reaches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, FloatRect, Page, expect

from server.infra.roles import Role
from tests.browser.devices import PHONE
from tests.browser.test_accessibility import context_with_axe, violations
from tests.browser.test_call import join_as_mentor, sign_in, video_rises
from tests.browser.test_call_controls import DESK, guest_joins, invite_in_call, new_session
from tests.browser.test_notes import watch
from tests.support import RunningServer, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


async def box(page: Page, selector: str) -> FloatRect:
    found = await page.locator(selector).first.bounding_box()
    assert found is not None, selector
    return found


async def video_clear_of_sheet(page: Page) -> bool:
    """The remote video element lies wholly on screen and above the sheet's top edge."""
    video = await box(page, ".tile video")
    sheet = await box(page, "#side-panel")
    size = page.viewport_size
    assert size is not None
    return (
        video["height"] > 150
        and video["y"] >= 0
        and video["x"] >= 0
        and video["x"] + video["width"] <= size["width"]
        and video["y"] + video["height"] <= sheet["y"] + 1
    )


async def sheet_taller_than(page: Page, height: float) -> bool:
    return (await box(page, "#side-panel"))["height"] > height


async def test_phone_sheet_keeps_the_remote_video_in_view(
    server: RunningServer, browser: Browser, call_shots: Path
) -> None:
    mentor_user = await server.user(Role.MENTOR)
    session_id = await new_session(server, mentor_user)
    errors: list[str] = []
    desk = await context_with_axe(browser, DESK)
    mentor = await desk.new_page()
    watch(mentor, "mentor", errors)
    await sign_in(mentor, server, mentor_user.email)
    await join_as_mentor(mentor, server, session_id)
    url = await invite_in_call(mentor, "Sam Guest")
    phone = await context_with_axe(browser, PHONE)
    trainee = await phone.new_page()
    watch(trainee, "trainee", errors)
    await guest_joins(trainee, url)
    await mentor.get_by_role("button", name="Admit Sam Guest").click()
    await video_rises(trainee)
    await video_rises(mentor)

    # Letterboxed: the whole picture, never cropped.
    fit = await trainee.evaluate(
        "getComputedStyle(document.querySelector('.tile video')).objectFit"
    )
    assert fit == "contain"

    # --- the sheet at half height: notes below, the video wholly above ---------------------------
    await trainee.get_by_role("button", name="Chat & notes").click()
    await trainee.get_by_role("tab", name="Notes").click()
    await expect(trainee.locator("#notes-status")).to_have_text("Online")
    half = trainee.get_by_role("button", name="Half height")
    full = trainee.get_by_role("button", name="Full height")
    await expect(half).to_have_attribute("aria-pressed", "true")
    sheet = await box(trainee, "#side-panel")
    assert 844 * 0.3 < sheet["height"] < 844 * 0.6, sheet
    await wait_for(lambda: video_clear_of_sheet(trainee))
    await video_rises(trainee)  # still playing, not paused behind the sheet
    await trainee.screenshot(path=str(call_shots / "phone-notes-half.png"))

    # --- keyboard: full height, back to half, closed -------------------------------------------
    await full.focus()
    await trainee.keyboard.press("Enter")
    await expect(full).to_have_attribute("aria-pressed", "true")
    await expect(half).to_have_attribute("aria-pressed", "false")
    await wait_for(lambda: sheet_taller_than(trainee, 844 * 0.8))
    await trainee.screenshot(path=str(call_shots / "phone-notes-full.png"))
    await half.focus()
    await trainee.keyboard.press("Enter")
    await expect(half).to_have_attribute("aria-pressed", "true")
    await wait_for(lambda: video_clear_of_sheet(trainee))
    await trainee.get_by_role("button", name="Close panel").click()
    await expect(trainee.locator("#side-panel")).to_be_hidden()

    # --- dragging the handle: up to full, down to half, down to closed -------------------------
    await trainee.get_by_role("button", name="Chat & notes").click()

    async def drag_to(y: float) -> None:
        handle = await box(trainee, "#sheet-handle")
        x = handle["x"] + handle["width"] / 2
        await trainee.mouse.move(x, handle["y"] + handle["height"] / 2)
        await trainee.mouse.down()
        await trainee.mouse.move(x, y, steps=8)
        await trainee.mouse.up()

    await drag_to(60)
    await expect(full).to_have_attribute("aria-pressed", "true")
    await drag_to(844 * 0.5)
    await expect(half).to_have_attribute("aria-pressed", "true")
    await wait_for(lambda: video_clear_of_sheet(trainee))
    await drag_to(830)
    await expect(trainee.locator("#side-panel")).to_be_hidden()
    await expect(trainee.get_by_role("button", name="Chat & notes")).to_have_attribute(
        "aria-expanded", "false"
    )

    # --- the People tab on the phone; the desktop at 1280x800 -----------------------------------
    await trainee.get_by_role("button", name="Chat & notes").click()
    await trainee.get_by_role("tab", name="People").click()
    await expect(trainee.locator("#people-list li")).to_have_count(2)
    await expect(trainee.get_by_role("heading", name="Invite")).to_be_hidden()  # the mentor's
    await trainee.screenshot(path=str(call_shots / "phone-people-half.png"))
    await mentor.get_by_role("tab", name="People").click()
    # axe-core: the sheet, the People panel and the mentor's invites have no serious violation.
    assert {"phone": await violations(trainee), "desktop": await violations(mentor)} == {
        "phone": [],
        "desktop": [],
    }
    await mentor.get_by_role("tab", name="Notes").click()
    await mentor.screenshot(path=str(call_shots / "desktop-notes.png"))
    # The mentor on a phone-sized window: End, the timer and "Not recorded" all fit the top bar.
    await mentor.set_viewport_size({"width": 390, "height": 844})
    for selector in ("#end-session", "#rec-state", "#call-timer"):
        found = await box(mentor, selector)
        assert found["x"] >= 0, selector
        assert found["x"] + found["width"] <= 390, selector
    await mentor.screenshot(path=str(call_shots / "phone-mentor.png"))
    # Where the Web Share API exists (phones), Invite offers the share sheet with the link.
    await mentor.evaluate("navigator.share = async (data) => { window.__shared = data; }")
    await mentor.get_by_role("button", name="Chat & notes").click()
    url = await invite_in_call(mentor, "Kim Phone")
    await mentor.get_by_role("button", name="Share…").click()
    assert await mentor.evaluate("window.__shared?.url") == url
    await mentor.screenshot(path=str(call_shots / "phone-mentor-invite.png"))
    width: Any = await trainee.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    assert errors == []
    await phone.close()
    await desk.close()
