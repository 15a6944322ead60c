"""Shared notes in the call page: a mentor on a desktop and a trainee on a phone write together.

Each sees the other's text; the trainee goes offline (its y-websocket provider disconnected),
keeps typing, comes back, and both pages converge on one text that includes the offline edit
and equals what the server holds (DESIGN.md §2 "Notes socket", §3b).
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, ConsoleMessage, Locator, Page, expect

from server.infra.roles import Role
from tests.browser.devices import DESKTOP, SMALL_PHONE
from tests.browser.test_call import (
    ARTIFACTS,
    join_as_mentor,
    join_from_invite,
    session_with_invite,
    sign_in,
)
from tests.support import RunningServer, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

OFFLINE = "Offline — changes are kept and will sync"

# The page's view of the notes: the Y.Text, the editor's own copy of it, and the socket's state.
NOTES_STATE = """() => {
  const notes = window.__preceptor?.notes;
  if (!notes) return null;
  return {
    text: notes.text(),
    shown: notes.view.state.doc.toString(),
    connected: notes.provider.wsconnected,
    synced: notes.provider.synced,
  };
}"""


def editor(page: Page) -> Locator:
    return page.get_by_role("textbox", name="Session notes")


def badge(page: Page) -> Locator:
    return page.locator("#notes-status")


async def notes_state(page: Page) -> dict[str, Any] | None:
    state: dict[str, Any] | None = await page.evaluate(NOTES_STATE)
    return state


async def stored_locally(page: Page, text: str) -> bool:
    """Whether the page's IndexedDB copy of the notes (what a reload starts from) holds `text`."""
    stored = await page.evaluate("() => window.__preceptor.notes.storedText()")
    return text in (stored or "")


async def type_at_end(page: Page, text: str) -> None:
    await editor(page).click()
    await page.keyboard.press("Control+End")
    await page.keyboard.type(text)


def watch(page: Page, who: str, errors: list[str]) -> None:
    """Page errors and CSP refusals (the editor must live within `style-src 'self'`)."""
    page.on("pageerror", lambda exc: errors.append(f"{who}: {exc}"))

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            errors.append(f"{who}: {message.text}")

    page.on("console", console)


async def test_mentor_and_phone_trainee_write_notes_together_and_offline(
    server: RunningServer, browser: Browser
) -> None:
    user = await server.user(Role.MENTOR)
    session_id, invite_url = await session_with_invite(server, user, "Sam Trainee")
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []

    # --- the mentor joins alone: the notes are there before anyone else is --------------------
    desk_context = await browser.new_context(**DESKTOP)
    mentor = await desk_context.new_page()
    watch(mentor, "mentor", errors)
    await sign_in(mentor, server, user.email)
    await join_as_mentor(mentor, server, session_id)
    await mentor.get_by_role("tab", name="Notes").click()
    await expect(editor(mentor)).to_be_visible()
    await expect(badge(mentor)).to_have_text("Online")
    await expect(mentor.locator("#notes-mode")).to_be_hidden()
    await type_at_end(mentor, "Mentor: airway checked.")

    # --- the trainee joins from a phone and is admitted -----------------------------------------
    phone_context = await browser.new_context(**SMALL_PHONE)
    trainee = await phone_context.new_page()
    watch(trainee, "trainee", errors)
    await join_from_invite(trainee, invite_url)
    assert await notes_state(trainee) is None  # in the lobby: no notes yet
    await expect(trainee.get_by_role("tab", name="Notes")).to_be_hidden()
    await mentor.get_by_role("button", name="Admit").click()
    await expect(trainee.get_by_role("button", name="Leave")).to_be_visible()

    await trainee.get_by_role("button", name="Chat").click()
    await trainee.get_by_role("tab", name="Notes").click()
    await expect(editor(trainee)).to_be_visible()
    await expect(badge(trainee)).to_have_text("Online")
    await expect(editor(trainee)).to_contain_text("Mentor: airway checked.")

    # --- each types; each sees the other's text ---------------------------------------------------
    await type_at_end(trainee, " Trainee: how deep for suction?")
    await expect(editor(mentor)).to_contain_text("Trainee: how deep for suction?")
    await type_at_end(mentor, " Mentor: to the carina, not past it.")
    await expect(editor(trainee)).to_contain_text("Mentor: to the carina, not past it.")
    await mentor.screenshot(path=str(ARTIFACTS / "notes-desktop.png"))
    await trainee.screenshot(path=str(ARTIFACTS / "notes-phone.png"))

    # --- the trainee goes offline, keeps writing; the mentor writes meanwhile --------------------
    await trainee.evaluate("() => window.__preceptor.notes.provider.disconnect()")
    await expect(badge(trainee)).to_have_text(OFFLINE)
    await type_at_end(trainee, " Trainee offline: recheck tube position.")
    await type_at_end(mentor, " Mentor meanwhile: good.")
    await expect(editor(trainee)).to_contain_text("Trainee offline: recheck tube position.")
    await expect(editor(mentor)).to_contain_text("Mentor meanwhile: good.")
    mentor_now = await notes_state(mentor)
    assert mentor_now is not None
    assert "Trainee offline" not in mentor_now["text"]
    await trainee.screenshot(path=str(ARTIFACTS / "notes-phone-offline.png"))

    # --- back online: both converge on one text with both edits ----------------------------------
    await trainee.evaluate("() => window.__preceptor.notes.provider.connect()")
    await expect(badge(trainee)).to_have_text("Online")
    await expect(editor(mentor)).to_contain_text("Trainee offline: recheck tube position.")
    await expect(editor(trainee)).to_contain_text("Mentor meanwhile: good.")

    async def converged() -> bool:
        a, b = await notes_state(mentor), await notes_state(trainee)
        return bool(a and b) and a == b and a is not None and a["text"] == a["shown"]

    await wait_for(converged, timeout=10, interval=0.1)
    # The trainee's cursor is back on the mentor's page too (awareness after a reconnect).
    await expect(mentor.locator(".cm-ySelectionCaret")).to_have_count(1)
    final = await notes_state(mentor)
    assert final is not None
    text = final["text"]
    for part in (
        "Mentor: airway checked.",
        "Trainee: how deep for suction?",
        "Mentor: to the carina, not past it.",
        "Trainee offline: recheck tube position.",
        "Mentor meanwhile: good.",
    ):
        assert text.count(part) == 1, (part, text)
    await mentor.screenshot(path=str(ARTIFACTS / "notes-desktop-converged.png"))
    await trainee.screenshot(path=str(ARTIFACTS / "notes-phone-converged.png"))

    # --- an offline edit survives a reload (IndexedDB) and reaches the others afterwards --------
    await mentor.evaluate("() => window.__preceptor.notes.provider.disconnect()")
    await expect(badge(mentor)).to_have_text(OFFLINE)
    await type_at_end(mentor, " Mentor before reload.")
    await wait_for(lambda: stored_locally(mentor, "Mentor before reload."), timeout=5)
    await mentor.reload()
    await mentor.get_by_role("button", name="Join").click()
    await mentor.get_by_role("tab", name="Notes").click()
    await expect(editor(mentor)).to_contain_text("Mentor before reload.")
    await expect(editor(trainee)).to_contain_text("Mentor before reload.")
    await wait_for(converged, timeout=10, interval=0.1)
    final = await notes_state(trainee)
    assert final is not None
    text = final["text"]
    assert text.count("Mentor before reload.") == 1, text

    # --- the server holds the same text ---------------------------------------------------------
    client = await server.signed_in(user)
    try:
        response = await client.get(f"/api/sessions/{session_id}/notes")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["text"] == text
        assert body["can_edit"] is True
    finally:
        await client.aclose()

    width = await trainee.evaluate("document.documentElement.scrollWidth")
    assert width <= 360
    assert errors == []
    await phone_context.close()
    await desk_context.close()


