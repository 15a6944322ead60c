"""A mentor on a desktop and a trainee on a phone meet in a call, in two real browsers.

The whole path a trainee takes: invite link → name → device check → lobby → admitted; then video
both ways (frames decoded on each side), chat, and recovery from a dead peer connection and from a
dropped signaling socket without reloading either page.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from server.infra.roles import Role, User
from tests.browser.devices import DESKTOP, SMALL_PHONE
from tests.support import RunningServer, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# What each page receives from each remote peer: the connection generation (it grows when the
# connection is rebuilt), its state, and the video frames decoded on it so far.
RECEIVED = """async () => {
  const links = [...(window.__preceptor?.peers?.values() ?? [])];
  return Promise.all(links.map(async (link) => {
    let frames = 0;
    if (link.pc) {
      (await link.pc.getStats()).forEach((s) => {
        if (s.type === "inbound-rtp" && s.kind === "video") frames += s.framesDecoded ?? 0;
      });
    }
    return {
      peer: link.id,
      generation: link.generation,
      state: link.pc?.connectionState ?? "none",
      frames,
    };
  }));
}"""


KILL_PEER_CONNECTIONS = "() => { for (const l of window.__preceptor.peers.values()) l.pc.close(); }"


async def received(page: Page) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = await page.evaluate(RECEIVED)
    return result


async def video_rises(page: Page, *, newer_than: int = 0, timeout: float = 30) -> None:
    """Wait until one peer's video is decoding on a connection of generation > `newer_than`, and
    its framesDecoded keeps rising."""
    seen: dict[str, int] = {}

    async def rising() -> bool:
        for link in await received(page):
            if link["generation"] <= newer_than or link["frames"] == 0:
                continue
            key = f"{link['peer']}/{link['generation']}"
            if key in seen and link["frames"] > seen[key]:
                return True
            seen[key] = link["frames"]
        return False

    await wait_for(rising, timeout=timeout, interval=0.25)


async def generation(page: Page) -> int:
    links = await received(page)
    assert len(links) == 1, links
    return int(links[0]["generation"])


async def sign_in(page: Page, server: RunningServer, email: str) -> None:
    await page.goto(server.url + "/")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill("s3cret-pass!")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Welcome, Test Mentor")).to_be_visible()


async def session_with_invite(server: RunningServer, mentor: User, invitee: str) -> tuple[str, str]:
    """A session and an invite link made through the API; the UI path is the first test's."""
    client = await server.signed_in(mentor)
    try:
        created = await client.post(
            "/api/sessions", json={"title": "Airway review", "media_mode": "direct"}
        )
        assert created.status_code == 201, created.text
        session_id = created.json()["id"]
        invite = await client.post(f"/api/sessions/{session_id}/invites", json={"name": invitee})
        assert invite.status_code == 201, invite.text
        return session_id, invite.json()["url"]
    finally:
        await client.aclose()


async def join_as_mentor(page: Page, server: RunningServer, session_id: str) -> None:
    await page.goto(f"{server.url}/sessions/{session_id}")
    await page.get_by_role("button", name="Join").click()
    await expect(page.get_by_role("button", name="Leave")).to_be_visible()


async def join_from_invite(page: Page, invite_url: str) -> None:
    """Invite link → Continue → device check → Join → the lobby."""
    await page.goto(invite_url)
    await page.get_by_role("button", name="Continue").click()
    await expect(page.get_by_role("heading", name="Check your camera")).to_be_visible()
    await expect(page.get_by_role("button", name="Join")).to_be_enabled()
    await page.get_by_role("button", name="Join").click()
    await expect(page.get_by_role("heading", name="Waiting for the mentor")).to_be_visible()


