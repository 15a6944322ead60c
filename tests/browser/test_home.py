"""A mentor runs trainees and invites from the pages alone (issue 9, "Trainees in the pages"),
with no API call from the test: a session made with a trainee account picked by name takes
feedback (dead end 1); an invite made for that account asks the trainee to sign in and comes back
to the call; a guest is let in, a stranger on another link is denied and cannot knock again with
it; the mentor links the guest to an account; after the end the guest still reads the record
(dead end 5) and the link says the session is over instead of sending them round in a circle.
Screenshots at 390x844 and 1280x800 land in test-artifacts/home-*.png.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from server.infra.roles import Role, User
from tests.browser.devices import DESKTOP, PHONE
from tests.browser.test_accessibility import context_with_axe, violations
from tests.browser.test_call import ARTIFACTS, join_as_mentor
from tests.support import RunningServer, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

PASSWORD = "s3cret-pass!"


async def trainee(server: RunningServer, name: str, email: str) -> User:
    return await server.services.accounts.create_user(
        email=email, name=name, role=Role.TRAINEE, password=PASSWORD, actor_id=None
    )


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"home-{name}.png"), full_page=True)


async def sign_in(page: Page, email: str) -> None:
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()


def session_item(page: Page, title: str) -> Locator:
    return page.locator("li.session-item").filter(has_text=title)


async def new_session(page: Page, title: str, trainee_names: list[str]) -> Locator:
    await page.get_by_label("Title").fill(title)
    for name in trainee_names:
        await page.get_by_label("Trainees (optional)").fill(name.split()[0][:3].lower())
        await page.get_by_role("button", name=f"Add {name}").click()
        chosen = page.get_by_role("list", name="Trainees chosen")
        await expect(chosen.get_by_role("button", name=f"Remove {name}")).to_be_visible()
    await page.get_by_label("Start time (optional)").fill("2030-03-04T09:30")
    await page.get_by_role("button", name="Create session").click()
    item = session_item(page, title)
    await expect(item).to_be_visible()
    return item


async def invite_link(item: Locator, *, guest: str | None = None) -> str:
    await item.get_by_role("button", name="Invite").click()
    if guest is not None:
        if await item.get_by_label("Who is it for?").count():
            await item.get_by_label("Who is it for?").select_option(label="A guest, by name")
        await item.get_by_label("Invitee name").fill(guest)
    await item.get_by_role("button", name="Create invite").click()
    link = item.get_by_label("Invite link")
    await expect(link).to_have_value(re.compile(r"/join/"))
    return await link.input_value()


async def test_a_session_made_in_the_page_with_a_trainee_account(
    server: RunningServer, browser: Browser
) -> None:
    mentor_user = await server.user(Role.MENTOR)
    await trainee(server, "Jane Okafor", "jane@example.org")
    await trainee(server, "Janet Li", "janet@example.org")
    errors: list[str] = []

    desk = await browser.new_context(**DESKTOP)
    mentor = await desk.new_page()
    mentor.on("pageerror", lambda exc: errors.append(f"mentor: {exc}"))
    await mentor.goto(server.url + "/")
    await sign_in(mentor, mentor_user.email)
    await expect(mentor.get_by_role("heading", name="Welcome, Test Mentor")).to_be_visible()

    # Search by name: only ids and names come back; two letters at least.
    await mentor.get_by_label("Trainees (optional)").fill("j")
    await expect(mentor.get_by_text("Type at least 2 letters of the name.")).to_be_visible()
    await mentor.get_by_label("Trainees (optional)").fill("jan")
    await expect(mentor.get_by_role("button", name="Add Janet Li")).to_be_visible()
    await expect(mentor.locator("#new-session").get_by_text("@example.org")).to_have_count(0)
    await shot(mentor, "search-desktop")
    item = await new_session(mentor, "Knee examination", ["Jane Okafor"])
    await expect(item.get_by_text("Trainee: Jane Okafor")).to_be_visible()
    await expect(item.get_by_text(re.compile(r"starts .*2030"))).to_be_visible()

    # The invite defaults to the listed trainee's account.
    await item.get_by_role("button", name="Invite").click()
    await expect(item.get_by_label("Who is it for?")).to_have_value(re.compile(r"\w+"))
    await expect(item.get_by_label("Invitee name")).to_be_hidden()
    await shot(mentor, "invite-form-desktop")
    await item.get_by_role("button", name="Create invite").click()
    link = item.get_by_label("Invite link")
    await expect(link).to_have_value(re.compile(r"/join/"))
    url = await link.input_value()
    await expect(item.get_by_text(re.compile(r"For Jane Okafor\. Expires"))).to_be_visible()
    await shot(mentor, "invite-desktop")

    # The trainee's phone: the link asks her to sign in, and signing in comes back to the call.
    phone = await browser.new_context(**PHONE)
    jane = await phone.new_page()
    jane.on("pageerror", lambda exc: errors.append(f"trainee: {exc}"))
    await jane.goto(url)
    await expect(jane.get_by_text("This invite is for Jane Okafor's account.")).to_be_visible()
    await expect(jane.get_by_label("Your name")).to_be_hidden()
    await jane.get_by_role("button", name="Join as a guest instead").click()
    await expect(jane.get_by_label("Your name")).to_have_value("Jane Okafor")
    await shot(jane, "join-account-phone")
    await jane.get_by_role("link", name="Sign in").click()
    await expect(jane.get_by_text("Sign in to your own account")).to_be_visible()
    await sign_in(jane, "jane@example.org")
    await expect(jane).to_have_url(re.compile(r"/sessions/[0-9a-f]+$"))
    await expect(jane.get_by_role("heading", name="Check your camera")).to_be_visible()
    # Signed in, the same link goes straight to the call.
    await jane.goto(url)
    await expect(jane.get_by_text("You are signed in as Jane Okafor")).to_be_visible()
    await expect(jane.get_by_role("link", name="Go to the call")).to_have_attribute(
        "href", re.compile(r"^/sessions/")
    )

    # Dead end 1: the mentor's Feedback tab offers a form for Jane, not "add a trainee".
    await item.get_by_role("link", name="Open").click()
    await mentor.get_by_role("button", name="Join").click()
    await expect(mentor.get_by_role("button", name="Leave")).to_be_visible()
    await mentor.get_by_role("tab", name="Feedback").click()
    await expect(mentor.get_by_label("Instrument")).to_be_visible()
    await expect(mentor.get_by_text("add a trainee account to this session")).to_have_count(0)

    # The mentor opening Jane's link is told it is for another account, not sent into a loop.
    await mentor.goto(url)
    await expect(mentor.get_by_text("but this browser is signed in as Test Mentor")).to_be_visible()

    # Back home: add a trainee later, take her off again (no feedback yet).
    await mentor.goto(server.url + "/")
    item = session_item(mentor, "Knee examination")
    await item.get_by_role("button", name="People and links").click()
    await item.get_by_label("Add a trainee").fill("janet")
    await item.get_by_role("button", name="Add Janet Li").click()
    await expect(item.get_by_text("Trainees: Jane Okafor, Janet Li")).to_be_visible()
    await expect(item.get_by_label("Add a trainee")).to_be_focused()
    await expect(item.get_by_text("Used 0 of 5")).to_be_visible()
    await shot(mentor, "people-desktop")
    await item.get_by_role("button", name="Remove Janet Li").click()
    await expect(item.get_by_text("Trainee: Jane Okafor")).to_be_visible()
    await mentor.set_viewport_size({"width": 390, "height": 844})
    await shot(mentor, "people-phone")
    await mentor.get_by_label("Trainees (optional)").fill("jan")
    await mentor.get_by_role("button", name="Add Janet Li").click()
    await mentor.get_by_label("Trainees (optional)").fill("jan")
    await expect(mentor.get_by_role("button", name="Add Jane Okafor")).to_be_visible()
    await expect(mentor.get_by_role("button", name="Add Janet Li")).to_have_count(0)
    await shot(mentor, "search-phone")
    assert errors == []
    await phone.close()
    await desk.close()


async def test_guests_denied_linked_and_after_the_end(
    server: RunningServer, browser: Browser
) -> None:
    mentor_user = await server.user(Role.MENTOR)
    await trainee(server, "Jane Okafor", "jane@example.org")
    errors: list[str] = []
    desk = await browser.new_context(**DESKTOP)
    home = await desk.new_page()
    home.on("pageerror", lambda exc: errors.append(f"mentor: {exc}"))
    await home.goto(server.url + "/")
    await sign_in(home, mentor_user.email)
    item = await new_session(home, "Chest pain history", [])
    await expect(item.get_by_text("No trainee account yet: add one")).to_be_visible()
    guest_url = await invite_link(item, guest="Sam Guest")
    stranger_url = await invite_link(item, guest="Robin")
    session_id = (await item.get_by_role("link", name="Open").get_attribute("href") or "").split(
        "/"
    )[-1]
    call = await desk.new_page()
    await join_as_mentor(call, server, session_id)

    async def knock(url: str) -> Page:
        context = await browser.new_context(**PHONE)
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(f"phone: {exc}"))
        await page.goto(url)
        await page.get_by_role("button", name="Continue").click()
        await page.get_by_role("button", name="Join").click()
        await expect(
            page.get_by_role("heading", name=re.compile("Waiting for the mentor"))
        ).to_be_visible()
        return page

    sam = await knock(guest_url)
    await call.get_by_role("button", name="Admit Sam Guest").click()
    await expect(sam.get_by_role("button", name="Leave")).to_be_visible()
    robin = await knock(stranger_url)
    await call.get_by_role("button", name="Deny Robin").click()
    await expect(robin.get_by_role("heading", name="The mentor did not let you in")).to_be_visible()
    # The mentor sees why the link is withdrawn (the denial is stored a moment after the
    # lobby closes: the panel is reopened until it shows) ...
    item = session_item(home, "Chest pain history")
    withdrawn = item.get_by_text("Withdrawn: you denied someone who used it")

    async def shows_withdrawn() -> bool:
        await home.reload()
        await item.get_by_role("button", name="People and links").click()
        await expect(item.get_by_text("Used 1 of 5").first).to_be_visible()
        return await withdrawn.count() == 1

    await wait_for(shows_withdrawn, timeout=10, interval=0.2)
    # ... and the same link cannot knock again, and says why.
    await robin.goto(stranger_url)
    await expect(robin.get_by_text("The mentor did not let you in with this link")).to_be_visible()
    await expect(robin.get_by_label("Your name")).to_be_hidden()
    await shot(robin, "denied-link-phone")

    # The mentor links the guest to Jane's account.
    await item.get_by_role("button", name="Link Sam Guest to an account").click()
    await item.get_by_label("Which trainee account is Sam Guest?").fill("okafor")
    await item.get_by_role("button", name="Link to Jane Okafor").click()
    await expect(item.get_by_text("Trainee: Jane Okafor")).to_be_visible()
    await expect(item.get_by_text(re.compile("linked to Jane Okafor's account"))).to_be_visible()
    await shot(home, "guests-desktop")

    # The end. Sam's link now says the call is over and leads to the record, which Sam (let
    # in) still reads: not "You are not signed in", not back to the mentor for a new link.
    await item.get_by_role("button", name="End").click()
    await item.get_by_role("button", name="Confirm end").click()
    ended_badge = session_item(home, "Chest pain history").get_by_text("Ended", exact=True)
    await expect(ended_badge).to_be_visible()
    await expect(sam.get_by_role("heading", name="This session has ended")).to_be_visible()
    await sam.goto(guest_url)
    await expect(sam.get_by_role("heading", name="This session has ended")).to_be_visible()
    await shot(sam, "ended-link-phone")
    await sam.get_by_role("link", name="See the session record").click()
    await expect(sam.get_by_role("heading", name="Chest pain history")).to_be_visible()
    await expect(sam.get_by_text("You are not signed in")).to_have_count(0)
    await shot(sam, "guest-record-after-end-phone")
    # Someone else with the link (no sign-in) is told what to do, once.
    await robin.context.clear_cookies()
    await robin.goto(guest_url)
    await expect(
        robin.get_by_text(re.compile("sign in to see the record; otherwise ask"))
    ).to_be_visible()
    assert errors == []
    await desk.close()


async def test_people_and_join_pages_by_keyboard_and_axe(
    server: RunningServer, browser: Browser
) -> None:
    """Keyboard only: search, pick, create, open the panel; axe reports nothing serious on the
    home page with the panel open, or on the join page of an account's invite (phone)."""
    mentor_user = await server.user(Role.MENTOR)
    await trainee(server, "Jane Okafor", "jane@example.org")
    context = await context_with_axe(browser, DESKTOP)
    page = await context.new_page()
    await page.goto(server.url + "/")
    await sign_in(page, mentor_user.email)
    await page.get_by_label("Title").fill("Handover")
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Trainees (optional)")).to_be_focused()
    await page.keyboard.type("oka")
    add = page.get_by_role("button", name="Add Jane Okafor")
    await expect(add).to_be_visible()
    await page.keyboard.press("Tab")
    await expect(add).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("button", name="Remove Jane Okafor")).to_be_visible()
    # Enter in the title submits (Enter in the search only searches).
    await page.get_by_label("Title").focus()
    await page.keyboard.press("Enter")
    item = session_item(page, "Handover")
    await expect(item.get_by_text("Trainee: Jane Okafor")).to_be_visible()
    toggle = item.get_by_role("button", name="People and links")
    await toggle.focus()
    await page.keyboard.press("Enter")
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    url = await invite_link(item)
    await expect(item.get_by_text("Used 0 of 5")).to_be_visible()
    assert await violations(page) == []

    phone_context = await context_with_axe(browser, PHONE)
    phone = await phone_context.new_page()
    await phone.goto(url)
    await phone.get_by_role("button", name="Join as a guest instead").click()
    await expect(phone.get_by_label("Your name")).to_be_visible()
    assert await violations(phone) == []
    await phone_context.close()
    await context.close()


