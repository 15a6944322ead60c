"""axe-core (installed from npm, web/package.json) on the home, call, record and admin pages, each
signed in as the person who uses it; any serious or critical violation fails. And the admin page
by keyboard alone: Tab reaches every control, and each has a name (issue 9, "Proof")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from server.infra.roles import Role, User
from tests.browser.devices import DESKTOP, PHONE
from tests.support import RunningServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

AXE = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "axe-core" / "axe.min.js"

# The violations as axe reports them, one line each: rule, impact, the elements (CSS selectors).
RUN_AXE = """async () => {
  const result = await window.axe.run(document, { resultTypes: ["violations"] });
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => {
      const where = v.nodes.map((n) => n.target.join(" ")).join(", ");
      return `${v.impact} ${v.id}: ${v.help} at ${where}`;
    });
}"""


async def context_with_axe(browser: Browser, options: dict[str, Any]) -> BrowserContext:
    if not AXE.exists():
        pytest.fail("axe-core is missing from web/node_modules: run `make test` (npm ci in web/)")
    context = await browser.new_context(**options)
    # An init script runs through the DevTools protocol, so the pages' CSP (script-src 'self')
    # still holds for everything else.
    await context.add_init_script(path=str(AXE))
    return context


async def sign_in(page: Page, server: RunningServer, user: User) -> None:
    await page.goto(server.url + "/")
    await page.get_by_label("E-mail").fill(user.email)
    await page.get_by_label("Password").fill("s3cret-pass!")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name=f"Welcome, {user.name}")).to_be_visible()


async def violations(page: Page) -> list[str]:
    found: list[str] = await page.evaluate(RUN_AXE)
    return found


async def ended_session(server: RunningServer, mentor: User, trainee: User) -> str:
    """A session made and ended through the API: these tests are about the pages that show it."""
    client = await server.signed_in(mentor)
    try:
        created = await client.post(
            "/api/sessions", json={"title": "Airway review", "trainee_ids": [trainee.id]}
        )
        assert created.status_code == 201, created.text
        session_id: str = created.json()["id"]
        ended = await client.post(f"/api/sessions/{session_id}/end")
        assert ended.status_code == 200, ended.text
        return session_id
    finally:
        await client.aclose()


@pytest.mark.parametrize("device", ["desktop", "phone"])
async def test_home_and_record_pages_have_no_serious_violation(
    server: RunningServer, browser: Browser, device: str
) -> None:
    mentor = await server.user(Role.MENTOR)
    trainee = await server.user(Role.TRAINEE)
    session_id = await ended_session(server, mentor, trainee)
    context = await context_with_axe(browser, DESKTOP if device == "desktop" else PHONE)
    page = await context.new_page()
    await page.goto(server.url + "/")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    problems = {"sign-in": await violations(page)}
    await sign_in(page, server, mentor)
    await expect(page.get_by_text("Airway review")).to_be_visible()
    problems["home"] = await violations(page)
    await page.goto(f"{server.url}/review/sessions/{session_id}")
    await expect(page.get_by_role("heading", name="Airway review")).to_be_visible()
    problems["record"] = await violations(page)
    await context.close()
    assert problems == {"sign-in": [], "home": [], "record": []}


async def test_call_page_has_no_serious_violation(server: RunningServer, browser: Browser) -> None:
    mentor = await server.user(Role.MENTOR)
    trainee = await server.user(Role.TRAINEE)
    session_id = await ended_session(server, mentor, trainee)
    # A live session this time: the mentor's call before and after joining.
    client = await server.signed_in(mentor)
    live = await client.post("/api/sessions", json={"title": "Ward round"})
    await client.aclose()
    assert session_id
    context = await context_with_axe(browser, DESKTOP)
    page = await context.new_page()
    await sign_in(page, server, mentor)
    await page.goto(f"{server.url}/sessions/{live.json()['id']}")
    await expect(page.get_by_role("button", name="Join")).to_be_enabled()
    problems = {"device check": await violations(page)}
    await page.get_by_role("button", name="Join").click()
    await expect(page.get_by_role("button", name="Leave")).to_be_visible()
    problems["call"] = await violations(page)
    await context.close()
    assert problems == {"device check": [], "call": []}


async def admin_page(browser: Browser, server: RunningServer, options: dict[str, Any]) -> Page:
    admin = await server.user(Role.ADMIN, email="ada.admin@example.org")
    supervisor = await server.user(Role.SUPERVISOR, email="sam@example.org")
    trainee = await server.user(Role.TRAINEE, email="kim@example.org")
    await server.services.accounts.assign(supervisor.id, trainee.id, actor_id=None)
    context = await context_with_axe(browser, options)
    page = await context.new_page()
    await sign_in(page, server, admin)
    await page.goto(server.url + "/admin")
    await expect(page.get_by_role("cell", name="kim@example.org")).to_be_visible()
    await expect(page.get_by_text("Test Supervisor follows Test Trainee")).to_be_visible()
    return page


@pytest.mark.parametrize("device", ["desktop", "phone"])
async def test_admin_and_reset_pages_have_no_serious_violation(
    server: RunningServer, browser: Browser, device: str
) -> None:
    page = await admin_page(browser, server, DESKTOP if device == "desktop" else PHONE)
    problems = {"admin": await violations(page)}
    await page.get_by_role("button", name="Check the audit log").click()
    await expect(page.get_by_text("The audit log is intact")).to_be_visible()
    await page.get_by_role("button", name="Reset password Test Trainee").click()
    await expect(page.get_by_label("One-time link")).to_be_focused()
    url = await page.get_by_label("One-time link").input_value()
    problems["admin with results"] = await violations(page)
    await page.goto(url)
    await expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    await page.screenshot(path=f"/tmp/shots/admin/reset-{device}.png", full_page=True)
    problems["reset"] = await violations(page)
    await page.goto(server.url + "/reset#spent-or-wrong")
    await expect(page.get_by_role("heading", name="This link no longer works")).to_be_visible()
    problems["dead reset link"] = await violations(page)
    # The harness itself: a button without a name must be caught.
    await page.evaluate("document.querySelector('main').append(document.createElement('button'))")
    assert any("button-name" in v for v in await violations(page))
    await page.context.close()
    assert problems == {"admin": [], "admin with results": [], "reset": [], "dead reset link": []}


# What `focusable` counts: every control a person could operate, when shown and enabled.
FOCUSABLE = """() => [...document.querySelectorAll(
  'a[href], button, input, select, textarea, [tabindex]:not([tabindex="-1"])'
)].filter((e) => !e.disabled && e.getClientRects().length > 0
  && getComputedStyle(e).visibility !== 'hidden').length"""

# Tags the focused element on its first visit; answers false once focus comes round again.
VISIT = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  if (e.dataset.tabVisit) return false;
  e.dataset.tabVisit = String(document.querySelectorAll('[data-tab-visit]').length + 1);
  return true;
}"""