async def test_mentor_and_phone_trainee_call(server: RunningServer, browser: Browser) -> None:
    await server.user(Role.MENTOR, email="dr.ada@example.org")
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []

    # --- the mentor signs in, creates a session and an invite -----------------------------------
    desk_context = await browser.new_context(**DESKTOP)
    mentor = await desk_context.new_page()
    mentor.on("pageerror", lambda exc: errors.append(f"mentor: {exc}"))
    await mentor.goto(server.url + "/")
    await mentor.get_by_label("E-mail").fill("dr.ada@example.org")
    await mentor.get_by_label("Password").fill("s3cret-pass!")
    await mentor.get_by_role("button", name="Sign in").click()
    await expect(mentor.get_by_role("heading", name="Welcome, Test Mentor")).to_be_visible()

    await mentor.get_by_label("Title").fill("Suturing practice")
    await mentor.get_by_role("button", name="Create session").click()
    item = mentor.get_by_role("listitem").filter(has_text="Suturing practice")
    await expect(item).to_be_visible()
    await item.get_by_role("button", name="Invite").click()
    await item.get_by_label("Invitee name").fill("Sam Trainee")
    await item.get_by_role("button", name="Create invite").click()
    link_field = item.get_by_label("Invite link")
    await expect(link_field).to_have_value(re.compile(r"/join/"))
    invite_url = await link_field.input_value()
    assert invite_url.startswith(server.url + "/join/")
    await mentor.screenshot(path=str(ARTIFACTS / "call-home-desktop.png"))

    await item.get_by_role("link", name="Open").click()
    await expect(mentor).to_have_url(re.compile(r"/sessions/"))
    join = mentor.get_by_role("button", name="Join")
    await expect(join).to_be_enabled()
    await join.click()
    await expect(mentor.get_by_role("button", name="Leave")).to_be_visible()

    # --- the trainee opens the link on a phone and waits in the lobby ---------------------------
    phone_context = await browser.new_context(**SMALL_PHONE)
    trainee = await phone_context.new_page()
    trainee.on("pageerror", lambda exc: errors.append(f"trainee: {exc}"))
    await trainee.goto(invite_url)
    await expect(trainee.get_by_role("heading", name="Join Suturing practice")).to_be_visible()
    await expect(trainee.get_by_text("Test Mentor")).to_be_visible()
    await expect(trainee.get_by_label("Your name")).to_have_value("Sam Trainee")
    await trainee.screenshot(path=str(ARTIFACTS / "call-join-phone.png"))
    await trainee.get_by_role("button", name="Continue").click()
    await expect(trainee).to_have_url(re.compile(r"/sessions/"))
    assert "/join/" not in trainee.url

    await expect(trainee.get_by_role("heading", name="Check your camera")).to_be_visible()
    await expect(trainee.get_by_label("Camera", exact=True)).to_be_enabled()
    await wait_for(
        lambda: trainee.evaluate("document.getElementById('preview').videoWidth > 0"), timeout=10
    )
    await trainee.screenshot(path=str(ARTIFACTS / "call-check-phone.png"))
    await trainee.get_by_role("button", name="Join").click()
    waiting = trainee.get_by_role("heading", name="Waiting for the mentor to let you in")
    await expect(waiting).to_be_visible()
    await expect(mentor.get_by_role("button", name="Admit Sam Trainee")).to_be_visible()
    await trainee.screenshot(path=str(ARTIFACTS / "call-waiting-phone.png"))
    await mentor.screenshot(path=str(ARTIFACTS / "call-lobby-desktop.png"))

    # --- the mentor admits; video flows both ways -----------------------------------------------
    await mentor.get_by_role("button", name="Admit").click()
    await expect(waiting).to_be_hidden()
    await video_rises(mentor)
    await video_rises(trainee)
    await expect(mentor.locator(".tile-name")).to_have_text("Sam Trainee")
    await expect(trainee.locator(".tile-name")).to_have_text("Test Mentor")
    await expect(mentor.locator(".tile-quality")).to_have_text(
        re.compile(r"(Good|Fair|Poor) connection"), timeout=10_000
    )

    # --- chat, from the phone --------------------------------------------------------------------
    await trainee.get_by_role("button", name="Chat").click()
    await trainee.get_by_label("Message").fill("hello")
    await trainee.get_by_role("button", name="Send").click()
    message = mentor.locator("#chat-log li").filter(has_text="hello")
    await expect(message).to_contain_text("Sam Trainee")
    await expect(trainee.locator("#chat-log li").filter(has_text="hello")).to_contain_text("You")
    await trainee.screenshot(path=str(ARTIFACTS / "call-chat-phone.png"))
    await trainee.get_by_role("button", name="Close panel").click()

    # --- mute shows on the other side -------------------------------------------------------------
    await trainee.get_by_role("button", name="Mute").click()
    await expect(trainee.get_by_role("button", name="Mute")).to_have_attribute(
        "aria-pressed", "true"
    )
    await expect(mentor.locator(".tile-muted")).to_be_visible()
    await trainee.get_by_role("button", name="Mute").click()
    await expect(mentor.locator(".tile-muted")).to_be_hidden()

    # --- the mentor shares a screen: same connection, the track is swapped ----------------------
    on_air = await generation(trainee)
    share = mentor.get_by_role("button", name="Share screen")
    await share.click()
    await expect(share).to_have_attribute("aria-pressed", "true")
    await expect(trainee.get_by_text("Sharing screen")).to_be_visible()
    await video_rises(trainee, newer_than=on_air - 1)
    await share.click()
    await expect(share).to_have_attribute("aria-pressed", "false")
    await expect(trainee.get_by_text("Sharing screen")).to_be_hidden()
    assert await generation(trainee) == on_air
    await expect(trainee.get_by_role("button", name="Share screen")).to_be_hidden()

    await mentor.screenshot(path=str(ARTIFACTS / "call-desktop.png"))
    await trainee.screenshot(path=str(ARTIFACTS / "call-phone.png"))

    # --- a peer connection dies: both sides rebuild it, without a reload -------------------------
    # First the trainee's, then the mentor's: whichever peer id sorts lower, this runs both the
    # "the re-offering side died" and the "the other side died" paths (see web/static/call/peer.js).
    for victim in (trainee, mentor):
        before_mentor, before_trainee = await generation(mentor), await generation(trainee)
        await victim.evaluate(KILL_PEER_CONNECTIONS)
        await video_rises(trainee, newer_than=before_trainee, timeout=30)
        await video_rises(mentor, newer_than=before_mentor, timeout=30)
    before_mentor = await generation(mentor)

    # --- the trainee's signaling socket drops: it resumes and keeps the live connection ---------
    kept = await generation(trainee)
    joins = await trainee.evaluate("window.__preceptor.socket.joins")
    await trainee.evaluate("() => window.__preceptor.socket.ws.close()")
    await wait_for(
        lambda: trainee.evaluate(f"window.__preceptor.socket.joins > {joins}"), timeout=15
    )
    await trainee.get_by_role("button", name="Chat").click()
    await trainee.get_by_label("Message").fill("still here")
    await trainee.get_by_role("button", name="Send").click()
    await expect(mentor.locator("#chat-log li").filter(has_text="still here")).to_be_visible()
    assert await generation(trainee) == kept
    assert await generation(mentor) == before_mentor
    await video_rises(mentor, newer_than=before_mentor - 1)
    await video_rises(trainee, newer_than=kept - 1)

    await mentor.screenshot(path=str(ARTIFACTS / "call-desktop-after-recovery.png"))
    await trainee.screenshot(path=str(ARTIFACTS / "call-phone-after-recovery.png"))

    # --- leaving ----------------------------------------------------------------------------------
    await trainee.get_by_role("button", name="Close panel").click()
    await trainee.get_by_role("button", name="Leave").click()
    await expect(trainee.get_by_role("heading", name="You left the session")).to_be_visible()
    await expect(mentor.locator(".tile")).to_have_count(0)

    width = await trainee.evaluate("document.documentElement.scrollWidth")
    assert width <= 360
    assert errors == []
    await phone_context.close()
    await desk_context.close()