async def test_supervisor_reads_notes_without_editing(
    server: RunningServer, browser: Browser
) -> None:
    """`can_edit` is false for supervisors: the editor is read-only and the page's Y.Doc never
    holds a change of its own (so it cannot send one)."""
    mentor_user = await server.user(Role.MENTOR)
    trainee_user = await server.user(Role.TRAINEE)
    supervisor_user = await server.user(Role.SUPERVISOR)
    await server.services.accounts.assign(supervisor_user.id, trainee_user.id, actor_id=None)
    client = await server.signed_in(mentor_user)
    try:
        created = await client.post(
            "/api/sessions",
            # Automatic: a supervisor observes (a direct session cannot be observed).
            json={"title": "Line insertion", "trainee_ids": [trainee_user.id]},
        )
        assert created.status_code == 201, created.text
        session_id = created.json()["id"]
    finally:
        await client.aclose()
    errors: list[str] = []

    desk_context = await browser.new_context(**DESKTOP)
    mentor = await desk_context.new_page()
    watch(mentor, "mentor", errors)
    await sign_in(mentor, server, mentor_user.email)
    await join_as_mentor(mentor, server, session_id)
    await mentor.get_by_role("tab", name="Notes").click()
    await type_at_end(mentor, "Mentor: consent taken.")

    supervisor_context = await browser.new_context(**DESKTOP)
    supervisor = await supervisor_context.new_page()
    watch(supervisor, "supervisor", errors)
    await supervisor.goto(server.url + "/")
    await supervisor.get_by_label("E-mail").fill(supervisor_user.email)
    await supervisor.get_by_label("Password").fill("s3cret-pass!")
    await supervisor.get_by_role("button", name="Sign in").click()
    await expect(supervisor.get_by_role("heading", name="Welcome")).to_be_visible()
    await join_as_mentor(supervisor, server, session_id)
    await supervisor.get_by_role("tab", name="Notes").click()

    notes = editor(supervisor)
    await expect(notes).to_contain_text("Mentor: consent taken.")
    await expect(notes).to_have_attribute("aria-readonly", "true")
    await expect(supervisor.locator("#notes-mode")).to_have_text("Read only")
    await expect(badge(supervisor)).to_have_text("Online")
    await notes.click()
    await supervisor.keyboard.type("supervisor was here")
    await type_at_end(mentor, " Mentor: site cleaned.")
    await expect(notes).to_contain_text("Mentor: site cleaned.")
    await supervisor.screenshot(path=str(ARTIFACTS / "notes-supervisor-read-only.png"))

    state = await notes_state(supervisor)
    assert state is not None
    assert "supervisor was here" not in state["text"]
    # Still connected: the server never had reason to refuse it (4403) for sending a change.
    assert state["connected"]
    assert state["synced"]
    own_changes = await supervisor.evaluate(
        "() => { const d = window.__preceptor.notes.doc; return d.store.clients.has(d.clientID); }"
    )
    assert own_changes is False
    assert errors == []
    await supervisor_context.close()
    await desk_context.close()
