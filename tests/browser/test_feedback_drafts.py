"""Feedback drafts when a form is closed or opened again while one of its requests is on the wire.

Each race is made to happen the same way on every run: Playwright's routing holds a request in
the browser (a save, a submit) or reads a request from the server at once and holds its answer
back (the list of drafts), and the test releases them in the order the race needs. The mentor
works on the record page of a session that has ended, where the Mini-CEX opens by itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page, Request, Route, expect

from server.infra.roles import Role, User
from tests.browser.devices import DESKTOP
from tests.browser.test_call import sign_in
from tests.browser.test_feedback import MINI_CEX, choose, mini_cex, record_card
from tests.browser.test_notes import watch
from tests.support import RunningServer, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

SAVES = "**/api/feedback/*"  # PUT: a draft's answers (the glob stops at "/": not /submit)
ALREADY_SAVED = {"medical_interviewing": 7}
COMPLETE = {
    "setting": "ed",
    "complexity": "moderate",
    "medical_interviewing": 7,
    "physical_examination": None,
    "humanistic_professionalism": 8,
    "clinical_judgment": 6,
    "counseling": 5,
    "organization_efficiency": 6,
    "overall_clinical_competence": 7,
    "time_observing_min": 15,
    "time_feedback_min": 5,
    "comments": "Clear history.",
}
WAIT_S = 10.0
# The service worker fetches the API's GETs itself, out of the page's routing; for these requests
# it only passes the server's answer on (sw.js), so the pages here run without it.
ROUTED: dict[str, Any] = {**DESKTOP, "service_workers": "block"}


@dataclass
class Scene:
    mentor: User
    http: httpx.AsyncClient  # the mentor, through the API
    record_url: str  # the session's record page
    form_id: str


async def ended_session_with_draft(
    server: RunningServer, responses: dict[str, Any] | None
) -> Scene:
    """A session that has ended, with the mentor's Mini-CEX draft holding `responses` (None: no
    draft yet; `form_id` is then empty)."""
    mentor = await server.user(Role.MENTOR)
    trainee = await server.user(Role.TRAINEE)
    http = await server.signed_in(mentor)
    created = await http.post(
        "/api/sessions", json={"title": "Chest pain history", "trainee_ids": [trainee.id]}
    )
    assert created.status_code == 201, created.text
    session_id = created.json()["id"]
    form_id = ""
    if responses is not None:
        draft = await http.post(
            f"/api/sessions/{session_id}/feedback",
            json={"instrument_id": MINI_CEX, "trainee_id": trainee.id, "responses": responses},
        )
        assert draft.status_code == 201, draft.text
        form_id = draft.json()["id"]
    ended = await http.post(f"/api/sessions/{session_id}/end")
    assert ended.status_code == 200, ended.text
    return Scene(mentor, http, f"{server.url}/review/sessions/{session_id}", form_id)


async def server_holds(scene: Scene, expected: dict[str, Any]) -> bool:
    form = (await scene.http.get(f"/api/feedback/{scene.form_id}")).json()
    responses: dict[str, Any] = form["responses"]
    return all(key in responses and responses[key] == value for key, value in expected.items())


async def mentor_tab(
    context: BrowserContext,
    server: RunningServer,
    scene: Scene,
    errors: list[str],
    *routes: tuple[str, Callable[[Route], Any]],
    who: str = "mentor",
) -> Page:
    """A tab of the mentor's, signed in, its page errors collected in ``errors``, with the
    test's ``routes`` (pattern, handler) in place before anything is sent (the last one is
    tried first, as Playwright does)."""
    page = await context.new_page()
    watch(page, who, errors)
    for pattern, handler in routes:
        await page.route(pattern, handler)
    await sign_in(page, server, scene.mentor.email)
    return page


async def record_form(page: Page, scene: Scene) -> Locator:
    """The record page's feedback panel, with the Mini-CEX opened (it opens by itself)."""
    await page.goto(scene.record_url)
    form = mini_cex(page)
    await expect(form).to_be_visible()
    return form


def answer(form: Locator, group: str, option: str) -> Locator:
    return form.get_by_role("radiogroup", name=group, exact=True).get_by_role(
        "radio", name=option, exact=True
    )


async def pick(page: Page, instrument: str) -> None:
    await page.get_by_label("Instrument").select_option(label=instrument)