async def test_trainee_without_camera_or_microphone_still_joins(
    server: RunningServer, browser: Browser
) -> None:
    """Permission denied: the check says so, Join still works, the trainee receives only, and a
    connection carrying media one way only is not mistaken for a dead one."""
    user = await server.user(Role.MENTOR)
    session_id, invite_url = await session_with_invite(server, user, "Robin Observer")
    errors: list[str] = []
    desk_context = await browser.new_context(**DESKTOP)
    mentor = await desk_context.new_page()
    mentor.on("pageerror", lambda exc: errors.append(f"mentor: {exc}"))
    await sign_in(mentor, server, user.email)
    await join_as_mentor(mentor, server, session_id)

    phone_context = await browser.new_context(**SMALL_PHONE)
    await phone_context.add_init_script(
        "navigator.mediaDevices.getUserMedia = () =>"
        " Promise.reject(new DOMException('blocked', 'NotAllowedError'));"
    )
    trainee = await phone_context.new_page()
    trainee.on("pageerror", lambda exc: errors.append(f"trainee: {exc}"))
    await trainee.goto(invite_url)
    await trainee.get_by_role("button", name="Continue").click()
    await expect(trainee.get_by_role("alert")).to_contain_text("access is blocked")
    await expect(trainee.get_by_text("No camera", exact=True)).to_be_visible()
    await trainee.screenshot(path=str(ARTIFACTS / "call-check-denied-phone.png"))
    await trainee.get_by_role("button", name="Join").click()
    await mentor.get_by_role("button", name="Admit").click()

    await video_rises(trainee)
    await expect(trainee.get_by_role("button", name="Mute")).to_be_disabled()
    await expect(trainee.get_by_role("button", name="Camera")).to_be_disabled()
    await expect(mentor.locator(".tile-off")).to_be_visible()
    await expect(mentor.locator(".tile-muted")).to_be_visible()

    # Well past the 5 s no-bytes rule: only RTCP comes back from the trainee, and it suffices.
    async def long_enough() -> bool:
        links = await received(trainee)
        return bool(links) and links[0]["frames"] > 300

    await wait_for(long_enough, timeout=30, interval=0.5)
    assert await generation(mentor) == 1
    assert await generation(trainee) == 1
    await expect(mentor.locator(".tile-quality")).to_have_text(re.compile(r"connection$"))
    assert errors == []
    await phone_context.close()
    await desk_context.close()


