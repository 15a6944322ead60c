"""The mentor who submits a long feedback form sees that it is submitting where they are looking:
at the foot of the form, after the last answer, the form's status ("Submitting…") stays in the
viewport while the answers are locked, and covers neither the submit button nor the answer being
read next to it. On a phone (390x844) and on a desktop (1280x800); the submit is held in the
browser by Playwright's routing (tests/browser/test_feedback_drafts.py) until the test lets it go.
Screenshots of both go to /tmp/shots/feedback/ for a person to look at.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, expect

from tests.browser.devices import DESKTOP, PHONE
from tests.browser.test_feedback import COMMENTS_LABEL
from tests.browser.test_feedback_drafts import (
    COMPLETE,
    ROUTED,
    Valve,
    answered,
    ended_session_with_draft,
    mentor_tab,
    record_form,
)
from tests.support import RunningServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

SHOTS = Path("/tmp/shots/feedback")
SIZES = {"390x844": PHONE, "1280x800": DESKTOP}

# Whether the element's centre is the element itself (or inside it) to a tap: nothing covers it.
UNCOVERED = """(element) => {
  const box = element.getBoundingClientRect();
  const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
  return hit !== null && (hit === element || element.contains(hit));
}"""


@pytest.fixture
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


async def overlaps(a: Locator, b: Locator) -> bool:
    one, two = await a.bounding_box(), await b.bounding_box()
    assert one is not None
    assert two is not None
    return not (
        one["y"] + one["height"] <= two["y"]
        or two["y"] + two["height"] <= one["y"]
        or one["x"] + one["width"] <= two["x"]
        or two["x"] + two["width"] <= one["x"]
    )


@pytest.mark.parametrize("size", SIZES)
async def test_submitting_stays_in_sight_at_the_foot_of_a_long_form(
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
    status = form.get_by_role("status")
    button = form.get_by_role("button", name="Submit feedback")
    comments = form.get_by_role("textbox", name=COMMENTS_LABEL)

    # The mentor reads down to the last answer and the button: the form's top is out of sight.
    await button.scroll_into_view_if_needed()
    await expect(status).to_have_text("Saved")
    await expect(status).not_to_be_in_viewport()
    await button.click()
    submit = await submits.first_held()

    submitting = form.get_by_role("button", name="Submitting…")
    await expect(submitting).to_be_disabled()
    await expect(comments).to_be_disabled()
    await expect(status).to_have_text("Submitting…")
    await expect(status).to_be_in_viewport()
    await expect(submitting).to_be_in_viewport()
    # Over nothing the mentor may still be reading: the button and the last answer show whole.
    assert not await overlaps(status, submitting)
    assert await submitting.evaluate(UNCOVERED)
    assert await comments.evaluate(UNCOVERED)
    await page.screenshot(path=shots / f"submit-status-{size}.png")

    submits.open()
    await answered(page, submit)
    await expect(page.locator("#give-panel .fb-submitted .fb-save")).to_have_text("Submitted")
    assert errors == []
    await context.close()
    await scene.http.aclose()
