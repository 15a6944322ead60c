"""Issue 9, the whole mentor journey from the pages alone, with no API call from the test: the
mentor (desktop) creates a session with a trainee account picked by name and invites her; the
trainee (a phone) opens the link, signs in to her own account and lands back in the call; a guest
invited from the call is admitted; the mentor marks a moment, fills and submits a Mini-CEX citing
it; the trainee is told in the call; the mentor ends the session for everyone, and both phones
say so.
Accounts are made as an admin would (the accounts service), not through the API."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.async_api import Browser, Page, expect

from server.infra.roles import Role
from tests.browser.devices import PHONE
from tests.browser.test_call import ARTIFACTS, video_rises
from tests.browser.test_call_controls import DESK, guest_joins, invite_in_call, person
from tests.browser.test_feedback import DOMAINS, choose, open_feedback, saved
from tests.browser.test_home import PASSWORD, new_session, sign_in, trainee
from tests.browser.test_notes import watch
from tests.media.support import loopback_ice
from tests.support import RunningServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


@pytest.fixture(autouse=True)
def media_on_loopback() -> Iterator[None]:
    """The session is "Automatic" (the form's default): the guest makes three, and the call
    moves to the server's media peer, which gathers 127.0.0.1 only in tests."""
    with loopback_ice():
        yield


async def shot(page: Page, name: str) -> None:
    await page.screenshot(path=str(ARTIFACTS / f"journey-{name}.png"))


async def test_a_mentor_runs_a_whole_session_from_the_pages(
    server: RunningServer, browser: Browser
) -> None:
    mentor_user = await server.user(Role.MENTOR)
    await trainee(server, "Jane Okafor", "jane@example.org")
    errors: list[str] = []

    # --- the mentor, on a desktop: a session with Jane's account, and an invite for her --------
    desk = await browser.new_context(**DESK)
    home = await desk.new_page()
    watch(home, "mentor home", errors)
    await home.goto(server.url + "/")
    await sign_in(home, mentor_user.email)
    item = await new_session(home, "Knee examination", ["Jane Okafor"])
    await item.get_by_role("button", name="Invite").click()
    await item.get_by_role("button", name="Create invite").click()
    link = item.get_by_label("Invite link")
    await expect(link).to_have_value(re.compile(r"/join/"))
    jane_url = await link.input_value()
    await item.get_by_role("link", name="Open").click()
    call = home
    await call.get_by_role("button", name="Join").click()
    await expect(call.get_by_role("button", name="Leave")).to_be_visible()

    # --- Jane, on her phone: the link asks her to sign in and brings her back to the call -------
    phone = await browser.new_context(**PHONE)
    jane = await phone.new_page()
    watch(jane, "trainee", errors)
    await jane.goto(jane_url)
    await jane.get_by_role("link", name="Sign in").click()
    await jane.get_by_label("E-mail").fill("jane@example.org")
    await jane.get_by_label("Password").fill(PASSWORD)
    await jane.get_by_role("button", name="Sign in").click()
    await expect(jane.get_by_role("heading", name="Check your camera")).to_be_visible()
    await jane.get_by_role("button", name="Join").click()
    # A listed trainee signed in to her own account goes straight in: no lobby.
    await expect(jane.get_by_role("button", name="Leave")).to_be_visible()
    await video_rises(jane)
    await video_rises(call)

    # --- a guest invited from the call waits in the lobby; the mentor admits him --------------
    guest_url = await invite_in_call(call, "Sam Guest")
    guest_context = await browser.new_context(**PHONE)
    guest = await guest_context.new_page()
    watch(guest, "guest", errors)
    await guest_joins(guest, guest_url)
    await expect(person(call, "Sam Guest")).to_contain_text(re.compile("waiting", re.I))
    await call.get_by_role("button", name="Admit Sam Guest").click()
    await expect(guest.get_by_role("button", name="Leave")).to_be_visible()

    # --- a mark, then a Mini-CEX for Jane that cites it ----------------------------------------
    await call.get_by_label("Mark label").fill("Good rapport")
    await call.get_by_role("button", name="Mark", exact=True).click()
    await expect(call.get_by_role("status").filter(has_text="Marked at")).to_have_text(
        re.compile(r"^Marked at \+\d\d:\d\d into the call$")
    )
    form = await open_feedback(call)
    await choose(form, "Setting", "Emergency department")
    await choose(form, "Complexity", "Moderate")
    for domain, answer in DOMAINS.items():
        await choose(form, domain, answer)
    await form.get_by_label("Time observing", exact=True).fill("15")
    await form.get_by_label("Time providing feedback", exact=True).fill("5")
    await form.get_by_label(re.compile("^Comments"), exact=False).fill("Clear history.")
    interviewing = form.locator('.fb-item[data-item="medical_interviewing"]')
    await interviewing.get_by_role("button", name="Cite mark").click()
    await interviewing.get_by_role("checkbox", name=re.compile("Good rapport")).check()
    await saved(call)
    await shot(call, "feedback-desktop")
    await form.get_by_role("button", name="Submit feedback").click()
    await expect(call.locator("#panel-feedback .fb-save")).to_have_text("Submitted")

    # Jane is told in the call, with a way to her feedback.
    notice = jane.locator("#call-notice")
    await expect(notice).to_contain_text("Your mentor sent you feedback")
    await expect(notice.get_by_role("link", name="Open your feedback")).to_be_visible()
    await shot(jane, "feedback-notice-phone")

    # --- End session for everyone (with a confirm) --------------------------------------------
    await call.get_by_role("button", name="End session").click()
    dialog = call.get_by_role("dialog")
    await dialog.get_by_role("button", name="End session for everyone").click()
    for page in (jane, guest, call):
        await expect(page.get_by_role("heading", name="This session has ended")).to_be_visible()
    await shot(jane, "ended-phone")
    await shot(call, "ended-desktop")
    assert errors == []
    await guest_context.close()
    await phone.close()
    await desk.close()
