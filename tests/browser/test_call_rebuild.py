"""A phone whose connection to `media` dies (a Wi-Fi → cellular switch) rebuilds it from the
call page, and the other member's call is not touched: same connection, no new offer, the
phone's picture back on the same tile (issue 11, "Reconnect")."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from tests.browser.test_call_routed import (
    TILE_PLAYS,
    decodes,
    in_a_routed_call,
    three_people,
)
from tests.media.support import loopback_ice
from tests.support import RunningServer, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

SHOTS = Path("/tmp/shots/rebuild")

# The page's connection to `media`: its description's version (RFC 4566 `o=` line: media
# raises it with every offer) and whether it is still the connection we tagged.
MEDIA_LINK = """(tag) => {
  const link = window.__preceptor.peers.get("media");
  const sdp = link?.pc?.remoteDescription?.sdp ?? "";
  if (tag && link?.pc) link.pc.__tag ??= tag;
  return {
    version: (sdp.match(/^o=\\S+ \\S+ (\\d+)/m) ?? [])[1] ?? null,
    tag: link?.pc?.__tag ?? null,
    state: link?.pc?.connectionState ?? null,
  };
}"""


async def media_link(page: Page, tag: str | None = None) -> dict[str, str | None]:
    found: dict[str, str | None] = await page.evaluate(MEDIA_LINK, tag)
    return found


async def test_a_phone_rebuilds_its_media_connection_and_the_mentor_is_not_renegotiated(
    server: RunningServer, browser: Browser
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before the browser
    mentor, trainee, _, session_id = await three_people(server, "routed")
    errors: list[str] = []
    with loopback_ice():
        desk, phone = await in_a_routed_call(browser, server, mentor, trainee, session_id, errors)
        desk_before = await media_link(desk, "first")
        await media_link(phone, "first")

        # The phone's network goes away under its connection to media.
        await phone.evaluate("""() => window.__preceptor.peers.get("media").pc.close()""")

        async def rebuilt() -> bool:
            now = await media_link(phone)
            return now["tag"] is None and now["state"] == "connected"

        await wait_for(rebuilt, timeout=30, interval=0.25)
        await decodes(phone, 1)  # the mentor's picture on the new connection
        await decodes(desk, 1)  # the trainee's picture again, on the mentor's same connection
        await wait_for(lambda: desk.evaluate(TILE_PLAYS, "Test Trainee"), timeout=10)
        await wait_for(lambda: phone.evaluate(TILE_PLAYS, "Test Mentor"), timeout=10)
        assert await media_link(desk) == desk_before  # same connection, no new offer
        await desk.screenshot(path=str(SHOTS / "mentor-1280x800.png"))
        await phone.screenshot(path=str(SHOTS / "trainee-390x844.png"))
        for page in (desk, phone):
            await page.context.close()
    assert not errors, errors
