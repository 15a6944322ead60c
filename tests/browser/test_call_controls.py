"""The mentor runs the call from the call page alone (issue 9): invite from the People tab (copy
the link, see its uses, withdraw another), admit, see each person's state, a timer and "Not
recorded" on both screens, toggles that say what they will do, and End session for everyone.
Also: a second tab takes over the member; a socket refused for its Origin is not blamed on the
mentor; chat survives a reload; a trainee is told in the call when feedback arrives (a guest is
offered to sign in to their own account, and comes back to the call)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from server.infra.roles import Role, User
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.devices import DESKTOP, PHONE
from tests.browser.test_call import join_as_mentor, sign_in, video_rises
from tests.browser.test_notes import watch
from tests.feedback.test_workflow_api import MINI_CEX_OK
from tests.support import RunningServer, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

DESK: dict[str, Any] = {**DESKTOP, "permissions": ["clipboard-read", "clipboard-write"]}


async def new_session(server: RunningServer, mentor: User, **body: Any) -> str:
    http = await server.signed_in(mentor)
    try:
        body = {"title": "Airway review", "media_mode": "direct", **body}
        created = await http.post("/api/sessions", json=body)
        assert created.status_code == 201, created.text
        session_id: str = created.json()["id"]
        return session_id
    finally:
        await http.aclose()


async def invite_in_call(mentor: Page, name: str) -> str:
    """People tab → a link for a named guest; returns the link."""
    await mentor.get_by_role("tab", name="People").click()
    await mentor.get_by_label("Who is it for?").select_option(label="Someone else (a guest)")
    await mentor.get_by_label("Invitee name").fill(name)
    before = await mentor.locator("#invite-link").input_value()
    await mentor.get_by_role("button", name="Create invite link").click()
    link = mentor.get_by_label("Invite link")
    await expect(link).to_have_value(re.compile(r"/join/"))
    await expect(link).not_to_have_value(before)  # a new link, not the one made before
    return await link.input_value()


async def guest_joins(phone: Page, url: str) -> None:
    await phone.goto(url)
    await phone.get_by_role("button", name="Continue").click()
    await expect(phone.get_by_role("button", name="Join")).to_be_enabled()
    await phone.get_by_role("button", name="Join").click()
    await expect(phone.get_by_role("heading", name="Waiting for the mentor")).to_be_visible()


def person(page: Page, name: str) -> Any:
    return page.locator("#people-list li").filter(has_text=name)


async def in_viewport(page: Page, selector: str) -> bool:
    box = await page.locator(selector).bounding_box()
    size = page.viewport_size
    assert size is not None
    return bool(
        box
        and box["width"] > 0
        and box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= size["width"]
        and box["y"] + box["height"] <= size["height"]
    )


async def test_mentor_runs_the_call_and_ends_it_for_everyone(
    server: RunningServer, browser: Browser, call_shots: Path
) -> None:
    mentor_user = await server.user(Role.MENTOR)
    session_id = await new_session(server, mentor_user)
    errors: list[str] = []
    desk = await browser.new_context(**DESK)
    mentor = await desk.new_page()
    watch(mentor, "mentor", errors)
    await sign_in(mentor, server, mentor_user.email)
    await join_as_mentor(mentor, server, session_id)

    # --- the room before anyone else: timer, "Not recorded", an Invite way in ------------------
    await expect(mentor.get_by_role("timer", name="Time in the call")).to_have_text(
        re.compile(r"^\d\d:\d\d$")
    )
    await expect(mentor.get_by_text("Not recorded")).to_be_visible()
    await expect(mentor.get_by_role("button", name="Invite someone")).to_be_visible()

    # --- Invite from the call: copy the link, see it listed with its uses ----------------------
    url = await invite_in_call(mentor, "Sam Guest")
    assert url.startswith(server.url + "/join/")
    await mentor.get_by_role("button", name="Copy link").click()
    await expect(mentor.locator("#invite-status")).to_have_text("Link copied.")
    assert await mentor.evaluate("navigator.clipboard.readText()") == url
    invites = mentor.locator("#invite-list li")
    await expect(invites.filter(has_text="Sam Guest")).to_contain_text("Used 0 of 5")
    # A second link, withdrawn: it stays listed as withdrawn, without a Withdraw button.
    await invite_in_call(mentor, "Robin Spare")
    await mentor.get_by_role("button", name="Withdraw the link for Robin Spare").click()
    await expect(invites.filter(has_text="Robin Spare")).to_contain_text("withdrawn")
    await expect(
        mentor.get_by_role("button", name="Withdraw the link for Robin Spare")
    ).to_have_count(0)

    # --- the guest knocks on a phone; the People list says so; the mentor admits ---------------
    phone = await browser.new_context(**PHONE)
    trainee = await phone.new_page()
    watch(trainee, "trainee", errors)
    await guest_joins(trainee, url)
    await expect(person(mentor, "Sam Guest")).to_contain_text("Waiting to be let in")
    await mentor.get_by_role("button", name="Admit Sam Guest").click()
    await video_rises(mentor)
    await video_rises(trainee)
    await expect(person(mentor, "Sam Guest")).to_contain_text("Connected")
    await expect(invites.filter(has_text="Sam Guest")).to_contain_text("Used 1 of 5")

    # --- toggles say what they will do, and expose aria-pressed --------------------------------
    mute = trainee.locator("#ctl-mute")
    camera = trainee.locator("#ctl-camera")
    await expect(mute).to_have_accessible_name("Mute")
    await expect(mute).to_have_attribute("aria-pressed", "false")
    await expect(camera).to_have_accessible_name("Stop camera")
    await expect(camera).to_have_attribute("aria-pressed", "true")
    await mute.click()
    await camera.click()
    await expect(mute).to_have_accessible_name("Unmute")
    await expect(mute).to_have_attribute("aria-pressed", "true")
    await expect(camera).to_have_accessible_name("Start camera")
    await expect(camera).to_have_attribute("aria-pressed", "false")
    await expect(person(mentor, "Sam Guest")).to_contain_text("Muted · Camera off")
    await trainee.get_by_role("button", name="Unmute").click()
    await trainee.get_by_role("button", name="Start camera").click()
    await expect(person(mentor, "Sam Guest")).not_to_contain_text("Muted")

    # --- the timer and the recording state show on both screen sizes --------------------------
    for page in (mentor, trainee):
        await expect(page.get_by_role("timer", name="Time in the call")).to_be_visible()
        await expect(page.get_by_text("Not recorded")).to_be_visible()
        assert await in_viewport(page, "#rec-state")
        assert await in_viewport(page, "#call-timer")
    await expect(trainee.get_by_role("button", name="End session")).to_have_count(0)
    # A guest (came by link) has chat, notes and people, but no Feedback tab.
    await trainee.get_by_role("button", name="Chat & notes").click()
    await expect(trainee.get_by_role("tab", name="Notes")).to_be_visible()
    await expect(trainee.get_by_role("tab", name="Feedback")).to_have_count(0)
    await trainee.get_by_role("button", name="Close panel").click()
    await mentor.screenshot(path=str(call_shots / "desktop-people.png"))
    await trainee.screenshot(path=str(call_shots / "phone-room.png"))

    # --- End session for everyone: a confirmation, then everyone's "ended" page ----------------
    await mentor.get_by_role("button", name="End session", exact=True).click()
    dialog = mentor.get_by_role("dialog", name="End the session for everyone?")
    await expect(dialog).to_be_visible()
    await mentor.screenshot(path=str(call_shots / "desktop-end-confirm.png"))
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    await expect(trainee.get_by_role("button", name="Leave")).to_be_visible()
    await mentor.get_by_role("button", name="End session", exact=True).click()
    await dialog.get_by_role("button", name="End session for everyone").click()
    for page in (mentor, trainee):
        await expect(page.get_by_role("heading", name="This session has ended")).to_be_visible()
    await expect(mentor.get_by_role("link", name="Session record")).to_be_visible()
    # An admitted guest still reads the record; feedback needs their own account.
    await expect(trainee.get_by_role("link", name="Session record")).to_be_visible()
    await expect(trainee.locator("#ended-detail")).to_contain_text("sign in to your own account")
    await trainee.screenshot(path=str(call_shots / "phone-ended.png"))
    assert await trainee.evaluate("document.documentElement.scrollWidth") <= 390
    assert errors == []
    await phone.close()
    await desk.close()


async def test_a_second_tab_takes_over_and_the_first_can_take_it_back(
    server: RunningServer, browser: Browser, call_shots: Path
) -> None:
    mentor_user = await server.user(Role.MENTOR)
    session_id = await new_session(server, mentor_user)
    desk = await browser.new_context(**DESK)
    first = await desk.new_page()
    await sign_in(first, server, mentor_user.email)
    await join_as_mentor(first, server, session_id)
    url = await invite_in_call(first, "Sam Guest")
    phone = await browser.new_context(**PHONE)
    trainee = await phone.new_page()
    await guest_joins(trainee, url)
    await first.get_by_role("button", name="Admit Sam Guest").click()
    await video_rises(trainee)

    second = await desk.new_page()
    await join_as_mentor(second, server, session_id)
    await expect(first.get_by_role("heading", name="You joined from another tab")).to_be_visible()
    await expect(second.get_by_role("button", name="Leave")).to_be_visible()
    await video_rises(second)
    # The trainee sees one mentor, not two.
    await expect(trainee.locator(".tile")).to_have_count(1)
    await expect(trainee.locator(".tile-name")).to_have_text("Test Mentor")
    await first.screenshot(path=str(call_shots / "desktop-replaced.png"))

    await first.get_by_role("button", name="Take the call back here").click()
    await expect(second.get_by_role("heading", name="You joined from another tab")).to_be_visible()
    await expect(first.get_by_role("button", name="Leave")).to_be_visible()
    await video_rises(first)
    await expect(trainee.locator(".tile")).to_have_count(1)
    await phone.close()
    await desk.close()


async def test_a_refused_origin_is_not_blamed_on_the_mentor(
    server: RunningServer, call_shots: Path
) -> None:
    """PRECEPTOR_PUBLIC_URL not matching the address opened: the mentor's own socket is refused
    for its Origin. The page says what happened and what to do (issue 9, dead end 3)."""
    mentor_user = await server.user(Role.MENTOR)
    session_id = await new_session(server, mentor_user)
    port = server.url.rsplit(":", 1)[1]
    other = f"http://preceptor.test:{port}"
    # The browser reaches the same loopback server under a name the server does not expect.
    args = [*CHROMIUM_ARGS, "--host-resolver-rules=MAP preceptor.test 127.0.0.1"]
    async with async_playwright() as playwright:
        instance = await playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        context = await instance.new_context(**DESKTOP)
        page = await context.new_page()
        await sign_in(page, server, mentor_user.email)
        cookies = await context.cookies(server.url)
        await context.add_cookies(
            [{"name": c["name"], "value": c["value"], "url": other} for c in cookies]
        )
        await page.goto(f"{other}/sessions/{session_id}")
        await page.get_by_role("button", name="Join").click()
        heading = page.get_by_role("heading", level=1)
        await expect(heading).to_have_text("This address cannot join the call")
        await expect(page.locator("#ended-detail")).to_contain_text("PRECEPTOR_PUBLIC_URL")
        await expect(page.get_by_text("did not let you in")).to_have_count(0)
        await page.screenshot(path=str(call_shots / "desktop-origin-refused.png"))
        await instance.close()


async def mentor_alone_in_a_call(
    server: RunningServer, browser: Browser
) -> tuple[BrowserContext, Page]:
    """A new mentor's desktop page, joined to a new session of theirs."""
    mentor_user = await server.user(Role.MENTOR)
    session_id = await new_session(server, mentor_user)
    desk = await browser.new_context(**DESK)
    mentor = await desk.new_page()
    await sign_in(mentor, server, mentor_user.email)
    await join_as_mentor(mentor, server, session_id)
    return desk, mentor