async def answered(page: Page, request: Request) -> None:
    """Wait until the page has the whole answer to `request`, then let one turn of its event loop
    run, so that what the page does with that answer (the save's callbacks) has happened. The
    turn is a zero-delay task, not a timed wait: the answer's body reached the page before it."""
    response = await request.response()
    assert response is not None
    await response.finished()
    await page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 0))")


class Valve:
    """Requests held in the browser until `open()`; once open, later ones pass at once. With
    `hold=1` only the first is held."""

    def __init__(self, *, hold: int | None = None, method: str | None = None) -> None:
        self.hold = hold
        self.method = method  # only requests of this method; others go to the next route
        self.held: list[Request] = []
        self.passed: list[Request] = []
        self.arrived = asyncio.Event()  # the first request is held
        self.opened = asyncio.Event()

    async def handle(self, route: Route) -> None:
        if self.method is not None and route.request.method != self.method:
            await route.fallback()
            return
        if self.opened.is_set() or (self.hold is not None and len(self.held) >= self.hold):
            self.passed.append(route.request)
            await route.continue_()
            return
        self.held.append(route.request)
        self.arrived.set()
        await self.opened.wait()
        await route.continue_()

    async def first_held(self) -> Request:
        await asyncio.wait_for(self.arrived.wait(), WAIT_S)
        return self.held[0]

    def open(self) -> None:
        self.opened.set()


class StaleRead:
    """Once armed, the next request is read from the server at once but its answer reaches the
    page only on `release()`: the page sees the server as it was when it asked."""

    def __init__(self) -> None:
        self.armed = False
        self.read = asyncio.Event()
        self.released = asyncio.Event()

    async def handle(self, route: Route) -> None:
        if not self.armed or route.request.method != "GET":
            await route.continue_()
            return
        self.armed = False
        response = await route.fetch()
        self.read.set()
        await self.released.wait()
        await route.fulfill(response=response)

    def release(self) -> None:
        self.released.set()


async def test_answers_restored_from_the_device_survive_the_form_opened_again(
    server: RunningServer, browser: Browser
) -> None:
    """CI saw this after a reload: the form restores the answers this device kept and saves them;
    the mentor picks another instrument and back before that save answers, and the list of drafts
    the form opens with was read before the save was stored. The restored answer stays."""
    scene = await ended_session_with_draft(server, ALREADY_SAVED)
    errors: list[str] = []
    context = await browser.new_context(**ROUTED)

    # --- one tab: "Not observed" is picked while no save reaches the server ---------------------
    offline = await mentor_tab(
        context, server, scene, errors, (SAVES, lambda route: route.abort()), who="offline tab"
    )
    form = await record_form(offline, scene)
    await choose(form, "Physical Examination Skills", "Not observed")
    await expect(form.get_by_role("status")).to_have_text("Not saved — will retry")

    # --- another tab of the same browser restores it; its save is held ---------------------------
    page = await context.new_page()
    watch(page, "mentor", errors)
    saves = Valve()
    drafts = StaleRead()
    await page.route(SAVES, saves.handle)
    await page.route("**/api/sessions/*/feedback", drafts.handle)
    form = await record_form(page, scene)
    await expect(form.locator(".fb-restored")).to_be_visible()
    restore_save = await saves.first_held()

    # --- another instrument and back while that save is on the wire -----------------------------
    await pick(page, "DOPS")
    await expect(page.get_by_role("form", name="DOPS form")).to_be_visible()
    drafts.armed = True
    await pick(page, "Mini-CEX")
    await asyncio.wait_for(drafts.read.wait(), WAIT_S)  # the server's copy, before the save
    saves.open()
    await answered(page, restore_save)
    drafts.release()

    form = mini_cex(page)
    await expect(answer(form, "Physical Examination Skills", "Not observed")).to_be_checked()
    await expect(answer(form, "Medical Interviewing Skills", "7")).to_be_checked()
    await expect(form.get_by_role("status")).to_have_text("Saved")
    await wait_for(
        lambda: server_holds(scene, {"medical_interviewing": 7, "physical_examination": None}),
        timeout=WAIT_S,
    )
    assert errors == []
    await context.close()
    await scene.http.aclose()


