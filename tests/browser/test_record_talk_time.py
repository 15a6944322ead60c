"""The record's "Talk time" (issue 11): a balance bar per person with minutes:seconds and share,
said in words to a screen reader, readable on a phone and on a desktop."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from server.infra.roles import Role
from server.infra.storage.speaking import SpeakingMinute
from tests.browser.devices import DESKTOP, PHONE
from tests.browser.test_accessibility import context_with_axe, sign_in, violations
from tests.support import RunningServer

SHOTS = Path("/tmp/shots/talk-time")


@pytest.mark.timeout(90)
async def test_the_record_shows_each_persons_talk_time(
    server: RunningServer, browser: Browser
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before the browser
    svc = server.services
    mentor = await server.user(Role.MENTOR)
    trainee = await server.user(Role.TRAINEE)
    session = await svc.store.sessions.create(
        title="Ward round",
        mentor_id=mentor.id,
        trainee_ids=[trainee.id],
        media_mode="routed",
        scheduled_for=None,
    )
    await svc.store.sessions.mark_live(session.id, now=time.time() - 600)
    s = session.id
    await svc.speaking.add(
        [
            SpeakingMinute(s, mentor.id, 0, 50_000),
            SpeakingMinute(s, mentor.id, 1, 45_000),
            SpeakingMinute(s, mentor.id, 2, 40_000),
            SpeakingMinute(s, trainee.id, 1, 12_000),
            SpeakingMinute(s, trainee.id, 3, 33_000),
        ]
    )
    for name, device in (("phone", PHONE), ("desktop", DESKTOP)):
        context = await context_with_axe(browser, device)
        page = await context.new_page()
        await sign_in(page, server, mentor)
        await page.goto(f"{server.url}/review/sessions/{s}")
        card = page.locator("#talk-card")
        await expect(card.get_by_role("heading", name="Talk time")).to_be_visible()
        people = card.get_by_role("listitem")
        await expect(people).to_have_count(2)
        # The mentor spoke 2:15 of 3:00 (75 %), the trainee 0:45 (25 %): the bars say so.
        await expect(people.nth(0)).to_contain_text(mentor.name)
        await expect(people.nth(0)).to_contain_text("2:15 · 75 %")
        await expect(people.nth(0)).to_contain_text("spoke 2 minutes 15 seconds, 75 % of the talk")
        await expect(people.nth(1)).to_contain_text(trainee.name)
        await expect(people.nth(1)).to_contain_text("0:45 · 25 %")
        await expect(people.nth(1)).to_contain_text("Most in minute 4: 0:33, minute 2: 0:12")
        widths = await card.locator(".talk-fill").evaluate_all(
            "fills => fills.map(f => f.getBoundingClientRect().width / "
            "f.parentElement.getBoundingClientRect().width)"
        )
        assert [round(w, 2) for w in widths] == [0.75, 0.25]
        # Nothing spills out of the card on a phone.
        overflow = await card.evaluate("c => c.scrollWidth - c.clientWidth")
        assert overflow <= 0
        assert not [v for v in await violations(page) if "talk" in v]
        await card.scroll_into_view_if_needed()
        await card.screenshot(path=str(SHOTS / f"talk-{name}.png"))
        await page.screenshot(path=str(SHOTS / f"record-{name}.png"), full_page=True)
        await context.close()
