"""Structured feedback in real browsers, from a marked moment to a countersigned FHIR record.

A mentor (desktop) and a trainee signed in to her own account (phone) are in a live call.
The mentor marks a moment, fills a Mini-CEX in the Feedback tab (one domain
"not observed", the mark cited as evidence), submits too early and is shown what is missing,
reloads half-way (the draft survives, including what was typed just before the reload), and
submits. The trainee fills the self-assessment, leaves, opens the record on the phone, answers
the trainee's own Mini-CEX item, replies and acknowledges; the trainee's supervisor countersigns;
the FHIR export holds the Mini-CEX as a QuestionnaireResponse (README "Structured feedback").
"""

from __future__ import annotations

import re

import pytest
from fhir.resources.R4B.bundle import Bundle
from playwright.async_api import Browser, Locator, Page, expect

from server.infra.roles import Role
from tests.browser.devices import DESKTOP, SMALL_PHONE
from tests.browser.test_call import ARTIFACTS, join_as_mentor, sign_in, video_rises
from tests.browser.test_notes import badge as notes_badge
from tests.browser.test_notes import type_at_end, watch
from tests.support import RunningServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

MINI_CEX = "mini-cex-abim"
MINUS = "\u2212"  # the Mark bar's "minus" tag (U+2212 MINUS SIGN)
DOMAINS = {
    "Medical Interviewing Skills": "7",
    "Physical Examination Skills": "Not observed",
    "Humanistic Qualities/Professionalism": "8",
    "Clinical Judgment": "6",
    "Counseling Skills": "5",
    "Organization/Efficiency": "6",
    "Overall Clinical Competence": "7",
}
COMMENTS_LABEL = "Comments (strengths, suggestions, agreed action)"
COMMENTS = "Clear history; next time screen for red flags before closing."


def mini_cex(page: Page) -> Locator:
    return page.get_by_role("form", name="Mini-CEX form")


def item(form: Locator, item_id: str) -> Locator:
    return form.locator(f'.fb-item[data-item="{item_id}"]')


async def choose(form: Locator, group: str, option: str) -> None:
    radio = form.get_by_role("radiogroup", name=group, exact=True).get_by_role(
        "radio", name=option, exact=True
    )
    await radio.check()


def record_card(page: Page, title: str) -> Locator:
    """One form on the record page, by its heading ("Mini-CEX · Test Trainee")."""
    heading = page.get_by_role("heading", name=re.compile(rf"^{re.escape(title)}"))
    return page.locator(".fb-record").filter(has=heading)


async def saved(page: Page) -> None:
    await expect(mini_cex(page).get_by_role("status")).to_have_text("Saved")


async def open_feedback(page: Page, *, tab: bool = True) -> Locator:
    """The Mini-CEX form, from the call's Feedback tab (or the record page's panel)."""
    if tab:
        await page.get_by_role("tab", name="Feedback").click()
    await expect(page.get_by_label("Instrument")).to_have_value(MINI_CEX)
    await page.get_by_label("Instrument").select_option(label="Mini-CEX")
    form = mini_cex(page)
    await expect(form).to_be_visible()
    return form


