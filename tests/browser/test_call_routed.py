"""A routed session in real browsers (issue 11): each page has ONE peer connection, to the
server's `media` peer, and the tiles follow the members: each page decodes the other's video in
the tile named for that member. An assigned supervisor observes: it sends nothing, receives both,
and the mentor sees an "Observing" tile for it."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from server.infra.roles import Role, User
from tests.browser.devices import DESKTOP, PHONE
from tests.media.support import loopback_ice
from tests.support import RunningServer, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

SHOTS = Path("/tmp/shots/routed")

# Per page: its peer connections, and per remote video track the frames decoded so far.
CONNECTIONS = """() => [...window.__preceptor.peers.values()].map((link) => link.id)"""
DECODED = """async () => {
  const counts = [];
  for (const link of window.__preceptor.peers.values()) {
    if (!link.pc) continue;
    (await link.pc.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "video") counts.push(s.framesDecoded ?? 0);
    });
  }
  return counts;
}"""
# The tile named `name` plays a picture (its track came to the right member's tile).
TILE_PLAYS = """(name) => [...document.querySelectorAll(".tile")].some((tile) =>
  tile.querySelector(".tile-name")?.textContent === name &&
  tile.querySelector("video").videoWidth > 0 &&
  tile.querySelector("video").currentTime > 0)"""


async def signed_in_page(browser: Browser, server: RunningServer, user: User, size: Any) -> Page:
    context: BrowserContext = await browser.new_context(**size)
    response = await context.request.post(
        f"{server.url}/api/auth/login", data={"email": user.email, "password": "s3cret-pass!"}
    )
    assert response.ok, await response.text()
    return await context.new_page()


async def enter(page: Page, server: RunningServer, session_id: str) -> None:
    await page.goto(f"{server.url}/sessions/{session_id}")
    join = page.get_by_role("button", name="Join")
    await expect(join).to_be_enabled()
    await join.click()
    await expect(page.get_by_role("button", name="Leave")).to_be_visible()


async def decodes(page: Page, streams: int, *, routed: bool = True) -> None:
    """`streams` remote videos decoding, frames still rising: routed, on one connection (to
    `media`); direct, on connections to the members."""
    before: list[int] = []

    async def rising() -> bool:
        nonlocal before
        connections = await page.evaluate(CONNECTIONS)
        if routed and connections != ["media"]:
            return False
        assert routed or "media" not in connections
        now = sorted(await page.evaluate(DECODED), reverse=True)[:streams]
        ok = (
            len(now) == streams
            and len(before) == streams
            and all(n > b > 0 for n, b in zip(now, before, strict=True))
        )
        before = now
        return ok

    await wait_for(rising, timeout=30, interval=0.5)


async def three_people(
    server: RunningServer, mode: str, *, observers_hidden: bool = False
) -> tuple[User, User, User, str]:
    """A mentor, a trainee and the supervisor assigned to her, in a session of `mode`."""
    mentor = await server.user(Role.MENTOR)
    trainee = await server.user(Role.TRAINEE)
    supervisor = await server.user(Role.SUPERVISOR)
    await server.services.accounts.assign(supervisor.id, trainee.id, actor_id=None)
    http = await server.signed_in(mentor)
    created = await http.post(
        "/api/sessions",
        json={
            "title": "Ward round",
            "trainee_ids": [trainee.id],
            "media_mode": mode,
            "observers_hidden": observers_hidden,
        },
    )
    await http.aclose()
    assert created.status_code == 201, created.text
    return mentor, trainee, supervisor, created.json()["id"]


async def in_a_routed_call(
    browser: Browser,
    server: RunningServer,
    mentor: User,
    trainee: User,
    session_id: str,
    errors: list[str],
) -> tuple[Page, Page]:
    """The mentor at a desk and the trainee on a phone in the routed call, each decoding the
    other's picture; their page errors go to `errors`."""
    desk = await signed_in_page(browser, server, mentor, DESKTOP)
    phone = await signed_in_page(browser, server, trainee, PHONE)
    for name, page in (("mentor", desk), ("trainee", phone)):
        page.on("pageerror", lambda exc, who=name: errors.append(f"{who}: {exc}"))
    await enter(desk, server, session_id)
    await enter(phone, server, session_id)
    await decodes(desk, 1)
    await decodes(phone, 1)
    return desk, phone