async def test_chat_history_survives_a_reload(server: RunningServer, browser: Browser) -> None:
    desk, mentor = await mentor_alone_in_a_call(server, browser)
    await mentor.get_by_label("Message").fill("Before the reload")
    await mentor.get_by_role("button", name="Send").click()
    line = mentor.locator("#chat-log li").filter(has_text="Before the reload")
    await expect(line).to_contain_text("You")
    await mentor.reload()
    await mentor.get_by_role("button", name="Join").click()
    await expect(line).to_have_count(1)
    await expect(line).to_contain_text("You")
    await desk.close()


async def test_a_chat_line_that_arrives_twice_shows_once(
    server: RunningServer, browser: Browser
) -> None:
    # When a room moves between nodes while a line is being stored, the old node relays the
    # line and the new one tells its members too (server/live/rooms/hub.py): one line on screen.
    desk, mentor = await mentor_alone_in_a_call(server, browser)
    await mentor.get_by_label("Message").fill("Said once")
    await mentor.get_by_role("button", name="Send").click()
    line = mentor.locator("#chat-log li").filter(has_text="Said once")
    await expect(line).to_contain_text("You")
    chat_id = await line.get_attribute("data-chat-id")
    assert chat_id
    # The same line delivered again, as the page's socket handler would show it.
    await mentor.evaluate(
        """async (id) => {
            const ui = await import("/static/call/ui.js");
            const line = { name: "Test Mentor", text: "Said once", at: Date.now(), mine: true };
            ui.appendChat({ ...line, id });
            ui.appendChat({ ...line, id: "another" });
        }""",
        chat_id,
    )
    # Another line with the same words is another line.
    await expect(line).to_have_count(2)
    await expect(mentor.locator(f'#chat-log li[data-chat-id="{chat_id}"]')).to_have_count(1)
    await desk.close()