async def test_new_session_offers_how_video_travels_and_who_sees_observers(
    server: RunningServer, browser: Browser
) -> None:
    """Issue 11: "Automatic" is the default; "Direct only" and "Through the server" are a choice
    away, each explained; the list says which a session uses; supervisors may observe unseen by
    the trainee, set when creating the session or later from the list."""
    mentor_user = await server.user(Role.MENTOR)
    errors: list[str] = []
    desk = await browser.new_context(**DESKTOP)
    mentor = await desk.new_page()
    mentor.on("pageerror", lambda exc: errors.append(str(exc)))
    await mentor.goto(server.url + "/")
    await sign_in(mentor, mentor_user.email)
    video = mentor.get_by_role("group", name="Video")
    await expect(video.get_by_role("radio", name="Automatic (recommended)")).to_be_checked()
    direct = video.get_by_role("radio", name="Direct only")
    await expect(direct).to_have_accessible_description(re.compile("no recording, no observers"))
    form = mentor.locator("#new-session")
    hidden = form.get_by_role("checkbox", name=re.compile("observe without the trainee"))
    await expect(hidden).not_to_be_checked()
    await shot(mentor, "media-choice-desktop")
    await mentor.set_viewport_size({"width": 390, "height": 844})
    await shot(mentor, "media-choice-phone")
    await mentor.set_viewport_size(DESKTOP["viewport"])

    auto = await new_session(mentor, "Suturing", [])
    await expect(auto.get_by_text("Automatic video")).to_be_visible()
    # A direct session cannot be observed: the setting goes away with that choice.
    await mentor.get_by_label("Title").fill("Family meeting")
    await direct.check()
    await expect(hidden).to_be_hidden()
    await mentor.get_by_role("button", name="Create session").click()
    direct_item = session_item(mentor, "Family meeting")
    await expect(direct_item.get_by_text("Direct video only")).to_be_visible()
    await expect(direct_item.get_by_role("checkbox")).to_have_count(0)
    # The form is back to its defaults for the next session.
    await expect(video.get_by_role("radio", name="Automatic (recommended)")).to_be_checked()
    await expect(hidden).to_be_visible()
    await expect(hidden).not_to_be_checked()

    await mentor.get_by_label("Title").fill("Breaking bad news")
    await video.get_by_role("radio", name="Through the server (routed)").check()
    await hidden.check()
    await mentor.get_by_role("button", name="Create session").click()
    item = session_item(mentor, "Breaking bad news")
    await expect(item.get_by_text("Video through the server")).to_be_visible()

    stored = {s.title: s for s in await server.services.store.sessions.for_mentor(mentor_user.id)}
    assert stored["Suturing"].media_mode == "auto"
    assert not stored["Suturing"].observers_hidden
    assert stored["Family meeting"].media_mode == "direct"
    assert not stored["Family meeting"].observers_hidden
    assert stored["Breaking bad news"].media_mode == "routed"
    assert stored["Breaking bad news"].observers_hidden

    # Changed later from the list.
    toggle = item.get_by_role("checkbox", name=re.compile("observe without the trainee"))
    await expect(toggle).to_be_checked()
    await toggle.uncheck()
    await expect(
        session_item(mentor, "Breaking bad news").get_by_role("checkbox")
    ).not_to_be_checked()

    async def stored_visible() -> bool:
        found = await server.services.store.sessions.get(stored["Breaking bad news"].id)
        return found is not None and not found.observers_hidden

    await wait_for(stored_visible, timeout=5)
    await shot(mentor, "media-list-desktop")
    await mentor.set_viewport_size({"width": 390, "height": 844})
    await shot(mentor, "media-list-phone")
    assert errors == []
    await desk.close()