@pytest.fixture
def shots() -> Path:
    """Where the routed call's screenshots go, for a person to look at."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


async def test_routed_call_in_two_browsers_with_an_observer(
    server: RunningServer, browser: Browser, shots: Path
) -> None:
    mentor, trainee, supervisor, session_id = await three_people(server, "routed")
    errors: list[str] = []

    with loopback_ice():  # the server's media peer gathers 127.0.0.1 only
        desk, phone = await in_a_routed_call(browser, server, mentor, trainee, session_id, errors)
        await wait_for(lambda: desk.evaluate(TILE_PLAYS, "Test Trainee"), timeout=10)
        await wait_for(lambda: phone.evaluate(TILE_PLAYS, "Test Mentor"), timeout=10)

        # The supervisor observes: no camera asked for, both pictures received, nothing sent.
        watcher = await signed_in_page(browser, server, supervisor, DESKTOP)
        watcher.on("pageerror", lambda exc: errors.append(f"observer: {exc}"))
        await watcher.goto(f"{server.url}/sessions/{session_id}")
        await expect(watcher.get_by_role("heading", name="Observe this session")).to_be_visible()
        await enter(watcher, server, session_id)
        await decodes(watcher, 2)
        observing = desk.locator(".tile.observer")
        await expect(observing.locator(".tile-name")).to_have_text("Test Supervisor")
        await expect(observing.locator(".tile-observer")).to_have_text("Observing")
        await expect(phone.locator(".tile")).to_have_count(2)
        await decodes(desk, 1)  # still only the trainee's picture: the observer sends none

        await desk.screenshot(path=str(shots / "routed-mentor-1280x800.png"))
        await phone.screenshot(path=str(shots / "routed-trainee-390x844.png"))
        await watcher.screenshot(path=str(shots / "routed-observer-1280x800.png"))
        for page in (desk, phone, watcher):
            await page.context.close()
    assert not errors, errors


async def test_an_observer_moves_a_direct_call_to_routed_and_both_pictures_keep_moving(
    server: RunningServer, browser: Browser
) -> None:
    """ "auto": two members talk directly; the supervisor who comes to observe moves the room to
    routed (`media-mode`), and both pictures keep moving through the switch."""
    mentor, trainee, supervisor, session_id = await three_people(server, "auto")
    errors: list[str] = []
    with loopback_ice():
        desk = await signed_in_page(browser, server, mentor, DESKTOP)
        phone = await signed_in_page(browser, server, trainee, PHONE)
        for page in (desk, phone):
            page.on("pageerror", lambda exc: errors.append(str(exc)))
        await enter(desk, server, session_id)
        await enter(phone, server, session_id)
        await decodes(desk, 1, routed=False)
        await decodes(phone, 1, routed=False)

        watcher = await signed_in_page(browser, server, supervisor, DESKTOP)
        await enter(watcher, server, session_id)
        await decodes(desk, 1)
        await decodes(phone, 1)
        await decodes(watcher, 2)
        await wait_for(lambda: desk.evaluate(TILE_PLAYS, "Test Trainee"), timeout=10)
        await expect(desk.locator(".tile")).to_have_count(2)  # the trainee and the observer
        for page in (desk, phone, watcher):
            await page.context.close()
    assert not errors, errors


async def test_a_phone_guest_in_a_routed_call_sends_its_camera_to_media(
    server: RunningServer, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guest on a phone, let in from the lobby through an invite link, publishes its camera
    to `media` at once: the mentor's page decodes the guest's video on its one connection. (An
    earlier run recorded only the mentor: `media`'s offer overtook the guest's welcome, which
    waits for the admission to be stored, so the page answered it as a direct call and sent
    nothing until its connection to `media` timed out and was rebuilt.)"""
    logins = server.services.store.login_sessions
    store_admission = logins.admit_guest

    async def slowly(*args: Any, **kwargs: Any) -> None:
        await asyncio.sleep(0.5)  # a busy database: the welcome waits for the admission
        await store_admission(*args, **kwargs)

    monkeypatch.setattr(logins, "admit_guest", slowly)
    mentor = await server.user(Role.MENTOR)
    http = await server.signed_in(mentor)
    created = await http.post("/api/sessions", json={"title": "Airway", "media_mode": "routed"})
    assert created.status_code == 201, created.text
    session_id = created.json()["id"]
    invite = await http.post(f"/api/sessions/{session_id}/invites", json={"name": "Sam Guest"})
    assert invite.status_code == 201, invite.text
    await http.aclose()
    errors: list[str] = []
    with loopback_ice():
        desk = await signed_in_page(browser, server, mentor, DESKTOP)
        desk.on("pageerror", lambda exc: errors.append(f"mentor: {exc}"))
        await enter(desk, server, session_id)
        phone = await (await browser.new_context(**PHONE)).new_page()
        phone.on("pageerror", lambda exc: errors.append(f"guest: {exc}"))
        frames: list[str] = []  # what the guest's signaling socket received, in order
        phone.on(
            "websocket",
            lambda ws: ws.on(
                "framereceived", lambda f: frames.append(f if isinstance(f, str) else "")
            ),
        )
        await phone.goto(invite.json()["url"])
        await phone.get_by_role("button", name="Continue").click()
        await expect(phone.get_by_role("button", name="Join")).to_be_enabled(timeout=20_000)
        await phone.get_by_role("button", name="Join").click()
        waiting = phone.get_by_role("heading", name="Waiting for the mentor")
        await expect(waiting).to_be_visible(timeout=20_000)
        await desk.get_by_role("button", name="Admit Sam Guest").click(timeout=20_000)
        await decodes(desk, 1)  # the guest's camera, through `media`
        await decodes(phone, 1)
        # The page was in routed mode when `media` offered: its welcome came first.
        kinds = [json.loads(f).get("type") for f in frames if f.startswith("{")]
        assert "signal" in kinds
        assert kinds.index("welcome") < kinds.index("signal"), kinds
        await wait_for(lambda: desk.evaluate(TILE_PLAYS, "Sam Guest"), timeout=10)
        for page in (desk, phone):
            await page.context.close()
    assert not errors, errors