async def test_mark_feedback_acknowledge_countersign_export(
    server: RunningServer, browser: Browser
) -> None:
    mentor_user = await server.user(Role.MENTOR)
    trainee_user = await server.user(Role.TRAINEE)
    supervisor_user = await server.user(Role.SUPERVISOR)
    await server.services.accounts.assign(supervisor_user.id, trainee_user.id, actor_id=None)
    http = await server.signed_in(mentor_user)
    created = await http.post(
        "/api/sessions", json={"title": "Chest pain history", "trainee_ids": [trainee_user.id]}
    )
    assert created.status_code == 201, created.text
    session_id = created.json()["id"]
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []

    # --- a live call: the mentor on a desktop, the trainee (as their account) on a phone ---------
    desk = await browser.new_context(**DESKTOP)
    mentor = await desk.new_page()
    watch(mentor, "mentor", errors)
    await sign_in(mentor, server, mentor_user.email)
    await join_as_mentor(mentor, server, session_id)
    phone = await browser.new_context(**SMALL_PHONE)
    trainee = await phone.new_page()
    watch(trainee, "trainee", errors)
    # Her own feedback needs her own sign-in (an invite link grants presence only); a listed
    # trainee, signed in, enters without waiting in the lobby.
    await trainee.goto(server.url + "/")
    await trainee.get_by_label("E-mail").fill(trainee_user.email)
    await trainee.get_by_label("Password").fill("s3cret-pass!")
    await trainee.get_by_role("button", name="Sign in").click()
    await expect(trainee.get_by_role("heading", name="Welcome, Test Trainee")).to_be_visible()
    await join_as_mentor(trainee, server, session_id)
    await video_rises(mentor)
    await video_rises(trainee)
    # Marks are the mentor's: the trainee has no Mark control.
    await expect(trainee.get_by_role("button", name="Mark", exact=True)).to_be_hidden()

    # --- the mentor marks two moments -----------------------------------------------------------
    await mentor.get_by_label("Mark label").fill("Good rapport")
    plus = mentor.get_by_role("button", name="+", exact=True)
    await plus.click()
    await expect(plus).to_have_attribute("aria-pressed", "true")
    await mentor.get_by_role("button", name="Mark", exact=True).click()
    status = mentor.locator("#mark-status")
    await expect(status).to_have_text(re.compile(r"^Marked at \+\d\d:\d\d into the call$"))
    await expect(plus).to_have_attribute("aria-pressed", "false")
    await expect(mentor.get_by_label("Mark label")).to_have_value("")
    await mentor.get_by_role("button", name="communication", exact=True).click()
    await mentor.get_by_role("button", name="Mark", exact=True).click()

    # --- a line of notes, for the record ----------------------------------------------------------
    await mentor.get_by_role("tab", name="Notes").click()
    await type_at_end(mentor, "History taken.")
    await mentor.keyboard.press("Enter")
    await mentor.keyboard.type("ECG reviewed.")
    await expect(notes_badge(mentor)).to_have_text("Online")

    # --- the Feedback tab: Mini-CEX for the trainee ---------------------------------------------
    form = await open_feedback(mentor)
    await expect(mentor.get_by_label("Trainee")).to_have_value(trainee_user.id)
    marks = mentor.locator(".fb-marks")
    await expect(marks).to_contain_text("Good rapport")
    await expect(marks).to_contain_text("Marked moment [communication]")
    await expect(form).to_contain_text("Norcini JJ")  # the reference, in small print

    await choose(form, "Setting", "Emergency department")
    await saved(mentor)

    # Too early: the server names what is missing, next to each item; the first gets focus.
    await form.get_by_role("button", name="Submit feedback").click()
    complexity = form.get_by_role("radiogroup", name="Complexity", exact=True)
    await expect(complexity).to_have_attribute("aria-invalid", "true")
    await expect(item(form, "complexity").locator(".field-error")).to_have_text("This is required.")
    await expect(complexity.get_by_role("radio").first).to_be_focused()
    described = await complexity.get_attribute("aria-describedby") or ""
    error_id = await item(form, "complexity").locator(".field-error").get_attribute("id")
    assert error_id in described.split()
    await expect(item(form, "comments").get_by_role("textbox")).to_have_attribute(
        "aria-invalid", "true"
    )
    await expect(form.locator(".fb-summary")).to_contain_text("answers need attention")
    await mentor.screenshot(path=str(ARTIFACTS / "feedback-desktop-errors.png"))

    await choose(form, "Complexity", "Moderate")
    await expect(complexity).not_to_have_attribute("aria-invalid", "true")
    for domain, answer in list(DOMAINS.items())[:4]:
        await choose(form, domain, answer)
    await form.get_by_label("Time observing", exact=True).fill("15")
    await saved(mentor)

    # --- half-way, the page reloads: what was typed a moment before is not lost -----------------
    await form.get_by_label(COMMENTS_LABEL, exact=True).fill(COMMENTS)
    stored = await mentor.evaluate(
        "(key) => localStorage.getItem(key)",
        f"preceptor.feedback.{session_id}.{MINI_CEX}.{trainee_user.id}",
    )
    assert stored is not None
    assert COMMENTS in stored
    await mentor.reload()
    await mentor.get_by_role("button", name="Join").click()
    await expect(mentor.get_by_role("button", name="Leave")).to_be_visible()
    form = await open_feedback(mentor)
    await expect(form.get_by_label(COMMENTS_LABEL, exact=True)).to_have_value(COMMENTS)
    for domain, answer in list(DOMAINS.items())[:4]:
        group = form.get_by_role("radiogroup", name=domain, exact=True)
        await expect(group.get_by_role("radio", name=answer, exact=True)).to_be_checked()
    await expect(form.get_by_label("Time observing", exact=True)).to_have_value("15")
    await saved(mentor)

    # --- the rest, with the mark cited as evidence ------------------------------------------------
    for domain, answer in list(DOMAINS.items())[4:]:
        await choose(form, domain, answer)
    await form.get_by_label("Time providing feedback", exact=True).fill("5")
    interviewing = item(form, "medical_interviewing")
    await interviewing.get_by_role("button", name="Cite mark").click()
    await interviewing.get_by_role("checkbox", name=re.compile("Good rapport")).check()
    await expect(interviewing.locator(".fb-cited")).to_have_text(
        re.compile(r"^Cited: \d\d:\d\d · Good rapport$")
    )
    await saved(mentor)
    await mentor.screenshot(path=str(ARTIFACTS / "feedback-desktop-form.png"))
    await form.get_by_role("button", name="Submit feedback").click()
    panel = mentor.locator("#panel-feedback")
    await expect(panel.locator(".fb-save")).to_have_text("Submitted")
    await expect(panel.get_by_role("button", name="Submit feedback")).to_have_count(0)
    await expect(panel.locator('.fb-view-row[data-item="physical_examination"]')).to_contain_text(
        "Not observed"
    )
    await expect(panel.locator('.fb-view-row[data-item="medical_interviewing"]')).to_contain_text(
        "Good rapport"
    )
    await mentor.screenshot(path=str(ARTIFACTS / "feedback-desktop-submitted.png"))
    forms = (await http.get(f"/api/sessions/{session_id}/feedback")).json()
    mini = next(f for f in forms if f["instrument_id"] == MINI_CEX)
    assert mini["status"] == "submitted"
    assert mini["responses"]["physical_examination"] is None
    assert mini["responses"]["medical_interviewing"] == 7
    assert mini["responses"]["comments"] == COMMENTS
    assert len(mini["evidence"]["medical_interviewing"]) == 1

    # --- the trainee: a self-assessment in the same tab, then the record ------------------------
    await trainee.get_by_role("button", name="Chat").click()
    await trainee.get_by_role("tab", name="Feedback").click()
    self_form = trainee.get_by_role("form", name="Self-assessment form")
    await expect(self_form).to_be_visible()
    await expect(self_form.get_by_role("button", name="Cite mark")).to_have_count(0)
    await choose(self_form, "Medical Interviewing Skills", "6")
    await self_form.get_by_label("What I want to work on next", exact=True).fill(
        "Red flags in chest pain."
    )
    await trainee.screenshot(path=str(ARTIFACTS / "feedback-self-assessment-phone.png"))
    await self_form.get_by_role("button", name="Submit feedback").click()
    await expect(trainee.locator("#panel-feedback .fb-save")).to_have_text("Submitted")
    await trainee.get_by_role("button", name="Close panel").click()
    await trainee.get_by_role("button", name="Leave").click()
    await expect(trainee.get_by_role("heading", name="You left the session")).to_be_visible()
    await trainee.get_by_role("link", name="Session record").click()
    await expect(trainee).to_have_url(re.compile(rf"/review/sessions/{session_id}$"))
    await expect(trainee.get_by_role("heading", name="Chest pain history")).to_be_visible()
    await expect(trainee.get_by_role("link", name="Download FHIR")).to_be_hidden()
    await expect(trainee.locator(".fb-record").first).to_be_visible()
    notes = trainee.locator("#notes-text")
    assert await notes.evaluate("(e) => e.innerText") == "History taken.\nECG reviewed."
    assert await notes.evaluate("(e) => getComputedStyle(e).whiteSpace") == "pre-wrap"
    await trainee.screenshot(path=str(ARTIFACTS / "feedback-record-phone-top.png"))

    card = record_card(trainee, "Mini-CEX")
    await expect(card.locator('.fb-view-row[data-item="medical_interviewing"]')).to_contain_text(
        re.compile(r"7 \(superior\).*Mark \+\d\d:\d\d · Good rapport")
    )
    await expect(card.locator('.fb-view-row[data-item="physical_examination"]')).to_contain_text(
        "Not observed"
    )
    # Marks are the mentor's working notes: the trainee sees only the one cited.
    await expect(trainee.locator("#record-marks li")).to_have_text(
        [re.compile(r"^\+\d\d:\d\d · Good rapport \[\+\]$")]
    )
    await expect(trainee.locator("main")).not_to_contain_text("Marked moment")
    # Who wrote what: each run of the notes carries its author.
    await trainee.get_by_role("button", name="Show who wrote what").click()
    await expect(trainee.locator("#notes-legend")).to_contain_text("Test Mentor")
    await expect(trainee.locator("#notes-text span[title='Test Mentor']").first).to_be_visible()
    await trainee.locator("#notes-text").screenshot(
        path=str(ARTIFACTS / "feedback-notes-authors.png")
    )
    await trainee.get_by_role("button", name="Hide who wrote what").click()
    # Who was in the call, from the room's own record.
    await expect(trainee.get_by_role("heading", name="Who was there")).to_be_visible()
    await expect(trainee.locator("#record-people")).to_contain_text("(mentor)")
    await expect(trainee.locator("#record-people")).to_contain_text("(trainee)")
    await choose(card, "Resident/trainee satisfaction with Mini-CEX", "8")
    await card.get_by_label("Reply (optional)").fill("Thank you, I will screen for red flags.")
    await card.get_by_role("button", name="Acknowledge").scroll_into_view_if_needed()
    await trainee.screenshot(path=str(ARTIFACTS / "feedback-record-phone-acknowledge.png"))
    await card.get_by_role("button", name="Acknowledge").click()
    await expect(card.get_by_text(re.compile(r"^Acknowledged on "))).to_be_visible()
    await expect(card.get_by_role("button", name="Acknowledge")).to_have_count(0)
    await expect(card).to_contain_text("Thank you, I will screen for red flags.")
    await expect(card.locator('.fb-view-row[data-item="trainee_satisfaction"]')).to_contain_text(
        "8"
    )
    await expect(record_card(trainee, "Self-assessment")).to_be_visible()
    width = await trainee.evaluate("document.documentElement.scrollWidth")
    assert width <= 360
    await trainee.screenshot(path=str(ARTIFACTS / "feedback-record-phone.png"), full_page=True)

    # --- the supervisor assigned to the trainee countersigns ------------------------------------
    supervisor_context = await browser.new_context(**DESKTOP)
    supervisor = await supervisor_context.new_page()
    watch(supervisor, "supervisor", errors)
    await supervisor.goto(server.url + "/")
    await supervisor.get_by_label("E-mail").fill(supervisor_user.email)
    await supervisor.get_by_label("Password").fill("s3cret-pass!")
    await supervisor.get_by_role("button", name="Sign in").click()
    await expect(supervisor.get_by_role("heading", name="Welcome")).to_be_visible()
    item_on_home = supervisor.get_by_role("listitem").filter(has_text="Chest pain history")
    await item_on_home.get_by_role("link", name="Record").click()
    await expect(supervisor.get_by_role("heading", name="Chest pain history")).to_be_visible()
    await expect(supervisor.locator("#record-marks li")).to_have_count(2)
    await expect(supervisor.locator("#record-marks")).to_contain_text(
        "Marked moment [communication]"
    )
    card = record_card(supervisor, "Mini-CEX")
    await expect(card.get_by_text(re.compile(r"^Acknowledged on "))).to_be_visible()
    await card.get_by_role("button", name="Countersign").click()
    await expect(card.get_by_text(re.compile(r"^Countersigned by .+ on "))).to_be_visible()
    await expect(supervisor.get_by_role("link", name="Download FHIR")).to_have_attribute(
        "href", f"/api/sessions/{session_id}/record.fhir.json"
    )
    await supervisor.screenshot(
        path=str(ARTIFACTS / "feedback-record-supervisor.png"), full_page=True
    )

    # --- the FHIR export -------------------------------------------------------------------------
    export = await http.get(f"/api/sessions/{session_id}/record.fhir.json")
    assert export.status_code == 200, export.text
    bundle = Bundle.model_validate(export.json())
    responses = [
        e.resource
        for e in bundle.entry or []
        if e.resource is not None and e.resource.get_resource_type() == "QuestionnaireResponse"
    ]
    minis = [r for r in responses if f"/Questionnaire/{MINI_CEX}|" in str(r.questionnaire)]
    assert len(minis) == 1, [r.questionnaire for r in responses]
    assert minis[0].status == "completed"
    answered = {question.linkId for group in minis[0].item or [] for question in group.item or []}
    assert {"medical_interviewing", "physical_examination", "comments"} <= answered
    assert "trainee_satisfaction" in answered
    assert errors == []
    await http.aclose()
    await supervisor_context.close()
    await phone.close()
    await desk.close()