async def test_a_form_closed_while_saving_leaves_the_server_its_newest_answers(
    server: RunningServer, browser: Browser
) -> None:
    """An answer is being saved when the mentor gives another and at once picks another
    instrument: the closed form sends its newest answers, and the server must not end up with
    the older save that was still on the wire. The mentor's other device shows both answers."""
    scene = await ended_session_with_draft(server, ALREADY_SAVED)
    errors: list[str] = []
    context = await browser.new_context(**ROUTED)
    saves = Valve(hold=1)
    page = await mentor_tab(context, server, scene, errors, (SAVES, saves.handle))
    form = await record_form(page, scene)

    await choose(form, "Clinical Judgment", "6")
    first_save = await saves.first_held()
    await choose(form, "Physical Examination Skills", "Not observed")
    await expect(form.get_by_role("status")).to_have_text("Saving…")
    await pick(page, "DOPS")
    await expect(page.get_by_role("form", name="DOPS form")).to_be_visible()
    # What the closed form sent beside the held save has reached the server.
    for request in saves.passed:
        await answered(page, request)
    saves.open()
    await answered(page, first_save)
    newest = {"medical_interviewing": 7, "clinical_judgment": 6, "physical_examination": None}
    await wait_for(lambda: server_holds(scene, newest), timeout=WAIT_S)

    other = await browser.new_context(**DESKTOP)
    device = await other.new_page()
    watch(device, "other device", errors)
    await sign_in(device, server, scene.mentor.email)
    form = await record_form(device, scene)
    await expect(form.locator(".fb-restored")).to_be_hidden()
    await expect(answer(form, "Clinical Judgment", "6")).to_be_checked()
    await expect(answer(form, "Physical Examination Skills", "Not observed")).to_be_checked()
    assert errors == []
    await other.close()
    await context.close()
    await scene.http.aclose()


async def test_a_form_opened_again_before_its_first_save_answered_keeps_one_draft(
    server: RunningServer, browser: Browser
) -> None:
    """The first answer creates the draft; the mentor picks another instrument and back before
    the server has answered, and the form opens with a list of drafts read before the draft was
    stored. Its answers go to that draft: the record counts one draft, not two."""
    scene = await ended_session_with_draft(server, None)
    errors: list[str] = []
    context = await browser.new_context(**ROUTED)
    drafts = StaleRead()
    creates = Valve(method="POST")
    # The later route is tried first: creates are held, the list of drafts is read stale.
    page = await mentor_tab(
        context,
        server,
        scene,
        errors,
        ("**/api/sessions/*/feedback", drafts.handle),
        ("**/api/sessions/*/feedback", creates.handle),
    )
    form = await record_form(page, scene)
    await expect(page.locator("#feedback-status")).to_have_text(
        "No feedback has been submitted yet."
    )

    await choose(form, "Physical Examination Skills", "Not observed")
    create = await creates.first_held()
    await pick(page, "DOPS")
    await expect(page.get_by_role("form", name="DOPS form")).to_be_visible()
    drafts.armed = True
    await pick(page, "Mini-CEX")
    await asyncio.wait_for(drafts.read.wait(), WAIT_S)  # no draft on the server yet
    creates.open()
    await answered(page, create)
    drafts.release()
    form = mini_cex(page)
    await expect(answer(form, "Physical Examination Skills", "Not observed")).to_be_checked()
    await expect(form.get_by_role("status")).to_have_text("Saved")

    await page.reload()
    await expect(page.locator("#feedback-status")).to_have_text(
        "No feedback has been submitted yet. You have 1 draft not yet submitted."
    )
    form = mini_cex(page)
    await expect(answer(form, "Physical Examination Skills", "Not observed")).to_be_checked()
    assert errors == []
    await context.close()
    await scene.http.aclose()


async def test_a_form_submitted_after_another_was_opened_leaves_that_one_open(
    server: RunningServer, browser: Browser
) -> None:
    """The mentor submits the Mini-CEX and picks DOPS before the submit answers: the record lists
    the submitted Mini-CEX, and the DOPS form the mentor opened stays open."""
    scene = await ended_session_with_draft(server, COMPLETE)
    errors: list[str] = []
    context = await browser.new_context(**ROUTED)
    submits = Valve()
    page = await mentor_tab(
        context, server, scene, errors, (f"**/api/feedback/{scene.form_id}/submit", submits.handle)
    )
    form = await record_form(page, scene)

    await form.get_by_role("button", name="Submit feedback").click()
    submit = await submits.first_held()
    await pick(page, "DOPS")
    dops = page.get_by_role("form", name="DOPS form")
    await expect(dops).to_be_visible()
    submits.open()
    await answered(page, submit)

    await expect(record_card(page, "Mini-CEX")).to_contain_text("Clear history.")
    await expect(dops).to_be_visible()
    await expect(page.locator("#give-panel .fb-submitted")).to_have_count(0)
    assert errors == []
    await context.close()
    await scene.http.aclose()


