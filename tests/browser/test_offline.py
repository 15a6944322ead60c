"""Installable, and readable offline (issue 10): in headless Chromium on a 390x844 phone, a trainee
opens their progress page (the service worker at /sw.js takes it over), sees who viewed their
record, goes offline and reloads: the page shows the last visit's data and says it is a read-only
copy. After signing out, offline, the same page shows nothing personal, nor to the next person
who signs in on that phone. Screenshots of the page (who viewed, offline) at phone and desktop
size go to /tmp/shots/review2/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.devices import PHONE
from tests.browser.test_notes import watch
from tests.browser.test_review import AXE, PASSWORD, RUN_AXE, seed, sign_in
from tests.support import RunningServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

SHOTS = Path("/tmp/shots/review2")
DESKTOP = {"width": 1280, "height": 800}
# Whether a service worker controls the page within 10 s (page.wait_for_function would poll
# with eval, which the pages' CSP refuses).
CONTROLLED = """async () => {
  const sw = navigator.serviceWorker;
  const controlled = new Promise((resolve) => {
    if (sw.controller) resolve(true);
    sw.addEventListener("controllerchange", () => resolve(true), { once: true });
  });
  const late = new Promise((resolve) => setTimeout(() => resolve(false), 10000));
  return Promise.race([controlled, late]);
}"""
PERSONAL_CACHES = "(async () => (await caches.keys()).filter((n) => n.includes('personal')))()"


def _folder() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


async def shoot(page: Page, name: str) -> None:
    _folder()
    await page.set_viewport_size(PHONE["viewport"])
    await page.screenshot(path=str(SHOTS / f"trainee-{name}-phone.png"), full_page=True)
    await page.set_viewport_size(DESKTOP)
    await page.screenshot(path=str(SHOTS / f"trainee-{name}-desktop.png"), full_page=True)
    await page.set_viewport_size(PHONE["viewport"])


async def test_the_trainee_page_opens_offline_and_forgets_it_all_on_sign_out(
    server: RunningServer, browser: Browser
) -> None:
    seeded = await seed(server)
    trainee = seeded.trainee
    # The supervisor looked at the trainee's progress and a session record before.
    supervisor = await server.signed_in(seeded.supervisor, PASSWORD)
    await supervisor.get(f"/api/trainees/{trainee.id}/progress")
    await supervisor.get(f"/api/sessions/{seeded.sessions[2]}/record")
    await supervisor.aclose()

    errors: list[str] = []
    context = await browser.new_context(**PHONE)
    await context.add_init_script(path=str(AXE))
    page = await context.new_page()
    watch(page, "trainee", errors)
    await sign_in(page, server, trainee)
    url = f"{server.url}/review/trainees/{trainee.id}"
    await page.goto(url)
    views = page.locator("#view-list")
    await expect(page.get_by_role("heading", name="Who viewed your record")).to_be_visible()
    await expect(views.locator("li")).to_have_count(2)
    await expect(views.locator("li").first).to_contain_text(
        "Dr Sue Okafor (supervisor) opened the record of Clinic week 3"
    )
    await expect(views.locator("li").nth(1)).to_contain_text(
        "Dr Sue Okafor (supervisor) viewed the progress page"
    )
    # The worker controls the page once it is active; this visit's answers are then kept.
    assert await page.evaluate(CONTROLLED), "no service worker took the page over"
    await page.goto(server.url + "/review")
    await expect(page.get_by_role("link", name=trainee.name)).to_be_visible()
    record_url = f"{server.url}/review/sessions/{seeded.sessions[2]}"
    await page.goto(record_url)
    await expect(page.get_by_role("heading", name="Clinic week 3", level=1)).to_be_visible()
    await page.goto(url)
    await expect(views.locator("li")).to_have_count(2)
    problems = {"who viewed": await page.evaluate(RUN_AXE)}
    await shoot(page, "who-viewed")

    # Offline: the last visit's data, said to be a read-only copy.
    await context.set_offline(True)
    await page.reload()
    await expect(page.locator("#offline-notice")).to_contain_text(
        "You are offline: this is a read-only copy from your last visit"
    )
    await expect(page.get_by_role("heading", name=trainee.name, level=1)).to_be_visible()
    await expect(page.get_by_role("heading", name="Mini-CEX", level=2)).to_be_visible()
    await expect(page.locator("figure.chart svg").first).to_be_visible()
    await expect(views.locator("li")).to_have_count(2)
    await page.get_by_role("heading", name="Filters").click()  # open the disclosure
    await expect(page.get_by_role("button", name="Apply filters")).to_be_disabled()
    await expect(page.get_by_role("link", name=re.compile("Download these answers"))).to_be_hidden()
    problems["offline"] = await page.evaluate(RUN_AXE)
    await shoot(page, "offline")
    await page.goto(server.url + "/review")
    await expect(page.locator("#offline-notice")).to_contain_text("read-only copy")
    await expect(page.get_by_role("link", name=trainee.name)).to_be_visible()
    await page.goto(record_url)
    await expect(page.get_by_role("heading", name="Clinic week 3", level=1)).to_be_visible()
    await expect(page.locator("#offline-notice")).to_contain_text("read-only copy")

    # Signed out (online), nothing personal stays: offline, the page has nothing to show.
    await context.set_offline(False)
    await page.goto(server.url + "/")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert await page.evaluate(PERSONAL_CACHES) == []
    await context.set_offline(True)
    await page.goto(url)
    await expect(page.get_by_role("heading", name="You are offline")).to_be_visible()
    await expect(page.locator("body")).not_to_contain_text(trainee.name)
    await expect(page.locator("body")).not_to_contain_text("Okafor")
    await shoot(page, "signed-out-offline")

    # Someone else signs in on this phone: the trainee's copy is not theirs to read offline.
    await context.set_offline(False)
    await sign_in(page, server, seeded.supervisor)
    await context.set_offline(True)
    await page.goto(url)
    await expect(page.get_by_role("heading", name="You are offline")).to_be_visible()
    await expect(page.locator("main")).not_to_contain_text(trainee.name)
    await context.close()
    assert problems == {"who viewed": [], "offline": []}
    assert errors == []