@pytest.mark.parametrize("device", ["phone", "desktop"])
async def test_a_passing_toast_leaves_the_recording_bar_readable(
    server: RunningServer, browser: Browser, call_shots: Path, device: str
) -> None:
    # "Sam Guest joined" used to sit on the bar under the top bar: on a consent question and its
    # buttons, or here the mentor's note that a direct session cannot be recorded.
    mentor_user = await server.user(Role.MENTOR)
    session_id = await new_session(server, mentor_user)
    context = await browser.new_context(**(PHONE if device == "phone" else DESK))
    mentor = await context.new_page()
    await sign_in(mentor, server, mentor_user.email)
    await join_as_mentor(mentor, server, session_id)
    bar = mentor.locator("#rec-consent")
    await expect(bar).to_be_visible()
    await mentor.evaluate(
        """async () => (await import("/static/call/ui.js")).toast("Sam Guest joined")"""
    )
    toast = mentor.locator("#toast")
    await expect(toast).to_have_text("Sam Guest joined")
    toast_box, bar_box = await toast.bounding_box(), await bar.bounding_box()
    assert toast_box is not None
    assert bar_box is not None
    assert toast_box["y"] >= bar_box["y"] + bar_box["height"], (toast_box, bar_box)
    await mentor.screenshot(path=str(call_shots / f"{device}-toast-below-bar.png"))
    await context.close()