async def test_mentor_on_a_phone_marks_and_keeps_feedback_through_an_outage(
    server: RunningServer, browser: Browser
) -> None:
    """At 360 x 640 the Mark control and the Feedback sheet fit, with 48 px touch targets; with the
    network gone an edit says "Not saved — will retry" and is saved once it returns."""
    mentor_user = await server.user(Role.MENTOR)
    trainee_user = await server.user(Role.TRAINEE)
    http = await server.signed_in(mentor_user)
    created = await http.post(
        "/api/sessions", json={"title": "Wound review", "trainee_ids": [trainee_user.id]}
    )
    assert created.status_code == 201, created.text
    session_id = created.json()["id"]
    await http.aclose()
    errors: list[str] = []
    context = await browser.new_context(**SMALL_PHONE)
    mentor = await context.new_page()
    watch(mentor, "mentor", errors)
    await sign_in(mentor, server, mentor_user.email)
    await join_as_mentor(mentor, server, session_id)

    targets = [
        mentor.get_by_role("button", name="Mark", exact=True),
        mentor.get_by_label("Mark label"),
        mentor.get_by_role("button", name="+", exact=True),
        mentor.get_by_role("button", name=MINUS, exact=True),
        mentor.get_by_role("button", name="communication", exact=True),
    ]
    await mentor.get_by_role("button", name="Mark", exact=True).click()
    await expect(mentor.locator("#mark-status")).to_have_text(re.compile(r"^Marked at "))
    await mentor.screenshot(path=str(ARTIFACTS / "feedback-mentor-phone-mark.png"))

    await mentor.get_by_role("button", name="Chat").click()
    form = await open_feedback(mentor)
    await expect(mentor.locator(".fb-marks")).to_contain_text("Marked moment")
    interviewing = item(form, "medical_interviewing")
    targets += [
        interviewing.get_by_role("radio", name="1", exact=True),
        interviewing.get_by_role("radio", name="Not observed"),
        interviewing.get_by_role("button", name="Cite mark"),
        form.get_by_role("radiogroup", name="Setting").get_by_role("radio").first,
        form.get_by_role("button", name="Submit feedback"),
    ]
    for target in targets:
        await target.scroll_into_view_if_needed()
        box = await target.evaluate(
            "(e) => { const r = (e.closest('label.fb-chip, label.fb-option') ?? e)"
            ".getBoundingClientRect(); return [r.width, r.height]; }"
        )
        assert min(box) >= 48, (target, box)

    await choose(form, "Medical Interviewing Skills", "6")
    await saved(mentor)
    await context.set_offline(True)
    await choose(form, "Clinical Judgment", "5")
    await expect(form.get_by_role("status")).to_have_text("Not saved — will retry")
    await mentor.screenshot(path=str(ARTIFACTS / "feedback-mentor-phone-offline.png"))
    await context.set_offline(False)
    await saved(mentor)
    width = await mentor.evaluate("document.documentElement.scrollWidth")
    assert width <= 360

    client = await server.signed_in(mentor_user)
    try:
        forms = (await client.get(f"/api/sessions/{session_id}/feedback")).json()
        assert [f["responses"] for f in forms] == [
            {"medical_interviewing": 6, "clinical_judgment": 5}
        ]
        ended = await client.post(f"/api/sessions/{session_id}/end")
        assert ended.status_code == 200, ended.text
    finally:
        await client.aclose()

    # --- the call is over: the mentor finishes the draft on the record page -----------------------
    await expect(mentor.get_by_role("heading", name="This session has ended")).to_be_visible()
    await mentor.get_by_role("link", name="Session record").click()
    await expect(mentor.get_by_role("heading", name="Wound review")).to_be_visible()
    await expect(mentor.get_by_role("link", name="Download FHIR")).to_be_visible()
    await expect(mentor.locator("#feedback-status")).to_have_text(
        "No feedback has been submitted yet. You have 1 draft not yet submitted."
    )
    form = await open_feedback(mentor, tab=False)
    judgment = form.get_by_role("radiogroup", name="Clinical Judgment", exact=True)
    await expect(judgment.get_by_role("radio", name="5", exact=True)).to_be_checked()
    await choose(form, "Setting", "Ambulatory")
    await choose(form, "Complexity", "Low")
    for domain, answer in DOMAINS.items():
        if domain not in ("Medical Interviewing Skills", "Clinical Judgment"):
            await choose(form, domain, answer)
    await form.get_by_label("Time observing", exact=True).fill("20")
    await form.get_by_label("Time providing feedback", exact=True).fill("10")
    await form.get_by_label(COMMENTS_LABEL, exact=True).fill("Good closure of the wound.")
    await form.get_by_role("button", name="Submit feedback").click()
    await expect(record_card(mentor, "Mini-CEX")).to_contain_text("Good closure of the wound.")
    await expect(mentor.locator("#feedback-status")).to_have_text("")
    width = await mentor.evaluate("document.documentElement.scrollWidth")
    assert width <= 360
    await mentor.screenshot(
        path=str(ARTIFACTS / "feedback-record-mentor-phone.png"), full_page=True
    )
    assert errors == []
    await context.close()
