"""The session record plays its recordings with the marks as chapters (issue 12): choosing a
mark, in the marks list or as a player's chapter, seeks the video there — on a phone and on a
desktop, in Debian's Chromium, through the server's Range responses."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from media.recording import Recorder, finalize
from server.infra.roles import Role
from server.services import Services
from tests.browser.devices import DESKTOP, PHONE
from tests.browser.test_accessibility import sign_in
from tests.media.rtp_source import Source
from tests.support import RunningServer

SHOTS = Path("/tmp/shots/recording")


class _Nothing:
    def request_keyframe(self) -> None:
        pass

    def close(self) -> None:
        pass


async def _record(services: Services, session_id: str, started_at: float) -> None:
    """Six seconds of real VP8/Opus, recorded and finalized as the server does it."""
    recordings = services.recordings
    recording_id = "a" * 32
    await services.store.recordings.begin(
        recording_id=recording_id, session_id=session_id, peer="p", segment=1, now=started_at
    )
    live = recordings.directory / f"{recording_id}.live"
    recorder = Recorder(live, recordings.keyring, video_codec="VP8", kinds={"audio", "video"})
    recorder.start(_Nothing())
    for sent in Source(6.0).packets():
        if sent.header is not None:
            recorder.rtp(sent.kind, sent.header)
    await recorder.stop()
    final = recordings.directory / f"{recording_id}.webm"
    finished = await asyncio.to_thread(finalize, live, final, recordings.keyring)
    await services.store.recordings.finish(
        recording_id,
        state="complete",
        duration_s=finished.duration_s,
        size_bytes=finished.size,
        codecs=finished.codecs,
        container=finished.container,
        sha256=finished.sha256,
    )


@pytest.mark.timeout(90)
async def test_a_supervisor_plays_the_recording_from_a_mark(
    server: RunningServer, browser: Browser
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before the browser
    svc = server.services
    mentor = await server.user(Role.MENTOR)
    admin = await server.user(Role.ADMIN)
    session = await svc.store.sessions.create(
        title="Ward round",
        mentor_id=mentor.id,
        trainee_ids=[],
        media_mode="routed",
        scheduled_for=None,
    )
    began = time.time() - 600
    await svc.store.sessions.mark_live(session.id, now=began)
    # The recording starts 1 s into the call; the mark is at +00:04, 3 s into the recording.
    await _record(svc, session.id, began + 1.0)
    await svc.store.marks.add(
        mark_id="m1",
        session_id=session.id,
        label="Handover",
        tags=[],
        at_ms=4000,
        by_subject=mentor.id,
    )
    for name, device in (("phone", PHONE), ("desktop", DESKTOP)):
        context = await browser.new_context(**device)
        page = await context.new_page()
        await sign_in(page, server, admin)
        await page.goto(f"{server.url}/review/sessions/{session.id}")
        card = page.locator("#recordings-card")
        await expect(card.get_by_role("heading", name="Recordings")).to_be_visible()
        video = card.locator("video")
        await expect(video).to_have_attribute("src", f"/api/recordings/{'a' * 32}/media")
        await page.get_by_role("button", name="Play the recording from +00:04 · Handover").click()
        await _seeked_to(video, 3.0)
        await video.evaluate("v => v.pause()")
        await card.scroll_into_view_if_needed()
        await page.screenshot(path=str(SHOTS / f"record-{name}.png"), full_page=True)
        # The chapter dot on the player's own timeline seeks too.
        await video.evaluate("v => { v.currentTime = 0; }")
        await card.get_by_role("button", name="Play from mark +00:04 Handover").click()
        await _seeked_to(video, 3.0)
        await context.close()
    viewed = await svc.store.audit.about(session.id, actions=("recording.viewed",))
    assert len(viewed) == 1  # one person's views within minutes are one audited view


async def _seeked_to(video: Any, seconds: float) -> None:
    async def there() -> bool:
        at = await video.evaluate("v => v.readyState >= 1 ? v.currentTime : -1")
        return bool(abs(at - seconds) < 0.1)

    deadline = time.monotonic() + 15
    while not await there():
        assert time.monotonic() < deadline, "the video did not seek to the mark"
        await asyncio.sleep(0.05)