async def test_an_observer_the_session_hides_is_seen_by_the_mentor_only(
    server: RunningServer, browser: Browser, shots: Path
) -> None:
    """Issue 11: "Supervisors may observe without the trainee seeing them". The mentor sees the
    "Observing" tile and the observer in People; the trainee's page has no trace of it (no tile,
    nobody in People but the mentor) while the observer receives both pictures. The mentor turns
    the setting off during the call and the trainee sees the observer at once."""
    mentor, trainee, supervisor, session_id = await three_people(
        server, "routed", observers_hidden=True
    )
    errors: list[str] = []
    with loopback_ice():
        desk = await signed_in_page(browser, server, mentor, DESKTOP)
        phone = await signed_in_page(browser, server, trainee, PHONE)
        watcher = await signed_in_page(browser, server, supervisor, DESKTOP)
        for name, page in (("mentor", desk), ("trainee", phone), ("observer", watcher)):
            page.on("pageerror", lambda exc, who=name: errors.append(f"{who}: {exc}"))
        await enter(desk, server, session_id)
        await enter(phone, server, session_id)
        await watcher.goto(f"{server.url}/sessions/{session_id}")
        await expect(watcher.get_by_text("the trainee does not")).to_be_visible()
        await enter(watcher, server, session_id)
        await decodes(watcher, 2)
        observing = desk.locator(".tile.observer")
        await expect(observing.locator(".tile-name")).to_have_text("Test Supervisor")
        await expect(phone.locator(".tile")).to_have_count(1)
        await expect(phone.locator(".tile .tile-name")).to_have_text("Test Mentor")
        await phone.get_by_role("button", name="Chat & notes").click()
        people = phone.get_by_role("tab", name=re.compile("^People"))
        await people.click()
        await expect(people).to_have_text("People (2)")  # the trainee and the mentor
        await expect(phone.locator("#people-list")).not_to_contain_text("Test Supervisor")
        await expect(phone.locator("#people-list")).to_contain_text("Test Mentor")
        await decodes(phone, 1)
        await desk.screenshot(path=str(shots / "hidden-observer-mentor-1280x800.png"))
        await phone.screenshot(path=str(shots / "hidden-observer-trainee-390x844.png"))
        await desk.set_viewport_size({"width": 390, "height": 844})
        await desk.screenshot(path=str(shots / "hidden-observer-mentor-390x844.png"))

        http = await server.signed_in(mentor)
        shown = await http.put(f"/api/sessions/{session_id}/observers", json={"hidden": False})
        await http.aclose()
        assert shown.status_code == 200, shown.text
        assert shown.json()["observers_hidden"] is False
        await expect(phone.locator(".tile.observer .tile-name")).to_have_text("Test Supervisor")
        await expect(people).to_have_text("People (3)")
        for page in (desk, phone, watcher):
            await page.context.close()
    assert not errors, errors
