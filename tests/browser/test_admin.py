"""An admin runs the program from the pages alone: accounts, a password reset link that the
person uses on a phone, supervisor assignments and the audit-log check; and the sign-in form
says what is wrong in words (issue 9, dead end 6)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from server.infra.roles import Role
from tests.browser.devices import DESKTOP, PHONE
from tests.support import RunningServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

SHOTS = Path("/tmp/shots/admin")


async def sign_in(page: Page, server: RunningServer, email: str, name: str) -> None:
    await page.goto(server.url + "/")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill("s3cret-pass!")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name=f"Welcome, {name}")).to_be_visible()


async def shoot(page: Page, name: str) -> None:
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def test_an_empty_sign_in_is_told_what_to_do_in_a_sentence(
    server: RunningServer, browser: Browser
) -> None:
    context = await browser.new_context(**PHONE)
    page = await context.new_page()
    await page.goto(server.url + "/")
    await page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    await expect(alert).to_be_visible()
    said = await alert.inner_text()
    assert said[:1].isupper(), said
    assert said.endswith("."), said
    assert not any(code in said for code in ("`", "$.", "Expected", "str")), said
    # What the browser does not check itself, the server says in words (it once said
    # "Expected `str` matching regex '^[^@\\s]+@[^@\\s]+$' - at `$.email`").
    await page.get_by_label("E-mail").fill("ada")
    await page.get_by_label("Password").fill("anything-at-all")
    await page.get_by_role("button", name="Sign in").click()
    await expect(alert).to_have_text(
        "The e-mail address is not complete; write it as name@example.org."
    )
    await context.close()


async def test_an_admin_runs_accounts_resets_assignments_and_the_audit_check(
    server: RunningServer, browser: Browser
) -> None:
    await server.user(Role.ADMIN, email="ada.admin@example.org")
    errors: list[str] = []
    desk = await browser.new_context(**DESKTOP)
    admin = await desk.new_page()
    admin.on("pageerror", lambda exc: errors.append(f"admin: {exc}"))
    await sign_in(admin, server, "ada.admin@example.org", "Test Admin")
    await admin.goto(server.url + "/admin")
    await expect(admin.get_by_role("heading", name="Administration")).to_be_visible()

    # --- accounts, made from the page ------------------------------------------------------------
    form = admin.get_by_role("region", name="New account")
    for name, email, role in [
        ("Kim Trainee", "kim@example.org", "Trainee"),
        ("Sam Supervisor", "sam@example.org", "Supervisor"),
    ]:
        await form.get_by_label("Name").fill(name)
        await form.get_by_label("E-mail").fill(email)
        await form.get_by_label("Role").select_option(label=role)
        await form.get_by_label("First password").fill("s3cret-pass!")
        await form.get_by_role("button", name="Create account").click()
        await expect(admin.get_by_role("cell", name=email)).to_be_visible()
    await expect(
        admin.get_by_text("Created supervisor account for Sam Supervisor.")
    ).to_be_visible()
    # A mistake is one sentence with advice, and focus goes to the field to fix.
    await form.get_by_label("Name").fill("Short Password")
    await form.get_by_label("E-mail").fill("short@example.org")
    await form.get_by_label("First password").fill("short")
    await form.get_by_role("button", name="Create account").click()
    await expect(form.get_by_role("alert")).to_have_text(
        "The password must be at least 10 characters; choose another."
    )

    # --- supervisor assignments -----------------------------------------------------------------
    assign = admin.get_by_role("region", name="Supervisors and trainees")
    await assign.get_by_label("Supervisor").select_option(label="Sam Supervisor (sam@example.org)")
    await assign.get_by_label("Trainee").select_option(label="Kim Trainee (kim@example.org)")
    await assign.get_by_role("button", name="Assign").click()
    await expect(assign.get_by_role("listitem")).to_contain_text(
        "Sam Supervisor follows Kim Trainee"
    )
    await expect(
        assign.get_by_role("button", name="Unassign Kim Trainee from Sam Supervisor")
    ).to_be_visible()

    # --- the audit-log check --------------------------------------------------------------------
    await admin.get_by_role("button", name="Check the audit log").click()
    await expect(admin.get_by_role("status").filter(has_text="audit log")).to_contain_text(
        "The audit log is intact"
    )
    await shoot(admin, "admin-desktop")

    # --- a reset link, used on Kim's phone ------------------------------------------------------
    phone = await browser.new_context(**PHONE)
    kim_old = await phone.new_page()  # Kim's sign-in from before, which the reset must end
    await sign_in(kim_old, server, "kim@example.org", "Kim Trainee")
    await admin.get_by_role("button", name="Reset password Kim Trainee").click()
    link = admin.get_by_label("One-time link")
    await expect(link).to_be_focused()
    url = await link.input_value()
    assert url.startswith(server.url + "/reset#")
    await shoot(admin, "admin-reset-link-desktop")

    other_phone = await browser.new_context(**PHONE)
    kim = await other_phone.new_page()
    kim.on("pageerror", lambda exc: errors.append(f"reset: {exc}"))
    await kim.goto(url)
    await expect(kim.get_by_role("heading", name="Choose a new password")).to_be_visible()
    await expect(kim.get_by_text("For Kim Trainee.")).to_be_visible()
    await shoot(kim, "reset-phone")
    await kim.get_by_label("New password", exact=True).fill("kims-new-password")
    await kim.get_by_label("New password again").fill("kims-new-passwort")
    await kim.get_by_role("button", name="Save password").click()
    await expect(kim.get_by_role("alert")).to_have_text(
        "The two passwords differ; type the same password in both boxes."
    )
    await kim.get_by_label("New password again").fill("kims-new-password")
    await kim.get_by_role("button", name="Save password").click()
    await expect(kim.get_by_role("heading", name="Your password is changed")).to_be_focused()
    await shoot(kim, "reset-done-phone")
    await kim.get_by_role("link", name="Go to the home page").click()
    await expect(kim.get_by_role("heading", name="Welcome, Kim Trainee")).to_be_visible()
    # Kim's earlier sign-in is over, and the link does not work twice.
    await kim_old.reload()
    await expect(kim_old.get_by_role("heading", name="Sign in")).to_be_visible()
    await kim.goto(url)
    await expect(kim.get_by_role("heading", name="This link no longer works")).to_be_visible()
    await expect(kim.get_by_text("ask your administrator for a new one")).to_be_visible()
    await shoot(kim, "reset-dead-phone")

    # --- disabling, with a confirm; then the audit log shows it all -----------------------------
    await admin.get_by_role("button", name="Done").click()
    await expect(admin.get_by_label("One-time link")).to_be_hidden()
    disable = admin.get_by_role("button", name="Disable Kim Trainee")
    await disable.click()
    await admin.get_by_role("button", name="Confirm disable Kim Trainee").click()
    await expect(admin.get_by_text("Kim Trainee is disabled.")).to_be_visible()
    row = admin.get_by_role("row").filter(has_text="kim@example.org")
    await expect(row.get_by_text("Disabled", exact=True)).to_be_visible()
    await expect(admin.get_by_role("button", name="Enable Kim Trainee")).to_be_visible()
    await kim.goto(server.url + "/")
    await expect(kim.get_by_role("heading", name="Sign in")).to_be_visible()

    # The same page on a phone.
    admin_phone = await phone.new_page()
    await admin_phone.context.clear_cookies()
    await sign_in(admin_phone, server, "ada.admin@example.org", "Test Admin")
    await admin_phone.goto(server.url + "/admin")
    await expect(admin_phone.get_by_role("heading", name="Administration")).to_be_visible()
    await expect(admin_phone.get_by_role("cell", name="sam@example.org")).to_be_visible()
    width = await admin_phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    await shoot(admin_phone, "admin-phone")
    actions = [e.action for e in await server.services.store.audit.recent(50)]
    for action in ("user.created", "assignment.created", "password.reset-link", "password.reset"):
        assert action in actions
    assert "user.disabled" in actions
    assert errors == []
    for context in (desk, phone, other_phone):
        await context.close()


async def test_others_are_told_the_page_is_for_administrators(
    server: RunningServer, browser: Browser
) -> None:
    await server.user(Role.MENTOR, email="mo@example.org")
    context = await browser.new_context(**PHONE)
    page = await context.new_page()
    await page.goto(server.url + "/admin")
    await expect(page.get_by_role("heading", name="Sign in first")).to_be_visible()
    await expect(page.get_by_role("link", name="Go to sign-in")).to_have_attribute("href", "/")
    await sign_in(page, server, "mo@example.org", "Test Mentor")
    await page.goto(server.url + "/admin")
    await expect(
        page.get_by_role("heading", name="This page is for administrators")
    ).to_be_visible()
    await expect(page.get_by_role("heading", name="Administration")).to_be_hidden()
    await shoot(page, "refused-phone")
    await context.close()