async def submit_mini_cex(
    server: RunningServer, mentor: User, session_id: str, trainee: str
) -> None:
    http = await server.signed_in(mentor)
    try:
        form = await http.post(
            f"/api/sessions/{session_id}/feedback",
            json={
                "instrument_id": "mini-cex-abim",
                "trainee_id": trainee,
                "responses": MINI_CEX_OK,
            },
        )
        assert form.status_code == 201, form.text
        done = await http.post(f"/api/feedback/{form.json()['id']}/submit")
        assert done.status_code == 200, done.text
    finally:
        await http.aclose()


async def test_feedback_notice_and_a_guest_signs_in_back_to_the_call(
    server: RunningServer, browser: Browser, call_shots: Path
) -> None:
    mentor_user = await server.user(Role.MENTOR)
    trainee_user = await server.user(Role.TRAINEE)
    session_id = await new_session(server, mentor_user, trainee_ids=[trainee_user.id])
    desk = await browser.new_context(**DESK)
    mentor = await desk.new_page()
    await sign_in(mentor, server, mentor_user.email)
    await join_as_mentor(mentor, server, session_id)
    url = await invite_in_call(mentor, "Sam Guest")
    phone = await browser.new_context(**PHONE)
    guest = await phone.new_page()
    await guest_joins(guest, url)
    await mentor.get_by_role("button", name="Admit Sam Guest").click()
    await expect(guest.get_by_role("button", name="Leave")).to_be_visible()

    await submit_mini_cex(server, mentor_user, session_id, trainee_user.id)
    notice = guest.locator("#call-notice")
    await expect(notice).to_contain_text("Your mentor sent you feedback")
    await expect(notice).to_contain_text("Sign in to your own account")
    await guest.screenshot(path=str(call_shots / "phone-feedback-notice-guest.png"))
    await notice.get_by_role("button", name="Sign in to your account").click()
    dialog = guest.get_by_role("dialog", name="Sign in to your account")
    await dialog.get_by_role("button", name="Sign in").click()
    await expect(dialog.get_by_role("alert")).to_have_text("Type your e-mail address and password.")
    await dialog.get_by_label("E-mail").fill(trainee_user.email)
    await dialog.get_by_label("Password").fill("s3cret-pass!")
    await dialog.get_by_role("button", name="Sign in").click()
    # Back on this call's page, now as the trainee's own account.
    await expect(guest.get_by_role("heading", name="Check your camera")).to_be_visible()
    assert f"/sessions/{session_id}" in guest.url
    await guest.get_by_role("button", name="Join").click()
    await expect(guest.get_by_role("button", name="Leave")).to_be_visible()
    # Signed in to her own account, she has the Feedback tab (her self-assessment).
    await guest.get_by_role("button", name="Chat & notes").click()
    await expect(guest.get_by_role("tab", name="Feedback")).to_be_visible()
    await guest.get_by_role("button", name="Close panel").click()

    await submit_mini_cex(server, mentor_user, session_id, trainee_user.id)
    await expect(notice).to_contain_text("Your mentor sent you feedback")
    link = notice.get_by_role("link", name="Open your feedback")
    await expect(link).to_have_attribute("href", f"/review/sessions/{session_id}#feedback")
    await phone.close()
    await desk.close()


async def test_a_toggle_reads_right_before_any_call(
    server: RunningServer, browser: Browser
) -> None:
    """Cheap guard for the labels: joined alone, the camera and mute toggles flip both ways."""
    desk, mentor = await mentor_alone_in_a_call(server, browser)
    camera = mentor.locator("#ctl-camera")
    for label, pressed in (("Start camera", "false"), ("Stop camera", "true")):
        await camera.click()
        await expect(camera).to_have_accessible_name(label)
        await expect(camera).to_have_attribute("aria-pressed", pressed)
    await wait_for(
        lambda: mentor.evaluate("!document.getElementById('self-tile').classList.contains('off')")
    )
    await desk.close()
