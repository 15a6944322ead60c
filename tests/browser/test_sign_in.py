"""A person signs in and out in a real browser, on a desktop and on a phone."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from server.infra.roles import Role
from tests.support import RunningServer

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.mark.parametrize("device", ["desktop", "phone"])
async def test_sign_in_and_out(server: RunningServer, browser: Browser, device: str) -> None:
    user = await server.user(Role.MENTOR, email="dr.ada@example.org")
    options: dict[str, object] = (
        {"viewport": {"width": 360, "height": 640}, "is_mobile": True, "has_touch": True}
        if device == "phone"
        else {"viewport": {"width": 1280, "height": 800}}
    )
    context = await browser.new_context(**options)  # type: ignore[arg-type]
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(server.url + "/")

    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("E-mail").fill("dr.ada@example.org")
    await page.get_by_label("Password").fill("wrong-password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "Wrong e-mail or password; check both and try again."
    )

    await page.get_by_label("Password").fill("s3cret-pass!")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Welcome, Test Mentor")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"home-{device}.png"))

    # The session survives a reload: it lives on the server, behind the cookie.
    await page.reload()
    await expect(page.get_by_role("heading", name="Welcome, Test Mentor")).to_be_visible()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= options["viewport"]["width"]  # type: ignore[index]

    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.reload()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert errors == []
    actions = [e.action for e in await server.services.store.audit.recent(5)]
    assert actions[:2] == ["logout", "login"]
    assert user.id
    await context.close()