async def test_the_admin_page_works_by_keyboard_alone(
    server: RunningServer, browser: Browser
) -> None:
    page = await admin_page(browser, server, DESKTOP)
    controls = await page.evaluate(FOCUSABLE)
    visited = 0
    for _ in range(controls * 2 + 5):
        await page.keyboard.press("Tab")
        seen = await page.evaluate(VISIT)
        if seen is False:
            break
        visited += bool(seen)
    assert visited == controls
    # Each control was reached by Tab and is found by its role and name, in reading order.
    expected = [
        ("link", "Preceptor"),
        ("button", "Reset password Test Admin"),
        ("button", "Disable Test Supervisor"),
        ("button", "Reset password Test Supervisor"),
        ("button", "Disable Test Trainee"),
        ("button", "Reset password Test Trainee"),
        ("textbox", "Name"),
        ("textbox", "E-mail"),
        ("combobox", "Role"),
        ("textbox", "First password"),
        ("button", "Create account"),
        ("combobox", "Supervisor"),
        ("combobox", "Trainee"),
        ("button", "Assign"),
        ("button", "Unassign Test Trainee from Test Supervisor"),
        ("button", "Check the audit log"),
    ]
    order = []
    for role, name in expected:
        control = page.get_by_role(role, name=name, exact=True)  # type: ignore[arg-type]
        if role == "textbox" and name == "First password":
            control = page.get_by_label(name, exact=True)
        order.append(int(await control.get_attribute("data-tab-visit") or 0))
    assert 0 not in order
    assert order == sorted(order)
    # Keyboard only, the reset link can be made, copied and closed.
    await page.get_by_role("button", name="Reset password Test Trainee").focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_label("One-time link")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Copy link")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Done")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("button", name="Reset password Test Trainee")).to_be_focused()
    await page.context.close()
