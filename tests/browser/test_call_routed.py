"""A routed session in real browsers (issue 11): each page has ONE peer connection, to the
server's `media` peer, and the tiles follow the members: each page decodes the other's video in
the tile named for that member. An assigned supervisor observes: it sends nothing, receives both,
and the mentor sees an "Observing" tile for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from server.infra.roles import Role, User
from tests.media.support import loopback_ice
from tests.support import RunningServer, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

SHOTS = Path("/tmp/shots/routed")
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
}

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


async def three_people(server: RunningServer, mode: str) -> tuple[User, User, User, str]:
    """A mentor, a trainee and the supervisor assigned to her, in a session of `mode`."""
    mentor = await server.user(Role.MENTOR)
    trainee = await server.user(Role.TRAINEE)
    supervisor = await server.user(Role.SUPERVISOR)
    await server.services.accounts.assign(supervisor.id, trainee.id, actor_id=None)
    http = await server.signed_in(mentor)
    created = await http.post(
        "/api/sessions",
        json={"title": "Ward round", "trainee_ids": [trainee.id], "media_mode": mode},
    )
    await http.aclose()
    assert created.status_code == 201, created.text
    return mentor, trainee, supervisor, created.json()["id"]


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
        desk = await signed_in_page(browser, server, mentor, DESKTOP)
        phone = await signed_in_page(browser, server, trainee, PHONE)
        for name, page in (("mentor", desk), ("trainee", phone)):
            page.on("pageerror", lambda exc, who=name: errors.append(f"{who}: {exc}"))
        await enter(desk, server, session_id)
        await enter(phone, server, session_id)
        await decodes(desk, 1)
        await decodes(phone, 1)
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
