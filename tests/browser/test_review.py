"""The supervisor's journey in headless Chromium (issue 10, "Proof"): on a 390x844 phone, home →
Review → the countersign queue (next, previous, countersign with a comment) → the trainee's page
→ a point of the Mini-CEX chart (a link, reachable by keyboard) → the session record, landed at
the mark that point's answer cites. Screenshots of /review, the trainee page and the record at
phone and desktop size go to /tmp/shots/review/ (and test-artifacts/)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, Route, expect

from server.infra.roles import Role, User
from session_notes.instruments import check_responses
from tests.browser.devices import DESKTOP, SMALL_PHONE
from tests.browser.test_call import ARTIFACTS
from tests.browser.test_notes import watch
from tests.support import RunningServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

SHOTS = Path("/tmp/shots/review")
AXE = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "axe-core" / "axe.min.js"
# Serious and critical violations, one line each (axe-core from web/node_modules).
RUN_AXE = """async () => {
  const result = await window.axe.run(document, { resultTypes: ["violations"] });
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}"""
DAY = 86_400.0
T0 = 1_780_000_000.0  # 2026-05-28
PASSWORD = "s3cret-pass!"
# Clinical judgment over a dozen weekly sessions; week 3 is the low point, with a marked moment.
JUDGMENT = [4, 5, 3, 5, 6, 6, 7, 5, 6, 7, 7, 8]
LOW = 2


@dataclass
class Seeded:
    supervisor: User
    trainee: User
    sessions: list[str]
    low_mark: str


async def seed(server: RunningServer) -> Seeded:
    """A trainee followed over 12 weekly Mini-CEX sessions by two mentors, plus two EPA
    observations; nothing countersigned yet."""
    svc = server.services
    accounts = svc.accounts

    async def person(name: str, role: Role) -> User:
        email = f"{name.split()[-1].lower()}.{role.value}@example.org"
        return await accounts.create_user(
            email=email, name=name, role=role, password=PASSWORD, actor_id=None
        )

    supervisor = await person("Dr Sue Okafor", Role.SUPERVISOR)
    trainee = await person("Tia Marsh", Role.TRAINEE)
    mentors = [await person("Dr Ana Lund", Role.MENTOR)]
    mentors.append(await person("Dr Ben Roy", Role.MENTOR))
    await svc.store.users.assign(supervisor.id, trainee.id)
    mini = await svc.instruments.get("mini-cex-abim")
    epa = await svc.instruments.get("epa-observation")
    assert mini is not None
    assert epa is not None
    sessions: list[str] = []
    low_mark = ""
    for week, judgment in enumerate(JUDGMENT):
        mentor = mentors[week % 2]
        session = await svc.store.sessions.create(
            title=f"Clinic week {week + 1}",
            mentor_id=mentor.id,
            trainee_ids=[trainee.id],
            media_mode="direct",
            scheduled_for=None,
        )
        start = T0 + week * 7 * DAY
        await svc.store.sessions.mark_live(session.id, now=start)
        await svc.store.sessions.end(session.id, now=start + 1800)
        sessions.append(session.id)
        evidence: dict[str, list[str]] = {}
        if week == LOW:
            mark = await svc.store.marks.add(
                mark_id=f"mark{week:02}",
                session_id=session.id,
                label="missed red flag",
                tags=["safety"],
                at_ms=102_000,
                by_subject=mentor.id,
            )
            low_mark = mark.id
            evidence = {"clinical_judgment": [mark.id]}
        responses = {
            "setting": "inpatient",
            "complexity": "moderate",
            "time_observing_min": 15,
            "time_feedback_min": 5,
            "medical_interviewing": min(9, judgment + 1),
            "physical_examination": None if week % 4 == 0 else judgment,
            "humanistic_professionalism": min(9, judgment + 2),
            "clinical_judgment": judgment,
            "counseling": judgment,
            "organization_efficiency": max(1, judgment - 1),
            "overall_clinical_competence": judgment,
            "comments": f"Week {week + 1}: "
            + ("screen for red flags before closing." if week == LOW else "steady progress."),
        }
        assert check_responses(mini, responses, respondent="mentor", complete=True) == []
        form = await svc.feedback.create(
            session_id=session.id,
            template=mini,
            trainee_id=trainee.id,
            author_id=mentor.id,
            author_name=mentor.name,
            respondent="mentor",
            responses=responses,
            evidence=evidence,
        )
        await svc.feedback.submit(form)
        if week in (5, 10):
            observed = await svc.feedback.create(
                session_id=session.id,
                template=epa,
                trainee_id=trainee.id,
                author_id=mentor.id,
                author_name=mentor.name,
                respondent="mentor",
                responses={
                    "epa": "epa_01",
                    "entrustment_level": 4 if week == 5 else 6,
                    "change": "Summarise before the plan.",
                },
                evidence={},
            )
            await svc.feedback.submit(observed)
    return Seeded(supervisor, trainee, sessions, low_mark)


def _folders() -> tuple[Path, ...]:
    for folder in (SHOTS, ARTIFACTS):
        folder.mkdir(parents=True, exist_ok=True)
    return SHOTS, ARTIFACTS


async def shoot(page: Page, name: str) -> None:
    for folder in _folders():
        await page.screenshot(path=str(folder / f"review-{name}.png"), full_page=True)


async def sign_in(page: Page, server: RunningServer, user: User) -> None:
    await page.goto(server.url + "/")
    await page.get_by_label("E-mail").fill(user.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name=f"Welcome, {user.name}")).to_be_visible()


async def test_supervisor_on_a_phone_from_home_to_the_marked_moment(
    server: RunningServer, browser: Browser
) -> None:
    seeded = await seed(server)
    errors: list[str] = []
    context = await browser.new_context(**SMALL_PHONE)
    page = await context.new_page()
    watch(page, "supervisor", errors)
    await sign_in(page, server, seeded.supervisor)

    # Home → Review: my trainee, with what awaits me.
    await page.get_by_role("link", name="Review your trainees").click()
    await expect(page).to_have_url(re.compile(r"/review$"))
    trainee_link = page.get_by_role("link", name=seeded.trainee.name)
    await expect(trainee_link).to_be_visible()
    await expect(page.locator(".trainee-list")).to_contain_text("12 sessions to date")
    await expect(page.locator(".trainee-list")).to_contain_text("14 awaiting you")

    # The queue, oldest first: forward and back, then countersign with a comment.
    queue = page.locator("#queue")
    await expect(queue.locator("#queue-position")).to_have_text("1 of 14")
    await expect(queue.get_by_role("heading", name=re.compile("^Mini-CEX · Tia"))).to_be_visible()
    await expect(queue).to_contain_text("Clinic week 1")
    await queue.get_by_role("button", name="Next").click()
    await expect(queue.locator("#queue-position")).to_have_text("2 of 14")
    await expect(queue).to_contain_text("Clinic week 2")
    await queue.get_by_role("button", name="Previous").click()
    await expect(queue).to_contain_text("Clinic week 1")
    await shoot(page, "home-phone")
    await queue.get_by_label("Comment (optional)").fill("Agreed; good start.")
    await queue.get_by_role("button", name="Countersign").click()
    await expect(page.locator("#queue-status")).to_have_text(
        "Countersigned. Here is the next one. 13 forms waiting, oldest first."
    )
    await expect(queue.locator("#queue-position")).to_have_text("1 of 13")
    await expect(queue).to_contain_text("Clinic week 2")
    signed = [
        f
        for f in await server.services.feedback.for_session(seeded.sessions[0])
        if f.countersigned_at
    ]
    assert [f.countersign_comment for f in signed] == ["Agreed; good start."]

    # The trainee's page: the Mini-CEX over a dozen sessions, the EPA's count against ~12.
    await trainee_link.click()
    await expect(page.get_by_role("heading", name=seeded.trainee.name, level=1)).to_be_visible()
    await expect(page.get_by_role("heading", name="Mini-CEX", level=2)).to_be_visible()
    await expect(
        page.get_by_text("12 assessments: enough for a reliable judgement")
    ).to_be_visible()
    await expect(
        page.get_by_text("2 of the about 12 assessments a reliable judgement needs.")
    ).to_be_visible()
    chart = page.locator("figure.chart").filter(
        has=page.get_by_role("heading", name="Clinical Judgment", exact=True)
    )
    low = chart.get_by_role("link", name=re.compile(r"^Clinical Judgment: 3 .*cites \+01:42"))
    await expect(low).to_have_count(1)
    box = await chart.locator("svg").bounding_box()
    assert box is not None
    assert box["width"] <= 390
    # Keyboard-reachable, and a point is a link to the record at its mark.
    await low.focus()
    await expect(low).to_be_focused()
    assert seeded.low_mark in (await low.get_attribute("href") or "")
    await shoot(page, "trainee-phone")
    await low.tap()

    # The record, at the marked moment.
    await expect(page).to_have_url(re.compile(rf"/review/sessions/{seeded.sessions[LOW]}#mark-"))
    moment = page.locator(f"#mark-{seeded.low_mark}")
    await expect(moment).to_have_text("+01:42 · missed red flag [safety]")
    await expect(moment).to_have_class(re.compile("landed"))
    await expect(moment).to_be_in_viewport()
    await expect(page.get_by_role("button", name="Countersign")).to_be_visible()
    await shoot(page, "record-phone")
    await context.close()

    # The same pages on a desktop: screenshots, and axe-core finds nothing serious.
    # No service worker here: its fetches would pass by page.route, which stubs the record below.
    desktop = await browser.new_context(**DESKTOP, service_workers="block")
    await desktop.add_init_script(path=str(AXE))
    page = await desktop.new_page()
    watch(page, "desktop", errors)
    await sign_in(page, server, seeded.supervisor)
    problems: dict[str, list[str]] = {}
    await page.goto(server.url + "/review")
    await expect(page.locator("#queue-position")).to_have_text("1 of 13")
    problems["review"] = await page.evaluate(RUN_AXE)
    await shoot(page, "home-desktop")
    await page.goto(server.url + f"/review/trainees/{seeded.trainee.id}")
    await expect(page.locator("figure.chart svg").first).to_be_visible()
    problems["trainee"] = await page.evaluate(RUN_AXE)
    await shoot(page, "trainee-desktop")
    # Filters narrow the page to one instrument, and stay in the address.
    await page.get_by_role("heading", name="Filters").click()
    await page.get_by_label("Instrument").select_option(label="EPA observation")
    await page.get_by_role("button", name="Apply filters").click()
    await expect(page).to_have_url(re.compile(r"\?instrument=epa-observation$"))
    await expect(page.get_by_role("heading", name="Mini-CEX", level=2)).to_have_count(0)
    await expect(page.get_by_role("heading", name="EPA observation", level=2)).to_be_visible()

    # The record's timeline renders the room's chat (its entries as GET …/record gives them).
    await page.route(re.compile(r"/api/sessions/[^/]+/record$"), with_chat)
    await page.goto(server.url + f"/review/sessions/{seeded.sessions[0]}")
    await expect(
        page.get_by_text(re.compile(r"^Countersigned by Dr Sue Okafor on "))
    ).to_be_visible()
    await expect(page.get_by_text("Agreed; good start.")).to_be_visible()
    await expect(page.locator("#record-timeline li")).to_have_text(
        ["+01:00Tia Marsh joined", "+01:35Tia Marsh:Can you repeat the dose?"]
    )
    problems["record"] = await page.evaluate(RUN_AXE)
    await shoot(page, "record-desktop")
    # Printed for a portfolio meeting: the record without the page's controls.
    await page.emulate_media(media="print")
    await expect(page.get_by_role("button", name="Print")).to_be_hidden()
    await expect(page.get_by_role("link", name="Download FHIR")).to_be_hidden()
    await expect(page.get_by_text("Agreed; good start.")).to_be_visible()
    await shoot(page, "record-print")
    await desktop.close()
    assert problems == {"review": [], "trainee": [], "record": []}
    assert errors == []


async def with_chat(route: Route) -> None:
    response = await route.fetch()
    body: dict[str, Any] = await response.json()
    start = body["session"]["started_at"]
    body["timeline"] = [
        {"at": start + 60, "action": "room.join", "who": "Tia Marsh", "detail": {}, "seq": 1},
        {
            "at": start + 95,
            "action": "room.chat",
            "who": "Tia Marsh",
            "detail": {},
            "seq": 2,
            "kind": "chat",
            "text": "Can you repeat the dose?",
            "at_ms": 95_000,
        },
    ]
    await route.fulfill(response=response, json=body)


async def test_a_returned_form_goes_back_to_its_mentor_who_revises_it(
    server: RunningServer, browser: Browser
) -> None:
    seeded = await seed(server)
    errors: list[str] = []
    context = await browser.new_context(**DESKTOP)
    page = await context.new_page()
    watch(page, "supervisor", errors)
    await sign_in(page, server, seeded.supervisor)
    await page.goto(server.url + "/review")
    queue = page.locator("#queue")
    await expect(queue).to_contain_text("Clinic week 1")
    await queue.get_by_role("button", name="Return to the mentor…").click()
    await expect(queue.get_by_role("button", name="Return to the mentor…")).to_have_attribute(
        "aria-expanded", "true"
    )
    # Returning needs a reason: said before anything is sent.
    await queue.get_by_role("button", name="Return to mentor", exact=True).click()
    await expect(queue.get_by_role("alert")).to_have_text(
        "Say what the mentor should change, then return the form."
    )
    await queue.get_by_label("What should the mentor change?").fill("Rate the examination.")
    await queue.get_by_role("button", name="Return to mentor", exact=True).click()
    await expect(page.locator("#queue-status")).to_have_text(
        "Returned to Dr Ana Lund. Here is the next one. 13 forms waiting, oldest first."
    )
    await context.close()

    # The mentor reads the reason on the record and revises the form (an amendment).
    mentor = next(u for u in await server.services.store.users.all(Role.MENTOR))
    context = await browser.new_context(**DESKTOP)
    page = await context.new_page()
    watch(page, "mentor", errors)
    await sign_in(page, server, mentor)
    await page.goto(server.url + f"/review/sessions/{seeded.sessions[0]}")
    card = page.locator(".fb-record").first
    await expect(
        card.get_by_text(re.compile(r"^Returned to the mentor by Dr Sue Okafor on "))
    ).to_be_visible()
    await expect(card.get_by_text("Rate the examination.")).to_be_visible()
    await card.get_by_role("button", name="Revise and resubmit").click()
    form = page.get_by_role("form", name="Mini-CEX form")
    await expect(form).to_be_visible()
    await (
        form.get_by_role("radiogroup", name="Physical Examination Skills", exact=True)
        .get_by_role("radio", name="5", exact=True)
        .check()
    )
    await form.get_by_role("button", name="Submit feedback").click()
    original = page.locator(f".fb-record[data-form='{card_id(await card.get_attribute('id'))}']")
    await expect(
        original.get_by_text(re.compile(r"^Replaced by a revision submitted on "))
    ).to_be_visible()
    await context.close()

    forms = await server.services.feedback.for_session(seeded.sessions[0])
    revision = next(f for f in forms if f.amends_id is not None)
    assert revision.status == "submitted"
    assert revision.responses["physical_examination"] == 5
    assert errors == []


def card_id(element_id: str | None) -> str:
    return (element_id or "").removeprefix("form-")


async def test_a_program_lead_sees_the_programs_numbers(
    server: RunningServer, browser: Browser
) -> None:
    seeded = await seed(server)
    admin = await server.services.accounts.create_user(
        email="lead@example.org", name="Pat Lead", role=Role.ADMIN, password=PASSWORD, actor_id=None
    )
    errors: list[str] = []
    problems: dict[str, list[str]] = {}
    for name, options in (("phone", SMALL_PHONE), ("desktop", DESKTOP)):
        context = await browser.new_context(**options)
        await context.add_init_script(path=str(AXE))
        page = await context.new_page()
        watch(page, f"admin on {name}", errors)
        await sign_in(page, server, admin)
        await page.goto(server.url + "/review")
        await page.get_by_role("link", name="The program's numbers").click()
        await expect(page.get_by_role("heading", name="The program's numbers")).to_be_visible()
        figures = page.locator("#overall")
        await expect(figures).to_contain_text("Sessions held12")
        await expect(figures).to_contain_text("Feedback completion12 sessions (100 %)")
        await expect(figures).to_contain_text("Countersign backlog14")
        trainees = page.locator("#trainee-months")
        await expect(trainees.get_by_role("row", name=re.compile("^Tia Marsh"))).to_contain_text(
            "12"
        )
        await expect(page.locator("#entrustment")).to_contain_text("EPA 1")
        problems[name] = await page.evaluate(RUN_AXE)
        await shoot(page, f"program-{name}")
        if name == "desktop":
            await page.goto(server.url + f"/review/trainees/{seeded.trainee.id}")
            await expect(page.locator("#coaching")).to_contain_text("Sessions with feedback12")
            await shoot(page, "trainee-admin-desktop")
        await context.close()
    assert problems == {"phone": [], "desktop": []}
    assert errors == []