async def test_a_save_on_the_wire_as_the_mentor_leaves_never_overwrites_the_newer_answers(
    server: RunningServer, browser: Browser
) -> None:
    """The mentor answers, answers again while that save is on the wire, and leaves the page: it
    sends the newest answers at once (keepalive) beside the save on the wire, and the two may land
    in either order. Here the older lands last: the server refuses it as stale and keeps the
    newer answers."""
    scene = await ended_session_with_draft(server, ALREADY_SAVED)
    errors: list[str] = []
    context = await browser.new_context(**ROUTED)
    on_the_wire = OnTheWire()
    page = await mentor_tab(context, server, scene, errors, (SAVES, on_the_wire.handle))
    form = await record_form(page, scene)

    await choose(form, "Clinical Judgment", "6")
    older = await on_the_wire.taken()
    await choose(form, "Physical Examination Skills", "Not observed")
    await expect(form.get_by_role("status")).to_have_text("Saving…")
    await page.goto(f"{server.url}/")  # the mentor leaves: pagehide
    newest = {"medical_interviewing": 7, "clinical_judgment": 6, "physical_examination": None}
    await wait_for(lambda: server_holds(scene, newest), timeout=WAIT_S)

    # The save that was on the wire lands now, after the newer one.
    late = await scene.http.put(
        f"/api/feedback/{scene.form_id}",
        content=older,
        headers={"Content-Type": "application/json"},
    )
    assert late.status_code == 409, late.text
    assert late.json()["error"] == "stale"
    assert await server_holds(scene, newest)
    assert errors == []
    await context.close()
    await scene.http.aclose()


async def test_a_page_back_from_the_cache_takes_the_stale_answer_as_saved(
    server: RunningServer, browser: Browser
) -> None:
    """The same race on a page that comes back (pagehide, then the back-forward cache): the save
    that was on the wire is refused as stale once the newer one has landed. The page knows a
    newer save is there: "Saved", no error, and the server keeps the newest answers."""
    scene = await ended_session_with_draft(server, ALREADY_SAVED)
    errors: list[str] = []
    context = await browser.new_context(**ROUTED)
    saves = Valve(hold=1)
    page = await mentor_tab(context, server, scene, errors, (SAVES, saves.handle))
    form = await record_form(page, scene)

    await choose(form, "Clinical Judgment", "6")
    older = await saves.first_held()
    await choose(form, "Physical Examination Skills", "Not observed")
    await expect(form.get_by_role("status")).to_have_text("Saving…")
    await page.evaluate(
        "() => dispatchEvent(new PageTransitionEvent('pagehide', { persisted: true }))"
    )
    newest = {"medical_interviewing": 7, "clinical_judgment": 6, "physical_examination": None}
    await wait_for(lambda: server_holds(scene, newest), timeout=WAIT_S)
    for request in saves.passed:
        await answered(page, request)

    saves.open()
    await answered(page, older)
    response = await older.response()
    assert response is not None
    assert response.status == 409
    await expect(form.get_by_role("status")).to_have_text("Saved")
    await expect(form.locator(".fb-summary")).to_be_hidden()
    assert await server_holds(scene, newest)
    assert errors == []
    await context.close()
    await scene.http.aclose()


class OnTheWire:
    """The page's first save is taken off its wire and never answered, as one still on its way
    to the server when the page is left; the test sends its body on later (`taken()`). Later
    saves pass."""

    def __init__(self) -> None:
        self.body: bytes | None = None
        self.arrived = asyncio.Event()

    async def handle(self, route: Route) -> None:
        if self.body is not None:
            await route.continue_()
            return
        self.body = route.request.post_data_buffer or b""
        self.arrived.set()
        # Unanswered: the page leaves with it pending, and the browser drops it then.

    async def taken(self) -> bytes:
        await asyncio.wait_for(self.arrived.wait(), WAIT_S)
        assert self.body is not None
        return self.body