async def test_denied_guest_and_ended_session(server: RunningServer, browser: Browser) -> None:
    user = await server.user(Role.MENTOR)
    session_id, invite_url = await session_with_invite(server, user, "Casey Late")
    desk_context = await browser.new_context(**DESKTOP)
    mentor = await desk_context.new_page()
    await sign_in(mentor, server, user.email)
    await join_as_mentor(mentor, server, session_id)

    phone_context = await browser.new_context(**SMALL_PHONE)
    trainee = await phone_context.new_page()
    await join_from_invite(trainee, invite_url)
    await mentor.get_by_role("button", name="Deny").click()
    await expect(
        trainee.get_by_role("heading", name="The mentor did not let you in")
    ).to_be_visible()
    await expect(mentor.get_by_role("button", name="Admit")).to_have_count(0)

    client = await server.signed_in(user)
    try:
        ended = await client.post(f"/api/sessions/{session_id}/end")
        assert ended.status_code == 200, ended.text
        assert ended.json()["status"] == "ended"
    finally:
        await client.aclose()
    await expect(mentor.get_by_role("heading", name="This session has ended")).to_be_visible()
    await mentor.reload()
    await expect(mentor.get_by_role("heading", name="This session has ended")).to_be_visible()
    await phone_context.close()
    await desk_context.close()
