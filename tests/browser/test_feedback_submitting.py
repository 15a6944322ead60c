"""Submitting feedback: while "Submit feedback" is on the wire the answers are locked, so no edit is
made that the submitted form would then refuse; on success the form shows as submitted with what
was submitted, and on failure it opens again with nothing typed lost.

The submit is held in the browser by Playwright's routing (tests/browser/test_feedback_drafts.py)
until the test releases it, or answered with an outage. Screenshots of the form while it submits
and after, on a phone and on a desktop, go to /tmp/shots/feedback for a person to look at.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from playwright.async_api import Browser, Route, expect

from tests.browser.devices import DESKTOP, PHONE
from tests.browser.test_feedback import COMMENTS_LABEL, record_card
from tests.browser.test_feedback_drafts import (
    COMPLETE,
    ROUTED,
    WAIT_S,
    Valve,
    answer,
    answered,
    ended_session_with_draft,
    mentor_tab,
    record_form,
    server_holds,
)
from tests.support import RunningServer, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

SHOTS = Path("/tmp/shots/feedback")
SIZES = {"phone": PHONE, "desktop": DESKTOP}
OUTAGE = "The server is restarting; try again."
TYPED = "Clear history; safety-net advice given before closing."


@pytest.fixture
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


@pytest.mark.parametrize("size", SIZES)
async def test_while_submitting_the_answers_are_locked_and_then_shown_as_submitted(
    server: RunningServer, browser: Browser, size: str, shots: Path
) -> None:
    scene = await ended_session_with_draft(server, COMPLETE)
    errors: list[str] = []
    context = await browser.new_context(**{**ROUTED, **SIZES[size]})
    submits = Valve()
    page = await mentor_tab(
        context, server, scene, errors, (f"**/api/feedback/{scene.form_id}/submit", submits.handle)
    )
    form = await record_form(page, scene)

    # Typed just before "Submit": saved first, then submitted.
    comments = form.get_by_role("textbox", name=COMMENTS_LABEL)
    await comments.fill(TYPED)
    button = form.get_by_role("button", name="Submit feedback")
    await button.click()
    submit = await submits.first_held()
    submitting = form.get_by_role("button", name="Submitting…")
    await expect(submitting).to_be_disabled()
    await expect(form.get_by_role("status")).to_have_text("Submitting…")
    await expect(comments).to_be_disabled()
    await expect(answer(form, "Clinical Judgment", "7")).to_be_disabled()
    await expect(form.get_by_role("button", name="Cite mark").first).to_be_disabled()
    await form.get_by_role("status").scroll_into_view_if_needed()
    await page.screenshot(path=shots / f"submitting-top-{size}.png")
    await submitting.scroll_into_view_if_needed()
    await page.screenshot(path=shots / f"submitting-{size}.png")

    submits.open()
    await answered(page, submit)
    submitted = page.locator("#give-panel .fb-submitted")
    await expect(submitted.locator(".fb-save")).to_have_text("Submitted")
    await expect(form).to_have_count(0)
    await expect(record_card(page, "Mini-CEX")).to_contain_text(TYPED)
    held = (await scene.http.get(f"/api/feedback/{scene.form_id}")).json()
    assert held["status"] == "submitted"
    assert held["responses"] == {**COMPLETE, "comments": TYPED}
    await submitted.scroll_into_view_if_needed()
    await page.screenshot(path=shots / f"submitted-{size}.png")
    assert errors == []
    await context.close()
    await scene.http.aclose()


async def test_a_submit_that_fails_opens_the_form_again_with_nothing_lost(
    server: RunningServer, browser: Browser
) -> None:
    scene = await ended_session_with_draft(server, COMPLETE)
    errors: list[str] = []
    context = await browser.new_context(**ROUTED)
    outage = Outage()
    page = await mentor_tab(
        context, server, scene, errors, (f"**/api/feedback/{scene.form_id}/submit", outage.handle)
    )
    form = await record_form(page, scene)

    comments = form.get_by_role("textbox", name=COMMENTS_LABEL)
    await comments.fill(TYPED)
    await form.get_by_role("button", name="Submit feedback").click()
    await expect(comments).to_be_disabled()
    await expect(form.get_by_role("status")).to_have_text("Submitting…")
    outage.answer()

    await expect(form.locator(".fb-summary")).to_have_text(OUTAGE)
    await expect(comments).to_be_enabled()
    await expect(comments).to_have_value(TYPED)
    await expect(form.get_by_role("status")).to_have_text("Saved")
    await expect(form.get_by_role("button", name="Submit feedback")).to_be_enabled()
    # The mentor goes on: the change is saved, and the next submit takes it.
    await comments.fill(f"{TYPED} Re-check in a week.")
    await wait_for(
        lambda: server_holds(scene, {"comments": f"{TYPED} Re-check in a week."}), timeout=WAIT_S
    )
    await form.get_by_role("button", name="Submit feedback").click()
    await expect(page.locator("#give-panel .fb-submitted .fb-save")).to_have_text("Submitted")
    await expect(record_card(page, "Mini-CEX")).to_contain_text("Re-check in a week.")
    assert errors == []
    await context.close()
    await scene.http.aclose()


class Outage:
    """The first submit is held, then answered 503 on `answer()`; later ones reach the server."""

    def __init__(self) -> None:
        self.held = False
        self.answered = asyncio.Event()

    async def handle(self, route: Route) -> None:
        if self.held:
            await route.continue_()
            return
        self.held = True
        await self.answered.wait()
        await route.fulfill(
            status=503,
            content_type="application/json",
            body=json.dumps({"error": "unavailable", "message": OUTAGE}),
        )

    def answer(self) -> None:
        self.answered.set()
